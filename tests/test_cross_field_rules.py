"""Rules that tie fields together, and URLs an agent publishes or hands to a vendor, are
checked when the parameters are built: a request that would fail halfway (after X and
LinkedIn had published) is refused before any connector is called, in one line, with
nothing recorded; forms flag the field before Generate."""

from __future__ import annotations

from pathlib import Path

import pytest

from neonhub_nb.agents.ads import AdsParams
from neonhub_nb.agents.insights import InsightsParams
from neonhub_nb.agents.social import SocialParams
from neonhub_nb.errors import InvalidInputError
from neonhub_nb.models import field_errors

from .audit_support import neonhub, one_error_line

INSTAGRAM_RULE = "image_url: is required to publish on Instagram"


def _nothing_written(db: Path) -> None:
    spool = db.with_name(db.name + ".spool")
    segments = list(spool.glob("*.jsonl")) if spool.exists() else []
    assert all(path.stat().st_size == 0 for path in segments), segments
    assert not db.exists()


def test_publishing_on_instagram_without_an_image_is_refused_before_anything_runs(
    tmp_path: Path,
) -> None:
    # The issue-style example: it used to post on X and LinkedIn, then fail.
    db = tmp_path / "s.duckdb"
    result = neonhub("run", "social.compose_posts", "-p", "message=Hi", "-p", "publish=true",
                     db=db)  # fmt: skip
    assert result.returncode == 2
    assert one_error_line(result).startswith(f"error: {INSTAGRAM_RULE}")
    _nothing_written(db)


def test_the_rule_holds_only_when_it_applies() -> None:
    assert SocialParams(message="Hi", publish=True, networks=("x", "linkedin")).publish
    assert SocialParams(message="Hi", networks=("instagram",)).networks == ("instagram",)
    given = SocialParams(message="Hi", publish=True, image_url="https://example.com/a.png")
    assert given.image_url == "https://example.com/a.png"


def test_forms_flag_the_field_a_rule_names() -> None:
    errors = field_errors(SocialParams, {"message": "Hi", "publish": True})
    rule = "is required to publish on Instagram (or leave it out of networks)"
    assert errors == {"image_url": rule}
    assert field_errors(SocialParams, {"message": "Hi", "publish": False}) == {}


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        (SocialParams, "link", "not a url"),
        (SocialParams, "link", "javascript:alert(1)"),
        (SocialParams, "image_url", "file:///etc/passwd"),
        (AdsParams, "final_url", "ftp://x"),
        (AdsParams, "final_url", "https://"),
    ],
)
def test_urls_must_be_http_with_a_host(model: type, field: str, value: str) -> None:
    base = {"message": "Hi"} if model is SocialParams else {"product": "p", "primary_keyword": "k"}
    with pytest.raises(InvalidInputError) as caught:
        model(**base, **{field: value})
    assert str(caught.value).startswith(f"{field}: must be an http:// or https:// URL")
    assert field_errors(model, {**base, field: value})[field].startswith("must be an http")


def test_good_urls_and_empty_optional_ones_pass() -> None:
    assert SocialParams(message="Hi", link="https://shop.example/p?x=1").link
    assert SocialParams(message="Hi", link="  ").link is None
    assert AdsParams(product="p", primary_keyword="k", final_url="http://a.example").final_url


@pytest.mark.parametrize(
    ("model", "given", "line"),
    [
        (SocialParams, {"message": "Hi", "publish": "maybe"}, "publish: must be true or false"),
        (InsightsParams, {"end_date": "2026-02-31"}, "end_date: must be a date as YYYY-MM-DD"),
        (InsightsParams, {"end_date": "2099-01-01"}, "end_date: must not be after"),
        (SocialParams, {"message": 5}, "message: must be text (got int)"),
    ],
)
def test_every_refusal_is_one_line_naming_the_field_and_rule(
    model: type, given: dict[str, object], line: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        model(**given)
    assert str(caught.value).startswith(line)
    assert "\n" not in str(caught.value) and "Input should" not in str(caught.value)
