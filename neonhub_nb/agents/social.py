"""``social.compose_posts``: posts for X, LinkedIn and Instagram within each network's
limits; optionally published through their connectors."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, Literal, cast

from pydantic import Field, ValidationInfo, field_validator

from ..connectors.instagram import InstagramConnector
from ..connectors.linkedin import LinkedInConnector
from ..connectors.x import XConnector
from ..models import AgentParams, Metric, check_http_url
from .base import AgentContext, AgentOutput, DraftOutput
from .catalog import AgentSpec
from .prompts import PromptTemplate
from .structured import check_lengths, edited_fields, fit, parse_fields

__all__ = [
    "LIMITS",
    "PROMPTS",
    "SPEC",
    "SocialAgent",
    "SocialParams",
    "check_edit",
    "mock_writer",
]

Network = Literal["x", "linkedin", "instagram"]
# Characters each network accepts in one post (X: 280 for standard accounts).
LIMITS: dict[str, int] = {"x": 280, "linkedin": 3000, "instagram": 2200}


class SocialParams(AgentParams):
    message: str = Field(min_length=1, max_length=1000, description="What to announce")
    networks: tuple[Network, ...] = Field(default=("x", "linkedin", "instagram"), min_length=1)
    link: str | None = Field(default=None, max_length=500)
    hashtags: tuple[str, ...] = Field(default=(), max_length=10)
    image_url: str | None = Field(
        default=None,
        max_length=1000,
        description="Public image URL (required to publish on Instagram)",
    )
    publish: bool = False

    @field_validator("link", "image_url")
    @classmethod
    def _http_urls(cls, value: str | None, info: ValidationInfo) -> str | None:
        return check_http_url(str(info.field_name), value)

    def cross_field_rules(self) -> dict[str, str]:
        if self.publish and "instagram" in self.networks and not self.image_url:
            # Refused here, not when Instagram's turn comes: X and LinkedIn would have
            # published already, and a retry would publish them twice.
            return {
                "image_url": "is required to publish on Instagram (or leave it out of networks)"
            }
        return {}


PROMPTS = (
    PromptTemplate(
        name="social.posts",
        version="v1",
        task="social",
        system="You are a social media editor. Answer only with the labelled lines asked for.",
        instructions=(
            "Write one post per network for: {message}. Respect the limits (X 280 characters, "
            "LinkedIn 3000, Instagram 2200) and include the link and hashtags from the brief.\n"
            "Answer with one labelled block per network: X: ..., LINKEDIN: ..., INSTAGRAM: ..."
        ),
    ),
)

_KEYS = {"x": "X", "linkedin": "LINKEDIN", "instagram": "INSTAGRAM"}


class SocialAgent:
    name = "social"

    def run(self, params: SocialParams, ctx: AgentContext) -> AgentOutput:
        prompt = ctx.prompt("social.posts")
        answer = ctx.complete(prompt.render(params.model_dump(mode="json")), max_tokens=900)
        keys = [_KEYS[n] for n in params.networks]
        fields = parse_fields(answer.text, keys, multiline=keys)
        posts = {n: fit(fields[_KEYS[n]], LIMITS[n]) for n in params.networks}
        published: dict[str, str] = {}
        if params.publish:
            for network, text in posts.items():
                if network == "x":
                    x = cast(XConnector, ctx.connector("x"))
                    published[network] = str(x.post(text)["id"])
                elif network == "linkedin":
                    linkedin = cast(LinkedInConnector, ctx.connector("linkedin"))
                    published[network] = str(linkedin.create_post(text)["id"])
                elif network == "instagram" and params.image_url:  # required (cross_field_rules)
                    instagram = cast(InstagramConnector, ctx.connector("instagram"))
                    result = instagram.publish_image(params.image_url, text)
                    published[network] = str(result["id"])
        output = {
            "posts": posts,
            "lengths": {n: len(t) for n, t in posts.items()},
            "published": published,
        }
        return AgentOutput(
            output=output,
            draft=DraftOutput(
                title=fit(params.message, 80),
                content="\n\n".join(f"{_KEYS[n]}: {text}" for n, text in posts.items()),
                metadata={"kind": "social", "output": output},
            ),
            metrics=(Metric(name="posts_published", value=len(published), unit="posts"),),
        )


def check_edit(content: str) -> str:
    """A reviewer's edit of the posts: labelled blocks (``X: ...``), each within its
    network's limit. Returns the draft's title (the first post's opening)."""
    present = [key for key in _KEYS.values() if f"{key}:" in content]
    fields = edited_fields(content, present or ["X"], multiline=list(_KEYS.values()))
    for network, key in _KEYS.items():
        if key in fields:
            check_lengths(f"the {key} post", [fields[key].strip()], LIMITS[network])
    return fit(next(iter(fields.values())).strip(), 80)


def mock_writer(brief: Mapping[str, Any], seed: int) -> str:
    """The mock model's deterministic answer to this agent's brief."""
    rng = random.Random(seed)
    message = str(brief.get("message", "Something new"))
    tags = " ".join(f"#{t.replace(' ', '')}" for t in brief.get("hashtags", [])[:3])
    link = str(brief.get("link") or "")
    parts = []
    for network in brief.get("networks", []):
        if network == "x":
            parts.append(f"X: {message} {link} {tags}".strip())
        elif network == "linkedin":
            lead = rng.choice(["Here is what we learned", "Three takeaways", "Why it matters"])
            parts.append(
                f"LINKEDIN: {message}\n\n{lead}: start small, measure, repeat. "
                f"{link} {tags}".strip()
            )
        elif network == "instagram":
            parts.append(f"INSTAGRAM: {message} ✨ {tags}".strip())
    return "\n".join(parts) + "\n"


SPEC = AgentSpec(
    intent="social.compose_posts",
    agent="social",
    params_model=SocialParams,
    factory=SocialAgent,
    description="Posts for X, LinkedIn and Instagram; can publish them",
    prompt_name="social.posts",
    prompts=PROMPTS,
    mock_writers={"social": mock_writer},
    check_edit=check_edit,
)
