"""``ads.generate_variants``: responsive search ad variants within Google Ads limits."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from ..errors import AgentError, InvalidInputError
from ..models import AgentParams, Metric, check_http_url
from .base import AgentContext, AgentOutput, DraftOutput
from .catalog import AgentSpec
from .prompts import PromptTemplate
from .structured import check_lengths, edited_fields, parse_fields, title_case

__all__ = [
    "DESCRIPTION_LIMIT",
    "HEADLINE_LIMIT",
    "PROMPTS",
    "SPEC",
    "AdsAgent",
    "AdsParams",
    "check_edit",
    "mock_writer",
]

HEADLINE_LIMIT = 30  # Google Ads responsive search ads: characters per headline
DESCRIPTION_LIMIT = 90  # characters per description
MIN_HEADLINES, MIN_DESCRIPTIONS = 3, 2  # what Google requires per ad


class AdsParams(AgentParams):
    product: str = Field(min_length=1, max_length=200)
    primary_keyword: str = Field(min_length=1, max_length=80)
    audience: str = Field(default="small businesses", min_length=1, max_length=200)
    final_url: str = Field(default="https://example.com", min_length=1, max_length=500)
    variants: int = Field(default=2, ge=1, le=5)

    @field_validator("final_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return check_http_url("final_url", value) or value


PROMPTS = (
    PromptTemplate(
        name="ads.rsa",
        version="v1",
        task="ads",
        system="You write Google Ads copy. Answer only with the labelled lines asked for.",
        instructions=(
            "Write {variants} responsive search ad variants for {product} ({primary_keyword}) "
            "aimed at {audience}. Each variant: 3-15 headlines of at most 30 characters and 2-4 "
            "descriptions of at most 90 characters.\n"
            "Answer as: VARIANT: n, then HEADLINE: ... lines, then DESCRIPTION: ... lines."
        ),
    ),
)


class AdsAgent:
    name = "ads"

    def run(self, params: AdsParams, ctx: AgentContext) -> AgentOutput:
        prompt = ctx.prompt("ads.rsa")
        answer = ctx.complete(prompt.render(params.model_dump(mode="json")), max_tokens=800)
        blocks = [b for b in answer.text.split("VARIANT:")[1:] if b.strip()]
        if not blocks:
            raise AgentError("the model's answer has no VARIANT block")
        ads, dropped = [], 0
        for block in blocks[: params.variants]:
            fields = parse_fields(block, ("HEADLINE", "DESCRIPTION"))
            heads = [h.strip() for h in fields["HEADLINE"].splitlines() if h.strip()]
            descs = [d.strip() for d in fields["DESCRIPTION"].splitlines() if d.strip()]
            # Over-long copy is rejected by Google, so it is dropped here, not truncated.
            kept_h = [h for h in heads if len(h) <= HEADLINE_LIMIT][:15]
            kept_d = [d for d in descs if len(d) <= DESCRIPTION_LIMIT][:4]
            dropped += len(heads) - len(kept_h) + len(descs) - len(kept_d)
            if len(kept_h) >= MIN_HEADLINES and len(kept_d) >= MIN_DESCRIPTIONS:
                ads.append(
                    {"headlines": kept_h, "descriptions": kept_d, "final_url": params.final_url}
                )
        if not ads:
            raise AgentError(
                f"no variant met Google Ads limits ({MIN_HEADLINES}+ headlines of "
                f"<= {HEADLINE_LIMIT} chars, {MIN_DESCRIPTIONS}+ descriptions of "
                f"<= {DESCRIPTION_LIMIT} chars)"
            )
        output = {"variants": ads, "dropped_over_limit": dropped}
        content = "\n\n".join(
            f"VARIANT: {number}\n"
            + "\n".join(f"HEADLINE: {h}" for h in ad["headlines"])
            + "\n"
            + "\n".join(f"DESCRIPTION: {d}" for d in ad["descriptions"])
            for number, ad in enumerate(ads, 1)
        )
        return AgentOutput(
            output=output,
            draft=DraftOutput(
                title=str(ads[0]["headlines"][0]),
                content=content,
                metadata={"kind": "ads", "output": output},
                primary_keyword=params.primary_keyword,
            ),
            metrics=(
                Metric(name="ad_variants", value=len(ads), unit="ads"),
                Metric(name="ad_lines_dropped", value=dropped, unit="lines"),
            ),
        )


def check_edit(content: str) -> str:
    """A reviewer's edit of the ads: ``VARIANT:`` blocks of 3-15 headlines of at most 30
    characters and 2-4 descriptions of at most 90 (Google's limits). Returns the title."""
    blocks = [b for b in content.split("VARIANT:")[1:] if b.strip()]
    if not blocks:
        raise InvalidInputError("content", "the edit has no VARIANT block")
    first = ""
    for block in blocks:
        fields = edited_fields(block, ("HEADLINE", "DESCRIPTION"))
        heads = [h.strip() for h in fields["HEADLINE"].splitlines() if h.strip()]
        descs = [d.strip() for d in fields["DESCRIPTION"].splitlines() if d.strip()]
        check_lengths("headline", heads, HEADLINE_LIMIT)
        check_lengths("description", descs, DESCRIPTION_LIMIT)
        if not (MIN_HEADLINES <= len(heads) <= 15 and MIN_DESCRIPTIONS <= len(descs) <= 4):
            raise InvalidInputError(
                "content", "each variant needs 3-15 headlines and 2-4 descriptions"
            )
        first = first or heads[0]
    return first


# Headline and description angles the mock model draws from; each variant takes its own,
# so variants differ the way a real model's do (not only in order).
_HOOKS = (
    "Start Free Today",
    "Save Time Now",
    "Built For Teams",
    "See It In Action",
    "Results In A Week",
    "No Setup Needed",
    "Loved By Marketers",
    "Book A Demo Today",
)
_PROOFS = (
    "Set up in minutes. No credit card required.",
    "Trusted by growing teams. Start your free trial.",
    "Cancel anytime. Friendly support included.",
    "Join thousands of small businesses today.",
)


def mock_writer(brief: Mapping[str, Any], seed: int) -> str:
    """The mock model's deterministic answer to this agent's brief."""
    rng = random.Random(seed)
    product = title_case(str(brief.get("product", "Product")))
    keyword = title_case(str(brief.get("primary_keyword", product)))
    audience = str(brief.get("audience", "teams"))
    hooks = rng.sample(_HOOKS, len(_HOOKS))
    proofs = rng.sample(_PROOFS, len(_PROOFS))
    blocks = []
    for index in range(int(brief.get("variants", 2))):
        heads = [
            keyword,
            f"Try {product}",
            hooks[(2 * index) % len(hooks)],
            hooks[(2 * index + 1) % len(hooks)],
            f"{product} For {title_case(audience)}",
        ]
        rng.shuffle(heads)
        descs = [
            f"{product} helps {audience} get more from {keyword.lower()}.",
            proofs[index % len(proofs)],
        ]
        blocks.append(
            f"VARIANT: {index + 1}\n"
            + "\n".join(f"HEADLINE: {h}" for h in heads)
            + "\n"
            + "\n".join(f"DESCRIPTION: {d}" for d in descs)
        )
    return "\n".join(blocks) + "\n"


SPEC = AgentSpec(
    intent="ads.generate_variants",
    agent="ads",
    params_model=AdsParams,
    factory=AdsAgent,
    description="Responsive search ad variants within Google Ads limits",
    prompt_name="ads.rsa",
    prompts=PROMPTS,
    mock_writers={"ads": mock_writer},
    check_edit=check_edit,
)
