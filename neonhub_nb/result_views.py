"""Each agent's output as its users think of it: HTML for notebooks, plain text for the CLI.

A run's ``output`` (``agent_runs.output``) is a dict whose shape each agent defines; these
views turn it into what a social editor, an ads buyer or an email marketer reads: posts per
network with their length against the network's limit, ad headlines and descriptions
against Google Ads limits, subject lines and body, SEO title, meta description and keywords,
an insights summary with its computed totals, an article's facts and text.

One :class:`OutputView` per agent (``AGENT_VIEWS``), looked up by the run's ``agent``; an
agent without one (registered from a notebook) is shown as its output's JSON. The views
read only the recorded output and draft, never the agent's code, so the CLI, the widgets
and a read-only dashboard can all use them.

>>> print(output_text("social", {"posts": {"x": "Hello"}}))
X  5/280 characters
  Hello
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import RunResult
    from .store.queries import RunDetail

__all__ = [
    "AD_DESCRIPTION_LIMIT",
    "AD_HEADLINE_LIMIT",
    "AGENT_VIEWS",
    "EMAIL_SUBJECT_LIMIT",
    "SEO_META_LIMIT",
    "SEO_TITLE_LIMIT",
    "SOCIAL_LIMITS",
    "Draft",
    "OutputView",
    "detail_output_text",
    "output_html",
    "output_text",
    "result_output_html",
    "result_output_text",
]

# The platforms' published limits, as the agents enforce them (agents/social.py LIMITS,
# agents/ads.py, agents/email.py, agents/seo.py). Repeated here so readers of the store
# (CLI, dashboard) need not import agent code; tests/test_result_views.py keeps them equal.
SOCIAL_LIMITS: Mapping[str, int] = MappingProxyType({"x": 280, "linkedin": 3000, "instagram": 2200})
AD_HEADLINE_LIMIT = 30
AD_DESCRIPTION_LIMIT = 90
AD_HEADLINES_REQUIRED = (3, 15)
AD_DESCRIPTIONS_REQUIRED = (2, 4)
EMAIL_SUBJECT_LIMIT = 78
SEO_TITLE_LIMIT = 60
SEO_META_LIMIT = 160

_NETWORK_NAMES = {"x": "X", "linkedin": "LinkedIn", "instagram": "Instagram"}
_OK, _OVER, _MUTED = "#1a7f37", "#cf222e", "#57606a"


@dataclass(frozen=True)
class Draft:
    """The reviewable text of a run (``content_drafts``), when it has one."""

    title: str | None = None
    content: str | None = None
    metadata: Mapping[str, Any] | None = None


HtmlView = Callable[[Mapping[str, Any], Draft], str]
TextView = Callable[[Mapping[str, Any], Draft], str]


@dataclass(frozen=True)
class OutputView:
    """How one agent's output reads: ``html(output, draft)`` and ``text(output, draft)``."""

    agent: str
    html: HtmlView
    text: TextView


# ------------------------------------------------------------------ helpers
def _esc(value: object) -> str:
    return html.escape(str(value))


def _count(length: int, limit: int) -> str:
    """``123/280 characters`` in green, or red with how far over."""
    colour = _OK if length <= limit else _OVER
    over = f" (over by {length - limit})" if length > limit else ""
    return (
        f"<span class='nh-count' style='color:{colour};font-size:12px;white-space:nowrap'>"
        f"{length}/{limit} characters{over}</span>"
    )


def _count_text(length: int, limit: int) -> str:
    over = f" OVER BY {length - limit}" if length > limit else ""
    return f"{length}/{limit} characters{over}"


def _meter(length: int, limit: int) -> str:
    share = min(1.0, length / limit) if limit else 1.0
    colour = _OK if length <= limit else _OVER
    return (
        "<div style='height:4px;background:#eaeef2;border-radius:2px;margin:2px 0 6px'>"
        f"<div style='height:4px;width:{share * 100:.1f}%;background:{colour};"
        "border-radius:2px'></div></div>"
    )


