"""``email.compose_campaign``: subject lines and a body; optionally sent through Gmail."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any, cast

from pydantic import EmailStr, Field

from ..connectors.email import GmailConnector
from ..models import AgentParams, Metric, Tone
from .base import AgentContext, AgentOutput, DraftOutput
from .catalog import AgentSpec
from .prompts import PromptTemplate
from .structured import check_lengths, edited_fields, fit, parse_fields, title_case

__all__ = [
    "PROMPTS",
    "SPEC",
    "EmailAgent",
    "EmailCampaignParams",
    "check_edit",
    "mock_writer",
]

SUBJECT_LIMIT = 78  # characters most inboxes show


class EmailCampaignParams(AgentParams):
    product: str = Field(min_length=1, max_length=200)
    goal: str = Field(min_length=1, max_length=200, description="What the email should achieve")
    audience: str = Field(default="customers", min_length=1, max_length=200)
    tone: Tone = "friendly"
    call_to_action: str = Field(default="Reply to this email", min_length=1, max_length=120)
    subject_lines: int = Field(default=3, ge=1, le=5)
    send_to: tuple[EmailStr, ...] = Field(
        default=(), max_length=50, description="Recipients; empty = draft only"
    )


PROMPTS = (
    PromptTemplate(
        name="email.campaign",
        version="v1",
        task="email",
        system="You are an email marketer. Answer only with the labelled lines asked for.",
        instructions=(
            "Write a {tone} marketing email about {product} for {audience}. Goal: {goal}. "
            "Call to action: {call_to_action}. Give {subject_lines} subject lines.\n"
            "Answer exactly as:\nSUBJECT: ... (one line per subject)\nPREVIEW: ...\nBODY: ..."
        ),
    ),
)


class EmailAgent:
    name = "email"

    def run(self, params: EmailCampaignParams, ctx: AgentContext) -> AgentOutput:
        prompt = ctx.prompt("email.campaign")
        answer = ctx.complete(prompt.render(params.model_dump(mode="json")), max_tokens=600)
        fields = parse_fields(answer.text, ("SUBJECT", "BODY"), multiline=("BODY", "PREVIEW"))
        subjects = [fit(s, SUBJECT_LIMIT) for s in fields["SUBJECT"].splitlines() if s.strip()]
        subjects = subjects[: params.subject_lines]
        body = fields["BODY"].strip()
        sent: list[str] = []
        if params.send_to:
            gmail = cast(GmailConnector, ctx.connector("email"))
            result = gmail.send_email(list(params.send_to), subjects[0], body)
            sent.append(str(result["id"]))
        output = {
            "subject_lines": subjects,
            "preview": fields.get("PREVIEW", "").strip(),
            "body": body,
            "sent_message_ids": sent,
        }
        content = "\n".join(
            [*(f"SUBJECT: {s}" for s in subjects), f"PREVIEW: {output['preview']}", f"BODY: {body}"]
        )
        return AgentOutput(
            output=output,
            draft=DraftOutput(
                title=subjects[0] if subjects else params.product,
                content=content,
                metadata={"kind": "email", "output": output},
            ),
            metrics=(
                Metric(
                    name="emails_sent", value=len(params.send_to) if sent else 0, unit="recipients"
                ),
            ),
        )


def mock_writer(brief: Mapping[str, Any], seed: int) -> str:
    """The mock model's deterministic answer to this agent's brief."""
    rng = random.Random(seed)
    product = str(brief.get("product", "our product"))
    goal = str(brief.get("goal", "try it"))
    subjects = [
        f"{title_case(product)}: {goal}",
        f"A quick idea for {brief.get('audience', 'you')}",
        f"Why teams switch to {product}",
        f"Last chance: {goal}",
        f"{rng.choice(['New', 'Just in', 'Now live'])}: {product}",
    ]
    count = int(brief.get("subject_lines", 3))
    lines = [f"SUBJECT: {s}" for s in subjects[:count]]
    benefit = rng.choice(
        ["save hours every week", "ship campaigns faster", "grow with less effort"]
    )
    body = (
        f"Hi there,\n\n{title_case(product)} helps {brief.get('audience', 'teams')} {benefit}."
        f"\n\n{brief.get('call_to_action', 'Reply to this email')} today.\n\nThanks,\n"
        "The team"
    )
    return "\n".join([*lines, f"PREVIEW: {goal} in minutes, not weeks", f"BODY: {body}"]) + "\n"


def check_edit(content: str) -> str:
    """A reviewer's edit of the email: ``SUBJECT:`` lines (at most 78 characters, what
    inboxes show) and a ``BODY:``. Returns the first subject line as the title."""
    fields = edited_fields(content, ("SUBJECT", "BODY"), multiline=("BODY", "PREVIEW"))
    subjects = [s.strip() for s in fields["SUBJECT"].splitlines() if s.strip()]
    check_lengths("subject line", subjects, SUBJECT_LIMIT)
    return subjects[0]


SPEC = AgentSpec(
    intent="email.compose_campaign",
    agent="email",
    params_model=EmailCampaignParams,
    factory=EmailAgent,
    description="Email subject lines and body; can send through Gmail",
    prompt_name="email.campaign",
    prompts=PROMPTS,
    mock_writers={"email": mock_writer},
    check_edit=check_edit,
)
