"""``neonhub-nb``: a thin command line over the library.

Each command loads settings, opens the store and calls one library function. Errors
print one line (``error: <field>: <rule>``, or what is wrong with the store and what to
do) and exit 2; no traceback walls. A read that could not ingest first says so on
stderr (``note: showing the last ingested state ...``).

What the CLI prints passes one redaction boundary: its output, its errors (click's usage
errors too: a value that looks like a secret is hidden, never quoted) and every log
record (a stderr handler with a :class:`~neonhub_nb.redaction.RedactingFilter`), all
through the settings' redactor (``Runtime.redactor``). Streamed tokens are redacted by
the orchestrator before they reach ``--stream``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .config import MODE_TABLE, load_settings
from .errors import NeonhubError, StoreError
from .formats import format_cost
from .records import RUN_STATUSES
from .redaction import HIDDEN_SECRET, RedactingFilter, Redactor, safe_value

if TYPE_CHECKING:
    from .store.maintenance import PruneReport

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
# A quoted value in click's usage errors ('sk-...' is not one of ...), and a bare word.
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")
_WORD = re.compile(r"[^\s'\"()\[\],;]{12,}")


def _redactor() -> Redactor:
    """The settings' redactor; when the settings cannot be read (the error being printed
    may say why), one that knows the environment's secret-looking variables."""
    from .runtime import default_runtime

    try:
        return default_runtime().redactor(load_settings())
    except Exception:
        return Redactor.from_environ(os.environ)


def _echo(text: str = "", *, err: bool = False, nl: bool = True) -> None:
    """click.echo through the redactor: the CLI's one output boundary."""
    click.echo(_redactor().text(text) if text else text, err=err, nl=nl)


def _hide_secrets(text: str, redactor: Redactor) -> str:
    """``text`` redacted, with every quoted value or long word that looks like a secret
    of no known format (``safe_value``) hidden too: usage errors quote what was typed."""
    text = redactor.text(text)

    def quoted(match: re.Match[str]) -> str:
        return HIDDEN_SECRET if safe_value(match.group(1)) == HIDDEN_SECRET else match.group(0)

    def word(match: re.Match[str]) -> str:
        return HIDDEN_SECRET if safe_value(match.group(0)) == HIDDEN_SECRET else match.group(0)

    return _WORD.sub(word, _QUOTED.sub(quoted, text))