def _box(title: str, body: str, aside: str = "") -> str:
    return (
        "<div class='nh-output-box' style='border:1px solid #d0d7de;border-radius:6px;"
        "padding:8px 10px;margin:6px 0'>"
        "<div style='display:flex;justify-content:space-between;gap:12px'>"
        f"<b>{title}</b>{aside}</div>{body}</div>"
    )


def _pre(text: str) -> str:
    return (
        f"<div style='white-space:pre-wrap;font-family:inherit;line-height:1.45'>{_esc(text)}</div>"
    )


def _note(text: str) -> str:
    return f"<div style='color:{_MUTED};font-size:12px'>{text}</div>"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence):
        return [str(item) for item in value if item is not None]
    return []


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


def _number(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "-" if value is None else str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return str(value)


def _check(ok: Any) -> str:
    colour, word = (_OK, "yes") if ok else (_OVER, "no")
    return f"<span style='color:{colour}'>{word}</span>"


def _facts(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(
        f"<div><span style='color:{_MUTED};font-size:12px'>{_esc(k)}</span><br>{v}</div>"
        for k, v in rows
    )
    return (
        "<div style='display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));"
        f"gap:6px 12px;margin:6px 0'>{cells}</div>"
    )


# ------------------------------------------------------------------ content
def _article_facts(draft: Draft, output: Mapping[str, Any]) -> list[tuple[str, str]]:
    meta = dict(draft.metadata or {})
    words = meta.get("word_count", output.get("word_count"))
    target = meta.get("target_word_count")
    rows = []
    if words is not None:
        rows.append(("words", f"{_number(words)}" + (f" of {_number(target)}" if target else "")))
    if "reading_time_min" in meta:
        rows.append(("reading time", f"{_number(meta['reading_time_min'])} min"))
    for key, label in (
        ("keyword_in_title", "keyword in title"),
        ("keyword_in_first_paragraph", "keyword in first paragraph"),
    ):
        if key in meta:
            rows.append((label, "yes" if meta[key] else "no"))
    if "keyword_count" in meta:
        rows.append(("keyword uses", _number(meta["keyword_count"])))
    if meta.get("headings"):
        rows.append(("sections", _number(len(meta["headings"]))))
    return rows


def _content_html(output: Mapping[str, Any], draft: Draft) -> str:
    title = draft.title or output.get("title") or ""
    facts = _article_facts(draft, output)
    body = _facts([(k, _esc(v)) for k, v in facts]) if facts else ""
    return _box(f"Article: {_esc(title)}", body)


def _content_text(output: Mapping[str, Any], draft: Draft) -> str:
    title = draft.title or output.get("title") or ""
    lines = [f"ARTICLE  {title}"]
    facts = _article_facts(draft, output)
    if facts:
        lines.append("  " + " | ".join(f"{k}: {v}" for k, v in facts))
    if draft.content:
        lines += ["", draft.content.rstrip()]
    return "\n".join(lines)


# ------------------------------------------------------------------ social
def _posts(output: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    posts = output.get("posts")
    if not isinstance(posts, Mapping):
        return []
    return [(str(n), str(text), SOCIAL_LIMITS.get(str(n), 0)) for n, text in posts.items()]


def _social_html(output: Mapping[str, Any], draft: Draft) -> str:
    published = output.get("published") or {}
    boxes = []
    for network, text, limit in _posts(output):
        name = _NETWORK_NAMES.get(network, network)
        aside = _count(len(text), limit) if limit else ""
        body = (_meter(len(text), limit) if limit else "") + _pre(text)
        if network in published:
            body += _note(f"published: {_esc(published[network])}")
        boxes.append(_box(_esc(name), body, aside))
    return "".join(boxes) or "<p>No posts.</p>"


def _social_text(output: Mapping[str, Any], draft: Draft) -> str:
    published = output.get("published") or {}
    blocks = []
    for network, text, limit in _posts(output):
        name = _NETWORK_NAMES.get(network, network).upper()
        head = f"{name}  {_count_text(len(text), limit)}" if limit else name
        if network in published:
            head += f"  published: {published[network]}"
        blocks.append(f"{head}\n{_indent(text)}")
    return "\n\n".join(blocks) or "No posts."


# --------------------------------------------------------------------- ads
def _lines_table(lines: list[str], limit: int, label: str) -> str:
    rows = "".join(
        f"<tr><td style='padding:2px 8px 2px 0'>{_esc(line)}</td>"
        f"<td style='text-align:right'>{_count(len(line), limit)}</td></tr>"
        for line in lines
    )
    return (
        f"<div style='color:{_MUTED};font-size:12px;margin-top:4px'>{label}</div>"
        f"<table style='border-collapse:collapse;width:100%'>{rows}</table>"
    )


def _required(count: int, bounds: tuple[int, int], what: str) -> str:
    low, high = bounds
    ok = low <= count <= high
    colour = _OK if ok else _OVER
    return (
        f"<span style='color:{colour};font-size:12px'>{count} {what} (Google: {low}-{high})</span>"
    )


def _ads_html(output: Mapping[str, Any], draft: Draft) -> str:
    boxes = []
    for index, ad in enumerate(output.get("variants") or [], start=1):
        heads, descs = _strings(ad.get("headlines")), _strings(ad.get("descriptions"))
        aside = (
            _required(len(heads), AD_HEADLINES_REQUIRED, "headlines")
            + " &middot; "
            + _required(len(descs), AD_DESCRIPTIONS_REQUIRED, "descriptions")
        )
        body = _lines_table(
            heads, AD_HEADLINE_LIMIT, f"Headlines (max {AD_HEADLINE_LIMIT})"
        ) + _lines_table(descs, AD_DESCRIPTION_LIMIT, f"Descriptions (max {AD_DESCRIPTION_LIMIT})")
        if ad.get("final_url"):
            body += _note(f"final URL: {_esc(ad['final_url'])}")
        boxes.append(_box(f"Ad variant {index}", body, aside))
    dropped = int(output.get("dropped_over_limit") or 0)
    note = (
        f"<p style='color:{_MUTED};font-size:12px'>{dropped} line(s) the model wrote over "
        "Google's limits were dropped.</p>"
        if dropped
        else ""
    )
    return ("".join(boxes) or "<p>No ad variants.</p>") + note


def _ads_text(output: Mapping[str, Any], draft: Draft) -> str:
    blocks = []
    for index, ad in enumerate(output.get("variants") or [], start=1):
        heads, descs = _strings(ad.get("headlines")), _strings(ad.get("descriptions"))
        lines = [f"AD VARIANT {index}  {len(heads)} headlines, {len(descs)} descriptions"]
        lines += [f"  H  {h}  [{_count_text(len(h), AD_HEADLINE_LIMIT)}]" for h in heads]
        lines += [f"  D  {d}  [{_count_text(len(d), AD_DESCRIPTION_LIMIT)}]" for d in descs]
        if ad.get("final_url"):
            lines.append(f"  final URL: {ad['final_url']}")
        blocks.append("\n".join(lines))
    dropped = int(output.get("dropped_over_limit") or 0)
    if dropped:
        blocks.append(f"{dropped} line(s) over Google's limits were dropped.")
    return "\n\n".join(blocks) or "No ad variants."


# ------------------------------------------------------------------- email
def _email_html(output: Mapping[str, Any], draft: Draft) -> str:
    subjects = _strings(output.get("subject_lines"))
    rows = _lines_table(subjects, EMAIL_SUBJECT_LIMIT, "Subject lines (inboxes show about 78)")
    parts = [_box("Subject lines", rows)]
    if output.get("preview"):
        parts.append(_box("Preview text", _pre(str(output["preview"]))))
    parts.append(_box("Body", _pre(str(output.get("body") or ""))))
    sent = _strings(output.get("sent_message_ids"))
    if sent:
        parts.append(f"<p style='color:{_MUTED};font-size:12px'>sent: {_esc(', '.join(sent))}</p>")
    return "".join(parts)


def _email_text(output: Mapping[str, Any], draft: Draft) -> str:
    subjects = _strings(output.get("subject_lines"))
    lines = ["SUBJECT LINES"]
    lines += [
        f"  {i}. {s}  [{_count_text(len(s), EMAIL_SUBJECT_LIMIT)}]"
        for i, s in enumerate(subjects, start=1)
    ]
    if output.get("preview"):
        lines += ["PREVIEW", _indent(str(output["preview"]))]
    lines += ["BODY", _indent(str(output.get("body") or ""))]
    sent = _strings(output.get("sent_message_ids"))
    if sent:
        lines.append(f"sent: {', '.join(sent)}")
    return "\n".join(lines)


# --------------------------------------------------------------------- seo
def _chips(items: list[str]) -> str:
    return "".join(
        "<span style='display:inline-block;background:#ddf4ff;border-radius:10px;"
        f"padding:1px 8px;margin:2px 4px 2px 0;font-size:12px'>{_esc(item)}</span>"
        for item in items
    )


def _seo_html(output: Mapping[str, Any], draft: Draft) -> str:
    title, meta = str(output.get("title") or ""), str(output.get("meta_description") or "")
    parts = [
        _box(
            "SEO title",
            _meter(len(title), SEO_TITLE_LIMIT) + _pre(title),
            _count(len(title), SEO_TITLE_LIMIT),
        ),
        _box(
            "Meta description",
            _meter(len(meta), SEO_META_LIMIT) + _pre(meta),
            _count(len(meta), SEO_META_LIMIT),
        ),
        _box(
            "Keywords",
            _chips(_strings(output.get("keywords")))
            + f"<div style='font-size:12px'>primary keyword in title: "
            f"{_check(output.get('keyword_in_title'))}</div>",
        ),
    ]
    queries = _strings(output.get("top_queries"))
    if queries:
        parts.append(_box("Search Console queries used", _chips(queries)))
    return "".join(parts)


def _seo_text(output: Mapping[str, Any], draft: Draft) -> str:
    title, meta = str(output.get("title") or ""), str(output.get("meta_description") or "")
    lines = [
        f"TITLE  [{_count_text(len(title), SEO_TITLE_LIMIT)}]",
        _indent(title),
        f"META DESCRIPTION  [{_count_text(len(meta), SEO_META_LIMIT)}]",
        _indent(meta),
        f"KEYWORDS  {', '.join(_strings(output.get('keywords')))}",
        f"primary keyword in title: {'yes' if output.get('keyword_in_title') else 'no'}",
    ]
    queries = _strings(output.get("top_queries"))
    if queries:
        lines.append(f"Search Console queries used: {', '.join(queries)}")
    return "\n".join(lines)


# ---------------------------------------------------------------- insights
_TOTALS = (
    ("sessions", "sessions"),
    ("sessions_previous", "sessions, previous period"),
    ("sessions_change_pct", "change in sessions"),
    ("active_users", "active users"),
    ("clicks", "search clicks"),
    ("impressions", "search impressions"),
)


def _totals(output: Mapping[str, Any]) -> list[tuple[str, str]]:
    totals = output.get("totals") or {}
    rows = []
    for key, label in _TOTALS:
        if key not in totals:
            continue
        value = totals[key]
        text = f"{float(value):+.1f}%" if key == "sessions_change_pct" else _number(value)
        rows.append((label, text))
    return rows


def _insights_html(output: Mapping[str, Any], draft: Draft) -> str:
    facts = _facts([(k, f"<b>{_esc(v)}</b>") for k, v in _totals(output)])
    parts = [
        _box("Totals (computed from GA4 and Search Console, not by the model)", facts),
        _box("Summary", _pre(str(output.get("summary") or ""))),
    ]
    actions = _strings(output.get("actions"))
    if actions:
        items = "".join(f"<li>{_esc(a)}</li>" for a in actions)
        parts.append(_box("Actions", f"<ol style='margin:4px 0'>{items}</ol>"))
    queries = _strings(output.get("top_queries"))
    if queries:
        parts.append(_box("Top queries", _chips(queries)))
    return "".join(parts)


def _insights_text(output: Mapping[str, Any], draft: Draft) -> str:
    width = max((len(label) for label, _ in _totals(output)), default=0)
    lines = ["TOTALS (computed from GA4 and Search Console)"]
    lines += [f"  {label:<{width}}  {value:>12}" for label, value in _totals(output)]
    lines += ["SUMMARY", _indent(str(output.get("summary") or ""))]
    actions = _strings(output.get("actions"))
    if actions:
        lines.append("ACTIONS")
        lines += [f"  {i}. {a}" for i, a in enumerate(actions, start=1)]
    queries = _strings(output.get("top_queries"))
    if queries:
        lines.append(f"TOP QUERIES  {', '.join(queries)}")
    return "\n".join(lines)


# -------------------------------------------------------------------- eval
def _judge_html(output: Mapping[str, Any], draft: Draft) -> str:
    score = output.get("score")
    return _box(f"Judge score: {_esc(score)}/5", _pre(str(output.get("reason") or "")))


def _judge_text(output: Mapping[str, Any], draft: Draft) -> str:
    return f"JUDGE SCORE  {output.get('score')}/5\n{_indent(str(output.get('reason') or ''))}"


# ----------------------------------------------------------------- generic
def _generic_html(output: Mapping[str, Any], draft: Draft) -> str:
    text = json.dumps(dict(output), indent=2, ensure_ascii=False, default=str)
    return _box("Output", f"<pre style='white-space:pre-wrap;margin:0'>{_esc(text)}</pre>")


def _generic_text(output: Mapping[str, Any], draft: Draft) -> str:
    return json.dumps(dict(output), indent=2, ensure_ascii=False, default=str)


#: The view of each built-in agent, by agent name (``agent_runs.agent``).
AGENT_VIEWS: Mapping[str, OutputView] = MappingProxyType(
    {
        view.agent: view
        for view in (
            OutputView("content", _content_html, _content_text),
            OutputView("social", _social_html, _social_text),
            OutputView("ads", _ads_html, _ads_text),
            OutputView("email", _email_html, _email_text),
            OutputView("seo", _seo_html, _seo_text),
            OutputView("insights", _insights_html, _insights_text),
            OutputView("eval", _judge_html, _judge_text),
        )
    }
)
_GENERIC = OutputView("", _generic_html, _generic_text)


def _view(agent: str) -> OutputView:
    return AGENT_VIEWS.get(agent, _GENERIC)


def output_html(
    agent: str,
    output: Mapping[str, Any] | None,
    *,
    title: str | None = None,
    content: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """HTML of ``agent``'s ``output`` (and its draft's ``title``/``content``/``metadata``),
    wrapped in ``<div class="neonhub-output neonhub-output-<agent>">``; ``""`` for an empty
    output (a failed run). Every value is escaped."""
    if not output and not content:
        return ""
    body = _view(agent).html(output or {}, Draft(title, content, metadata))
    cls = f"neonhub-output neonhub-output-{html.escape(agent or 'generic')}"
    return f"<div class='{cls}' style='max-width:900px'>{body}</div>"


def output_text(
    agent: str,
    output: Mapping[str, Any] | None,
    *,
    title: str | None = None,
    content: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> str:
    """Plain text of ``agent``'s ``output`` for a terminal (``neonhub-nb show``); ``""``
    for an empty output. Lengths are counted in characters (code points), as the agents
    count them against each limit."""
    if not output and not content:
        return ""
    return _view(agent).text(output or {}, Draft(title, content, metadata))


def result_output_html(result: RunResult) -> str:
    """:func:`output_html` of a :class:`~neonhub_nb.models.RunResult`."""
    return output_html(
        result.agent,
        result.output,
        title=result.title,
        content=result.content,
        metadata=result.metadata,
    )


def result_output_text(result: RunResult) -> str:
    """:func:`output_text` of a :class:`~neonhub_nb.models.RunResult`."""
    return output_text(
        result.agent,
        result.output,
        title=result.title,
        content=result.content,
        metadata=result.metadata,
    )


def detail_output_text(detail: RunDetail) -> str:
    """:func:`output_text` of a run read back from the store (``store.run_detail(run_id)``):
    what ``neonhub-nb show RUN_ID`` prints as the run's output."""
    draft = detail.draft or {}
    metadata = draft.get("metadata")
    return output_text(
        str(detail.run.get("agent") or ""),
        detail.run.get("output") or {},
        title=draft.get("title"),
        content=draft.get("content"),
        metadata=metadata if isinstance(metadata, Mapping) else None,
    )
