"""``insights.summarize_performance``: GA4 and Search Console numbers, summarised."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

from pydantic import Field, field_validator

from ..connectors.ga4 import GA4Connector
from ..connectors.gsc import SearchConsoleConnector
from ..errors import InvalidInputError
from ..models import AgentParams, Metric
from .base import AgentContext, AgentOutput
from .catalog import AgentSpec
from .prompts import PromptTemplate
from .structured import parse_fields, split_list

__all__ = ["PROMPTS", "SPEC", "InsightsAgent", "InsightsParams", "mock_writer", "summarise_numbers"]


class InsightsParams(AgentParams):
    days: int = Field(default=28, ge=1, le=365, description="Length of the period to report")
    end_date: date | None = Field(default=None, description="Last day reported (default today)")
    audience: str = Field(default="the marketing team", min_length=1, max_length=200)

    @field_validator("end_date")
    @classmethod
    def _not_in_the_future(cls, value: date | None) -> date | None:
        # Analytics has no numbers for days to come; mock mode would invent them. "Today"
        # is the UTC date, the trail's clock (a day of slack for zones ahead of UTC).
        latest = datetime.now(UTC).date() + timedelta(days=1)
        if value is not None and value > latest:
            raise InvalidInputError(
                "end_date", f"must not be after {latest.isoformat()} (got {value.isoformat()})"
            )
        return value


PROMPTS = (
    PromptTemplate(
        name="insights.summary",
        version="v1",
        task="insights",
        system="You are a marketing analyst. Use only the numbers given. Answer with the "
        "labelled lines asked for.",
        instructions=(
            "Summarise the last {days} days of website and search performance for {audience} "
            "from the numbers in the brief, then list three actions.\n"
            "Answer exactly as:\nSUMMARY: ...\nACTIONS: a, b, c"
        ),
    ),
)


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def summarise_numbers(
    current: list[dict[str, Any]], previous: list[dict[str, Any]], queries: list[dict[str, Any]]
) -> dict[str, Any]:
    """Totals and period-over-period change, computed here so the model never does maths."""
    sessions = sum(_number(r.get("sessions")) for r in current)
    before = sum(_number(r.get("sessions")) for r in previous)
    return {
        "sessions": int(sessions),
        "active_users": int(sum(_number(r.get("activeUsers")) for r in current)),
        "sessions_previous": int(before),
        "sessions_change_pct": round(100 * (sessions - before) / before, 1) if before else 0.0,
        "clicks": int(sum(_number(q.get("clicks")) for q in queries)),
        "impressions": int(sum(_number(q.get("impressions")) for q in queries)),
    }


class InsightsAgent:
    name = "insights"

    def run(self, params: InsightsParams, ctx: AgentContext) -> AgentOutput:
        end = params.end_date or ctx.clock.now().date()
        start = end - timedelta(days=params.days)
        before = start - timedelta(days=params.days)
        ga4 = cast(GA4Connector, ctx.connector("ga4"))
        current = ga4.run_report(str(start), str(end), max_pages=3)
        previous = ga4.run_report(str(before), str(start - timedelta(days=1)), max_pages=3)
        queries = cast(SearchConsoleConnector, ctx.connector("gsc")).search_analytics(
            str(start), str(end), row_limit=100, max_pages=1
        )
        totals = summarise_numbers(current, previous, queries)
        top = sorted(queries, key=lambda q: -_number(q.get("clicks")))[:5]
        prompt = ctx.prompt("insights.summary")
        brief = {**params.model_dump(mode="json"), "totals": totals, "top_queries": top}
        answer = ctx.complete(prompt.render(brief), temperature=0.2, max_tokens=400)
        fields = parse_fields(answer.text, ("SUMMARY",), multiline=("SUMMARY", "ACTIONS"))
        return AgentOutput(
            output={
                "totals": totals,
                "top_queries": [q.get("query") for q in top],
                "summary": fields["SUMMARY"].strip(),
                "actions": split_list(fields.get("ACTIONS", "")),
            },
            metrics=(
                Metric(name="sessions", value=totals["sessions"], unit="sessions"),
                Metric(name="search_clicks", value=totals["clicks"], unit="clicks"),
            ),
        )


def mock_writer(brief: Mapping[str, Any], seed: int) -> str:
    """The mock model's deterministic answer to this agent's brief."""
    totals = brief.get("totals", {})
    queries = brief.get("top_queries", [])
    top = queries[0]["query"] if queries else "no queries"
    change = totals.get("sessions_change_pct", 0)
    direction = "up" if change >= 0 else "down"
    return (
        f"SUMMARY: Sessions were {direction} {abs(change):.1f}% against the previous period "
        f"({totals.get('sessions', 0):,} in total). Search brought "
        f"{totals.get('clicks', 0):,} clicks; the leading query was '{top}'.\n"
        f"ACTIONS: Double down on '{top}', refresh pages with falling clicks, "
        "test a new title on the top landing page\n"
    )


SPEC = AgentSpec(
    intent="insights.summarize_performance",
    agent="insights",
    params_model=InsightsParams,
    factory=InsightsAgent,
    description="GA4 and Search Console numbers, summarised",
    prompt_name="insights.summary",
    prompts=PROMPTS,
    mock_writers={"insights": mock_writer},
)