class _SafeGroup(click.Group):
    """The command group with the CLI's redaction boundary around click itself.

    click's parse errors quote the value typed (``'sk-proj-...' is not one of 'mock',
    'live', 'replay'``); their message is cleaned before click shows it. Log records go
    to stderr through a redacting handler for the length of the command.
    """

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.ClickException as exc:
            raise _cleaned(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        with _redacted_logging():
            try:
                return super().invoke(ctx)
            except click.ClickException as exc:
                raise _cleaned(exc) from None


def _cleaned(exc: click.ClickException) -> click.ClickException:
    """The same error, its message (option name included) redacted and secrets hidden."""
    message = _hide_secrets(exc.format_message(), _redactor())
    if isinstance(exc, click.UsageError):
        return click.UsageError(message, ctx=exc.ctx)
    return click.ClickException(message)  # click's other errors all exit with 1


@contextmanager
def _redacted_logging() -> Iterator[None]:
    """Warnings and errors of every logger to stderr, redacted (Python's last-resort
    handler would print them raw)."""
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(RedactingFilter(_redactor()))
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _friendly_errors(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NeonhubError as exc:
            _fail(str(exc))
        except OSError as exc:  # a full disk or read-only folder met outside the store
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            _fail(f"{exc.strerror or exc}{where}")

    return wrapper  # type: ignore[return-value]


def _fail(message: str) -> None:
    # One line, whatever the message holds (a stray byte must not crash the echo); the
    # message is redacted before it is cut into one line.
    line = " ".join(_redactor().text(message).split()) or "failed"
    click.echo(f"error: {line.encode('utf-8', 'backslashreplace').decode()}", err=True)
    sys.exit(2)


def _note_stale(store: Any) -> None:
    """Say on stderr when a read showed the last ingested state, not the latest."""
    text = store.last_read.describe()
    if text:
        _echo(f"note: {text}", err=True)


def _whole(value: str, field: str) -> int:
    from .errors import InvalidInputError
    from .models import SEED_MAX

    try:
        return int(value.strip())
    except ValueError:
        raise InvalidInputError(
            field, f"must be a whole number from 0 to {SEED_MAX} (got {safe_value(value)})"
        ) from None


def _parse_params(pairs: Sequence[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"{safe_value(pair)}: expected NAME=VALUE", param_hint="--param"
            )
        params[key.strip()] = value
    return params


def _echo_json(data: Any) -> None:
    _echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@click.group(cls=_SafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="neonhub-nb")
def cli() -> None:
    """Run, audit and regression-test AI marketing agents (store: $NEONHUB_DB)."""


@cli.command()
@click.argument("intent")
@click.option(
    "--param",
    "-p",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="An agent parameter; repeat for each (e.g. -p topic='Email marketing').",
)
@click.option(
    "--mode",
    type=click.Choice(list(MODE_TABLE)),
    default=None,
    help="Override NEONHUB_MODE for this run (connectors follow it unless "
    "USE_MOCK_CONNECTORS is set).",
)
@click.option("--prompt-version", default=None, help="Prompt template version (default: latest).")
@click.option("--experiment", "experiment_id", default=None, help="Experiment id to tag the run.")
@click.option("--campaign", default=None, help="Campaign name to tag the run.")
@click.option(
    "--seed", default="0", show_default=True, help="Seed passed to the model (0 to 2147483647)."
)
@click.option("--stream", is_flag=True, help="Print the draft as it is generated.")
@click.option("--json", "as_json", is_flag=True, help="Print the RunResult as JSON.")
@_friendly_errors
def run(
    intent: str,
    pairs: tuple[str, ...],
    mode: str | None,
    prompt_version: str | None,
    experiment_id: str | None,
    campaign: str | None,
    seed: str,
    stream: bool,
    as_json: bool,
) -> None:
    """Run the agent for INTENT once and record it (e.g. content.generate_article)."""
    from .api import run_agent

    on_token = (lambda chunk: click.echo(chunk, nl=False, err=as_json)) if stream else None
    result = run_agent(
        intent,
        _parse_params(pairs),
        mode=mode,
        prompt_version=prompt_version,
        experiment_id=experiment_id,
        campaign=campaign,
        seed=_whole(seed, "seed"),
        on_token=on_token,
    )
    if stream:
        click.echo("", err=as_json)
    if as_json:
        _echo_json(result.to_json_dict())
    else:
        _echo(
            f"{result.status}  {result.run_id}  {result.intent}  "
            f"{(result.duration_ms or 0):.0f} ms  {result.total_tokens} tokens  "
            f"${result.cost_usd:.5f}"
        )
        if result.title:
            _echo(f"title: {result.title}  (draft {result.draft_id})")
        if result.error:
            _echo(f"error: {result.error}")
    if not result.ok:
        sys.exit(1)


_LIMIT_MAX = 1_000_000


def _limit(_ctx: click.Context, _param: click.Parameter, value: int) -> int:
    """How many rows a listing may ask for: 1 to 1,000,000 (DuckDB's LIMIT takes no
    negative number, and a larger listing belongs in ``export``)."""
    if not 1 <= value <= _LIMIT_MAX:
        raise click.BadParameter(
            f"must be a whole number from 1 to {_LIMIT_MAX:,} (got {safe_value(value)})"
        )
    return value


_SINCE_HELP = "an age (7d, 12h) or an ISO time; UTC unless it carries an offset (+02:00)"


@cli.command()
@click.option("--limit", default=20, show_default=True, callback=_limit, help="Runs to list.")
@click.option("--agent", default=None, help="Only runs of this agent.")
@click.option("--intent", default=None, help="Only runs of this intent.")
@click.option(
    "--status", default=None, type=click.Choice(RUN_STATUSES), help="Only runs with this status."
)
@click.option("--experiment", "experiment_id", default=None, help="Only runs of this experiment.")
@click.option("--since", default=None, help=f"Runs started at or after this: {_SINCE_HELP}.")
@click.option("--until", default=None, help=f"Runs started before this: {_SINCE_HELP}.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records.")
@_friendly_errors
def runs(
    limit: int,
    agent: str | None,
    intent: str | None,
    status: str | None,
    experiment_id: str | None,
    since: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """List recent runs, newest first."""
    from .api import default_store

    store = default_store(load_settings())
    frame = store.runs(
        limit=limit,
        agent=agent,
        intent=intent,
        status=status,
        experiment_id=experiment_id,
        since=since,
        until=until,
    )
    _note_stale(store)
    if as_json:
        _echo_json(json.loads(frame.to_json(orient="records", date_format="iso")))
        return
    if store.last_read.pending_runs:
        _echo(
            "still spooled, not in the list below yet: " + ", ".join(store.last_read.pending_runs)
        )
    if frame.empty:
        filtered = any(v is not None for v in (agent, intent, status, experiment_id, since, until))
        _echo("no runs match these filters" if filtered else "no runs recorded yet")
        return
    shown = frame[
        [
            "run_id",
            "started_at",
            "intent",
            "status",
            "mode",
            "duration_ms",
            "total_tokens",
            "cost_usd",
        ]
    ].copy()
    shown["started_at"] = shown["started_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    shown["duration_ms"] = shown["duration_ms"].round(1)
    # Counts print as counts (a column with a missing value would otherwise be 1146.0),
    # money as money.
    shown["total_tokens"] = shown["total_tokens"].round().astype("Int64")
    shown["cost_usd"] = [format_cost(v) if v == v and v is not None else None
                         for v in shown["cost_usd"]]  # fmt: skip
    shown = shown.rename(columns={"started_at": "started_at (UTC)"})
    _echo(shown.to_string(index=False, na_rep="-"))


@cli.command()
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@_friendly_errors
def show(run_id: str, as_json: bool) -> None:
    """Show one run: its output as its users read it, its calls as a timeline, its
    metrics, and its draft's review trail."""
    from .api import default_store
    from .result_views import detail_output_text
    from .timeline import timeline_text

    store = default_store(load_settings())
    detail = store.run_detail(run_id)
    _note_stale(store)
    tools = json.loads(detail.tool_executions.to_json(orient="records", date_format="iso"))
    metrics = {row["name"]: row["value"] for row in detail.metrics.to_dict("records")}
    trail = (
        json.loads(
            store.review_trail(detail.draft["draft_id"]).to_json(
                orient="records", date_format="iso"
            )
        )
        if detail.draft
        else []
    )
    if as_json:
        _echo_json(
            {
                "run": detail.run,
                "tool_executions": tools,
                "metrics": metrics,
                "draft": detail.draft,
                "review_trail": trail,
            }
        )
        return
    run_row = detail.run
    for key in (
        "run_id",
        "intent",
        "agent",
        "status",
        "mode",
        "model_mode",
        "connectors_mode",
        "started_at",
        "duration_ms",
        "model",
        "prompt_name",
        "prompt_version",
        "experiment_id",
        "ending",
        "error",
    ):
        _echo(f"{key:>15}: {run_row.get(key) if run_row.get(key) is not None else '-'}")
    _echo(f"{'input':>15}: {json.dumps(run_row.get('input'), ensure_ascii=False)}")
    output = detail_output_text(detail)
    if output:
        # The draft's text is its current one: after a reviewer's edit it is theirs, not
        # the agent's, and the heading says so (the figures beside it are the agent's).
        edited = any(event["decision"] == "edit" for event in trail)
        heading = (
            "output (the draft's text as last edited by a reviewer; see the review trail):"
            if edited
            else "output:"
        )
        _echo(f"\n{heading}\n" + output)
    _echo("\ntimeline (model and connector calls, from the run's start):")
    _echo(timeline_text(tools, run_started_at=run_row.get("started_at")))
    _echo("\nmetrics:")
    for name, value in metrics.items():
        shown = format_cost(value, significant=4) if name == "cost_usd" else f"{value:,.6g}"
        _echo(f"  {name:>18}: {shown}")
    if detail.draft:
        _echo(
            f"\ndraft {detail.draft['draft_id']} ({detail.draft['status']}): "
            f"{detail.draft['title']}"
        )
        _echo("review trail (UTC):" if trail else "review trail: no decisions yet")
        for event in trail:
            size = (
                f"  content {event['content_bytes']} bytes sha256 {event['content_sha256'][:12]}"
                if event["content_sha256"]
                else ""
            )
            reason = f"  reason: {event['reason']}" if event["reason"] else ""
            _echo(
                f"  {str(event['decided_at'])[:19].replace('T', ' ')}  {event['decision']:<7}"
                f" by {event['reviewer']}{reason}{size}"
            )


@cli.command()
@_friendly_errors
def intents() -> None:
    """List the agents' intents and their parameters."""
    from .runtime import default_runtime

    for spec in default_runtime().agents.specs():
        fields = ", ".join(
            f"{name}{'' if info.is_required() else '?'}"
            for name, info in spec.params_model.model_fields.items()
        )
        _echo(f"{spec.intent:<32} {spec.description}\n{'':<32} params: {fields}")


@cli.command()
@_friendly_errors
def ingest() -> None:
    """Move spooled runs (including those of exited processes) into the store now."""
    from .api import default_store

    store = default_store(load_settings())
    try:
        report = store.flush()
    except StoreError as exc:
        waiting = len(store.backlog().runs)
        raise StoreError(f"{exc}; {waiting} runs wait in this machine's spool") from None
    counts = store.quarantine_counts()
    _echo(
        f"ingested {report.events} events ({report.runs} runs) from "
        f"{report.segments_read} segments; {report.abandoned} runs marked abandoned; "
        f"{report.quarantined} lines quarantined now, {counts.open} in quarantine"
        + (" (see `neonhub-nb quarantine`)" if counts.open else "")
        + f"; {len(store.backlog().runs)} runs still waiting in this machine's spool"
    )


@cli.command()
@click.option(
    "--retry",
    is_flag=True,
    help="Check every quarantined line again; ingest those that pass now (after a fix).",
)
@click.option("--all", "include_resolved", is_flag=True, help="Also list lines a retry resolved.")
@click.option(
    "--limit", default=100, show_default=True, callback=_limit, help="How many lines to list."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON records.")
@_friendly_errors
def quarantine(retry: bool, include_resolved: bool, limit: int, as_json: bool) -> None:
    """List spooled lines the store could not hold (segment, offset, reason), or retry them."""
    from .api import default_store

    store = default_store(load_settings())
    if retry:
        done = store.retry_quarantine()
        _echo(
            f"ingested {done.ingested} quarantined lines; {done.still_refused} still refused; "
            f"{done.not_retryable} cannot be retried (partial or oversized)"
        )
        return
    frame = store.quarantine(include_resolved=include_resolved, limit=limit)
    _note_stale(store)
    if as_json:
        _echo_json(json.loads(frame.to_json(orient="records", date_format="iso")))
        return
    if frame.empty:
        _echo("no lines in quarantine")
        return
    for row in frame.to_dict("records"):
        line = str(row["line"])
        shown = line if len(line) <= 120 else line[:117] + "..."
        state = "open" if str(row["resolved_at"]) in ("None", "NaT") else "resolved"
        _echo(
            f"{row['segment']}@{row['line_offset']}  {row['line_bytes']} bytes  {state}\n"
            f"  reason: {row['reason']}\n  line:   {shown}"
        )


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["parquet", "csv", "jsonl"]),
    default="parquet",
    show_default=True,
    help="File format.",
)
@click.option("--since", default=None, help=f"Runs started at or after this: {_SINCE_HELP}.")
@click.option("--until", default=None, help=f"Runs started before this: {_SINCE_HELP}.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("export"),
    show_default=True,
    help="Folder for the four files.",
)
@_friendly_errors
def export(fmt: str, since: str | None, until: str | None, out_dir: Path) -> None:
    """Export runs, tool executions, metrics and drafts to files."""
    from .api import default_store
    from .store.maintenance import export_store

    written = export_store(
        default_store(load_settings()),
        out_dir,
        fmt,  # type: ignore[arg-type]
        since=since,
        until=until,
    )
    for table, path in written.items():
        _echo(f"{table:>18}: {path}")


@cli.command()
@click.option("--older-than", required=True, help="Age of runs to delete, e.g. 90d, 12h, 2w.")
@click.option(
    "--include-unreviewed",
    is_flag=True,
    help="Also delete runs whose drafts still await a review decision (kept by default).",
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_friendly_errors
def prune(older_than: str, include_unreviewed: bool, dry_run: bool, yes: bool) -> None:
    """Delete finished runs older than an age, with their tool calls, metrics and drafts.

    Runs still running, and runs whose drafts await review, are kept (see
    --include-unreviewed). Without --yes, the counts are shown before anything is deleted.
    On a team store this takes the database owner's URL: the writer role cannot delete.
    """
    from .api import default_store
    from .store.maintenance import parse_age
    from .store.maintenance import prune as prune_store

    age = parse_age(older_than)
    store = default_store(load_settings())
    # One cutoff for the preview and the prune: runs started while the question waits
    # are never deleted by the answer.
    now = store.clock.now()
    if dry_run or not yes:
        preview = prune_store(
            store, age, now=now, include_unreviewed=include_unreviewed, dry_run=True
        )
        _echo(_prune_summary(preview))
        if dry_run or preview.runs == 0:
            return
        click.confirm("Delete them?", abort=True)
    report = prune_store(store, age, now=now, include_unreviewed=include_unreviewed)
    _echo(_prune_summary(report))


def _prune_summary(report: PruneReport) -> str:
    verb = "would delete" if report.dry_run else "deleted"
    text = (
        f"{verb} {report.runs} runs started before {report.cutoff:%Y-%m-%d %H:%M:%S} UTC, "
        f"{report.tool_executions} tool executions, {report.metrics} metrics, "
        f"{report.drafts} drafts with {report.review_events} review decisions"
    )
    if report.kept_unreviewed:
        text += (
            f"; kept {report.kept_unreviewed} older runs whose drafts await review "
            "(--include-unreviewed deletes them too)"
        )
    return text


@cli.command()
@click.argument("destination", type=click.Path(path_type=Path))
@click.option(
    "--since", default=None, help=f"Team store: runs started at or after this: {_SINCE_HELP}."
)
@click.option("--until", default=None, help=f"Team store: runs started before this: {_SINCE_HELP}.")
@_friendly_errors
def snapshot(destination: Path, since: str | None, until: str | None) -> None:
    """Copy the store to DESTINATION, a DuckDB file you can keep open for long sessions.

    A team store (postgresql://) is pulled into the file, the period's runs only with
    --since/--until; a DuckDB store is copied whole.
    """
    from .api import default_store
    from .store.maintenance import snapshot as snapshot_store

    store = default_store(load_settings())
    _echo(str(snapshot_store(store, destination, since=since, until=until)))


@cli.command()
@click.argument("query")
@click.option("--json", "as_json", is_flag=True, help="Print JSON records.")
@_friendly_errors
def sql(query: str, as_json: bool) -> None:
    """Run a read-only SQL QUERY against the audit store and print the result.

    Statements that would change the store are refused; runs are deleted by `prune` alone.
    """
    from .api import default_store

    store = default_store(load_settings())
    frame = store.sql(query)
    _note_stale(store)
    if as_json:
        _echo_json(json.loads(frame.to_json(orient="records", date_format="iso")))
    else:
        _echo(frame.to_string(index=False, na_rep="-"))


from .metrics.command import metrics_command  # noqa: E402 (the exporter's command lives with it)

cli.add_command(metrics_command, name="metrics")

from .dashboard.server import dashboard_command, synth_command  # noqa: E402 (with the dashboard)

cli.add_command(dashboard_command, name="dashboard")
cli.add_command(synth_command, name="synth")

from .store.command import db_command  # noqa: E402 (the team store's set-up lives with it)

cli.add_command(db_command, name="db")


@cli.group()
def golden() -> None:
    """Regression goldens: run every case of data/regression/cases.json in its notebook."""


def _golden_cases(intent: str | None) -> list[Any]:
    from .regression import load_cases

    cases = [c for c in load_cases() if intent is None or c.intent == intent]
    if not cases:
        raise click.BadParameter(
            f"no regression cases for intent {intent!r}", param_hint="--intent"
        )
    return cases


@golden.command("check")
@click.option("--intent", default=None, help="Only the cases of this intent.")
@_friendly_errors
def golden_check(intent: str | None) -> None:
    """Run the cases and compare with data/golden/; print every difference."""
    from .regression import compare, describe, golden_path, run_case

    failed = 0
    for case in _golden_cases(intent):
        path = golden_path(case)
        if not path.exists():
            _echo(f"MISSING {case.id}: no {path}")
            failed += 1
            continue
        diffs = compare(json.loads(path.read_text()), run_case(case))
        _echo(f"{'ok     ' if not diffs else 'CHANGED'} {case.id}")
        if diffs:
            failed += 1
            _echo(describe(case, diffs))
    if failed:
        sys.exit(1)


@golden.command("update")
@click.option("--intent", default=None, help="Only the cases of this intent.")
@_friendly_errors
def golden_update(intent: str | None) -> None:
    """Rewrite data/golden/ from the current code (review the diff before committing)."""
    from .regression import run_case, write_golden

    for case in _golden_cases(intent):
        _echo(f"wrote {write_golden(case, run_case(case))}")


def main(argv: Sequence[str] | None = None) -> None:
    cli.main(args=list(argv) if argv is not None else None, prog_name="neonhub-nb")
