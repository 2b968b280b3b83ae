"""Property: no secret, of any format, typed into any field the API takes, in mock or live
mode, reaches any sink: the store's folder (raw bytes and every row), every export
format, results and their notebook card, streamed tokens, error messages, log records,
the exporter's ``/metrics`` and ``/health``.

Live mode runs against ``tests/echoserver.py``, which echoes the whole prompt back
(streamed a few characters at a time) and quotes the ``Authorization`` header and the
prompt in its errors. In the ``env`` half live connectors send the corpus credentials to
their vendors' mocks (over ``httpx.MockTransport``), so every recorded HTTP exchange
holds them before redaction. See ``tests/secrets_matrix.py`` for the halves, the packing
of secrets into fields, and the formats left out of the typed-only half.

The other entry points have their own files: ``test_secrets_entry_points.py`` (CLI,
widgets) and ``test_secrets_notebooks.py`` (papermill, the dashboard).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import httpx
import pytest

from neonhub_nb.config import Settings, load_settings
from neonhub_nb.connectors import connector_factory, get_mock_class
from neonhub_nb.errors import InvalidInputError, NeonhubError
from neonhub_nb.metrics import start_exporter
from neonhub_nb.models import RunRequest, RunResult
from neonhub_nb.orchestrator import Orchestrator, build_orchestrator
from neonhub_nb.redaction import Redactor
from neonhub_nb.runtime import default_runtime
from neonhub_nb.store.maintenance import export_store

from .echoserver import AUTH_ERROR, STREAM_ERROR, EchoServer
from .secrets_matrix import (
    HALVES,
    LABELS,
    Coverage,
    Finder,
    Half,
    connector_env,
    folder_bytes,
    free_text_fields,
    other_fields,
    pack,
    store_dump,
)

pytestmark = pytest.mark.slow

#: Valid parameters of every agent: what a field holds when it carries no secret.
DEFAULTS: dict[str, dict[str, Any]] = {
    "content.generate_article": {
        "topic": "Email marketing for bakeries",
        "primary_keyword": "bakery newsletter",
        "word_count": 300,
    },
    "seo.optimize": {
        "primary_keyword": "bakery newsletter",
        "title": "Newsletters for bakeries",
        "content": "# Newsletters\n\nWhy bakeries send them, and how often.",
    },
    "email.compose_campaign": {
        "product": "Sourdough club",
        "goal": "more sign-ups",
        "send_to": ["owner@example.com"],
    },
    "social.compose_posts": {
        "message": "New sourdough class",
        "publish": True,
        "image_url": "https://example.com/bread.png",
    },
    "ads.generate_variants": {"product": "Sourdough club", "primary_keyword": "sourdough"},
    "insights.summarize_performance": {"days": 7},
    "eval.judge_draft": {
        "draft": "# Bread\n\nA short draft about bread.",
        "primary_keyword": "bread",
    },
}


@pytest.fixture
def echo(request: pytest.FixtureRequest) -> Iterator[EchoServer]:
    """The echoing model server; it also says one of the half's secrets in every answer
    (the prompt holds none: inputs reach the model redacted)."""
    callspec = getattr(request.node, "callspec", None)
    half = HALVES[callspec.params["half_name"] if callspec else "env"]
    # 16 characters an event: every secret (20 and more) still arrives split.
    with EchoServer(chunk=16, also_say=tuple(entry.value for entry in half.entries)) as server:
        yield server


class Vendors:
    """The vendors' mocks behind live connectors (third parties we cannot reach)."""

    def __init__(self) -> None:
        self.clients: list[httpx.Client] = []

    def client(self, name: str) -> httpx.Client:
        client = httpx.Client(transport=httpx.MockTransport(get_mock_class(name)()))
        self.clients.append(client)
        return client


class Property:
    """Runs every agent with secrets packed into its fields and checks every sink.

    The entry point is :meth:`invoke` (here the Python API); subclasses type the same
    values through the CLI or the widgets and say which run labels they take."""

    #: The run labels this entry point takes, with their limits.
    labels_taken: ClassVar[dict[str, int]] = LABELS

    def __init__(self, half: Half, settings: Settings, orchestrator: Orchestrator) -> None:
        self.half = half
        self.settings = settings
        self.orchestrator = orchestrator
        self.finder = Finder(half.entries)
        self.coverage = Coverage()
        self.values = [entry.value for entry in half.entries]
        self.results: list[RunResult] = []
        self.drafts: list[str] = []

    # ------------------------------------------------------------------ runs
    def invoke(
        self,
        intent: str,
        params: dict[str, Any],
        labels: dict[str, Any],
        on_token: Callable[[str], None],
    ) -> RunResult:
        """One run through this entry point; a refusal raises :class:`InvalidInputError`."""
        request = RunRequest(intent=intent, params=dict(params), **labels)
        return self.orchestrator.run(request, on_token=on_token)

    def run(self, intent: str, params: dict[str, Any], labels: dict[str, Any]) -> RunResult:
        """One run; a refused field is checked as an error sink and set back to its
        default, then the run is tried again (what a user would do)."""
        for _ in range(40):
            chunks: list[str] = []
            try:
                result = self.invoke(intent, params, labels, chunks.append)
            except InvalidInputError as exc:
                name = self.refused(exc, intent, params, labels)
                if name in labels:
                    labels[name] = None
                elif name in DEFAULTS[intent]:
                    params[name] = DEFAULTS[intent][name]
                else:
                    params.pop(name)
                continue
            self.coverage.check(self.finder, "streamed tokens", "".join(chunks))
            self.seen(result)
            agent = intent.split(".")[0]
            for name, value in params.items():
                self.typed(value, f"{agent}.{name}", "accepted")
            for name, value in labels.items():
                self.typed(value, name, "accepted")
            return result
        raise AssertionError(f"{intent}: still refused after 40 tries: {params}")

    def refused(
        self, exc: NeonhubError, intent: str, params: dict[str, Any], labels: dict[str, Any]
    ) -> str:
        """Check a refusal's message; count the refused value's (format, field) pair.
        Returns the refused field."""
        self.coverage.check(self.finder, "error messages", f"{exc!s} {exc!r}")
        name = str(getattr(exc, "field", "")).split(".")[0]
        if name in params:
            self.typed(params[name], f"{intent.split('.')[0]}.{name}", "refused")
        elif name in labels:
            self.typed(labels[name], name, "refused")
        else:
            raise AssertionError(f"refused a field nobody typed: {exc}")
        return name

    def typed(self, value: Any, name: str, how: str) -> None:
        texts = value if isinstance(value, list) else [value]
        for text in texts:
            if isinstance(text, str):
                self.coverage.typed(self.half.entries, text, name, how)

    def seen(self, result: RunResult) -> None:
        self.results.append(result)
        if result.draft_id:
            self.drafts.append(result.draft_id)
        self.coverage.check(self.finder, "results", json.dumps(result.to_json_dict(), default=str))
        self.coverage.check(self.finder, "results", repr(result))
        self.coverage.check(self.finder, "notebook card", result._repr_html_())

    def refuse(self, intent: str, params: dict[str, Any], labels: dict[str, Any]) -> None:
        """A value no field of this kind takes: it must be refused, its error clean."""
        try:
            result = self.invoke(intent, params, labels, lambda _: None)
        except InvalidInputError as exc:
            self.refused(exc, intent, params, labels)
            return
        self.seen(result)  # taken after all (a value that fits): its outputs are checked

    def agent(self, intent: str) -> None:
        spec = self.orchestrator.catalog.get(intent)
        count = len(self.values)
        groups: dict[str, list[Any]] = {}
        for k, field in enumerate(free_text_fields(spec.params_model)):
            start = (7 * k) % count  # each field mixes the formats differently
            rotated = self.values[start:] + self.values[:start]
            if field.is_list:
                fits = [v for v in rotated if len(v) <= field.limit and "," not in v]
                too_long = [v for v in rotated if v not in fits]
                groups[field.name] = [
                    fits[i : i + field.items] for i in range(0, len(fits), field.items)
                ]
            else:
                groups[field.name], too_long = pack(rotated, field.limit)
            for value in too_long:
                self.refuse(intent, {**DEFAULTS[intent], field.name: value}, {})
        labels: dict[str, list[str]] = {}
        for k, (name, limit) in enumerate(self.labels_taken.items()):
            start = (11 * k + 3) % count
            rotated = self.values[start:] + self.values[:start]
            labels[name], unprintable = pack(rotated, limit, printable=True)
            for value in unprintable:
                self.refuse(intent, dict(DEFAULTS[intent]), {name: value})
        rounds = max(len(g) for g in [*groups.values(), *labels.values(), [None]])
        for i in range(rounds):
            params = dict(DEFAULTS[intent])
            params.update({name: g[i] for name, g in groups.items() if i < len(g)})
            chosen = {name: g[i] if i < len(g) else None for name, g in labels.items()}
            self.run(intent, params, chosen)
        self.other_fields(intent, other_fields(spec.params_model))

    def other_fields(self, intent: str, names: list[str]) -> None:
        """Every secret typed into each field that takes no free text."""
        for name in names:
            for value in self.values:
                self.refuse(intent, {**DEFAULTS[intent], name: value}, {})

    def request_fields(self) -> None:
        """What is refused whole: an unknown prompt version, a seed, an intent."""
        intent = "content.generate_article"
        for value in self.values:
            self.refuse(intent, dict(DEFAULTS[intent]), {"prompt_version": value})
            self.refuse(intent, dict(DEFAULTS[intent]), {"seed": value})
            try:
                self.invoke(value, {}, {}, lambda _: None)
            except (NeonhubError, KeyError) as exc:  # UnknownIntentError is a KeyError too
                self.coverage.check(self.finder, "error messages", f"{exc!s} {exc!r}")
                self.typed(value, "intent", "refused")

    def reviews(self, store: Any) -> None:
        """Review decisions on a draft: one edit with every secret in its title and
        content, then reject and reopen in turn, each with the next group of secrets as
        reviewer and reason (every decision reads the draft's state back: few of them)."""
        reviewers, unprintable = pack(self.values, 200, printable=True)
        reasons, too_long = pack(self.values, 2000)
        draft_id = self.drafts[0]
        content = "\n\n".join(entry.prose for entry in self.half.entries)
        edit = {"title": " ".join(self.values), "content": content}
        self.decide(store, draft_id, "edit", "Ana", "edited", edit)
        for i in range(max(len(reviewers), len(reasons))):
            decision = ("reject", "reopen")[i % 2]
            reviewer, reason = reviewers[i % len(reviewers)], reasons[i % len(reasons)]
            self.decide(store, draft_id, decision, reviewer, reason)
        pending = self.drafts[-1]  # refused values change nothing: it stays pending
        for value in unprintable:  # too long or multi-line for a reviewer's name
            self.decide(store, pending, "reject", value, "why")
        for value in too_long:  # longer than a reason may be
            self.decide(store, pending, "reject", "Ana", value)

    def decide(
        self,
        store: Any,
        draft_id: str,
        decision: str,
        reviewer: str,
        reason: str,
        edit: dict[str, str] | None = None,
    ) -> None:
        """One decision; each value typed counts as accepted, or refused with the field
        the error names (its message checked)."""
        typed = {"reviewer": reviewer, "reason": reason}
        typed |= {f"edit {name}": value for name, value in (edit or {}).items()}
        try:
            store.review_draft(draft_id, decision, reviewer, reason, **(edit or {}))
        except NeonhubError as exc:
            self.coverage.check(self.finder, "error messages", f"{exc!s} {exc!r}")
            field = str(getattr(exc, "field", ""))
            name = f"edit {field}" if f"edit {field}" in typed else field
            if name not in typed:
                raise AssertionError(f"refused a field nobody typed: {exc}") from exc
            self.typed(typed[name], name, "refused")
            return
        for name, value in typed.items():
            self.typed(value, name, "accepted")

    def model_errors(self) -> None:
        """Live: every secret in a prompt answered by a 401 and by an error mid-stream,
        both quoting the Authorization header and the prompt."""
        for entry in self.half.entries:
            for marker in (AUTH_ERROR, STREAM_ERROR):
                if len(entry.value) <= 200:
                    params = {**DEFAULTS["content.generate_article"], "topic": entry.value}
                    params["audience"] = marker
                    self.run("content.generate_article", params, {})
                else:
                    params = {**DEFAULTS["seo.optimize"], "content": entry.prose}
                    params["audience"] = marker
                    self.run("seo.optimize", params, {})

    # ------------------------------------------------------------------ sinks
    def sinks(self, db: Path, out: Path, records: list[logging.LogRecord]) -> None:
        store = self.orchestrator.store
        store.flush()
        for fmt in ("parquet", "csv", "jsonl"):
            written = export_store(store, out / fmt, fmt)  # type: ignore[arg-type]
            for path in written.values():
                self.coverage.check(self.finder, f"export {fmt}", path.read_bytes())
                if fmt == "parquet":  # compressed: read it back as rows too
                    rows = duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()
                    self.coverage.check(
                        self.finder, "export parquet", json.dumps(rows, default=str)
                    )
        with start_exporter(store, port=0, find_free_port=True) as exporter:
            for url in (exporter.metrics_url, exporter.health_url):
                with urllib.request.urlopen(url, timeout=30) as answer:
                    self.coverage.check(self.finder, "exporter", answer.read())
        for record in records:
            formatter = logging.Formatter()
            text = record.getMessage() + (
                formatter.formatException(record.exc_info) if record.exc_info else ""
            )
            self.coverage.check(self.finder, "log records", text)
        default_runtime().reset()  # closes the store: everything ingested, spool removed
        for name, data in folder_bytes(db.parent):
            self.coverage.check(self.finder, f"store folder ({name.split('.')[-1]})", data)
        for text in store_dump(db):
            self.coverage.check(self.finder, "store rows", text)


def _settings(
    half: Half, mode: str, db: Path, echo: EchoServer, *, mock_connectors: bool = False
) -> Settings:
    """The settings of one half in one mode (``mock_connectors``: the vendors' mocks in
    process, for entry points that build their own connectors)."""
    env = {
        **(connector_env() if half.name == "env" else {}),
        **half.environ,
        "NEONHUB_DB": str(db),
        "NEONHUB_MODE": mode,
        "NEONHUB_BREAKER_THRESHOLD": "100000",  # every run reaches the model
        "NEONHUB_LLM_MAX_RETRIES": "0",
        "NEONHUB_INGEST_INTERVAL": "0.2",
    }
    if mode == "live":
        env |= {"OPENAI_BASE_URL": echo.url, "NEONHUB_LLM_TIMEOUT_S": "20"}
        # Live connectors need the credentials only the env half holds.
        env["USE_MOCK_CONNECTORS"] = "false" if half.name == "env" else "true"
    if mock_connectors:
        env["USE_MOCK_CONNECTORS"] = "true"
    return load_settings(env)


@pytest.mark.parametrize("mode", ["mock", "live"])
@pytest.mark.parametrize("half_name", ["env", "typed"])
def test_no_secret_reaches_any_sink_through_the_api(
    half_name: str,
    mode: str,
    echo: EchoServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    half = HALVES[half_name]
    db = tmp_path / "store" / "neonhub.duckdb"
    settings = _settings(half, mode, db, echo)
    orchestrator = build_orchestrator(settings)
    vendors = Vendors()
    if settings.wiring.connectors == "live":  # the corpus credentials go to the vendors' mocks
        runtime = default_runtime()
        orchestrator.connectors = connector_factory(
            settings,
            transport="live",
            catalog=runtime.connectors,
            redactor=runtime.redactor(settings),
            client_for=vendors.client,
        )
    started = time.perf_counter()
    prop = Property(half, settings, orchestrator)
    for spec in orchestrator.catalog.specs():
        prop.agent(spec.intent)
    prop.request_fields()
    if mode == "live":
        prop.model_errors()
    prop.reviews(orchestrator.store)
    prop.sinks(db, tmp_path / "export", list(caplog.records))
    for client in vendors.clients:
        client.close()
    seconds = time.perf_counter() - started
    fields = {*prop.labels_taken, "prompt_version", "seed", "intent", "reviewer", "reason"}
    verify(prop, f"api {half_name}/{mode}", seconds, fields | {"edit content", "edit title"})
    if mode == "live":
        assert any(r.status == "failed" and "HTTP 401" in (r.error or "") for r in prop.results)


def verify(prop: Property, name: str, seconds: float, extra_fields: set[str]) -> None:
    """No leak; and the property was exercised, not skipped: every format typed into every
    agent field and every one of ``extra_fields`` (accepted, or refused with a clean
    error), and runs that reached the model and made drafts."""
    report = prop.coverage.report()
    print(f"\n{name}: {len(prop.results)} runs in {seconds:.1f} s; {report}")
    assert not prop.coverage.leaks, report
    formats = {entry.format for entry in prop.half.entries}
    fields = {
        f"{spec.agent}.{field}"
        for spec in prop.orchestrator.catalog.specs()
        for field in spec.params_model.model_fields
    } | extra_fields
    typed: dict[str, set[str]] = {}
    for fmt, field, _ in prop.coverage.pairs:
        typed.setdefault(field, set()).add(fmt)
    untyped = {field: formats - typed.get(field, set()) for field in fields}
    assert {field: missing for field, missing in untyped.items() if missing} == {}
    assert {"accepted", "refused"} <= {how for _, _, how in prop.coverage.pairs}
    assert prop.drafts and any(r.status == "succeeded" for r in prop.results)


class _Off(Redactor):
    """A redactor that cleans nothing: the store's boundary switched off."""

    def text(self, value: str) -> str:
        return value

    def redact(self, value: Any, path: str = "") -> tuple[Any, list[str]]:
        return value, []


def test_the_property_finds_secrets_when_the_stores_redaction_is_off(
    echo: EchoServer, tmp_path: Path
) -> None:
    """The property can fail: with the store's redactor switched off (the only change),
    the same runs leave the typed secrets in the store's rows and file, and only there
    and downstream of it (exports; results, built from the records the store wrote)."""
    half = HALVES["env"]
    db = tmp_path / "store" / "neonhub.duckdb"
    settings = _settings(half, "mock", db, echo, mock_connectors=True)
    orchestrator = build_orchestrator(settings)
    orchestrator.store.redactor = _Off()
    prop = Property(half, settings, orchestrator)
    prop.agent("content.generate_article")
    prop.sinks(db, tmp_path / "export", [])
    leaked = {sink for sink, _, _ in prop.coverage.leaks}
    assert "store rows" in leaked and any(s.startswith("store folder") for s in leaked)
    assert {s for s in leaked if not s.startswith(("store", "export", "results"))} == set()
    # Every format typed into the article's topic leaked: the finder misses none of them.
    topics = {
        fmt
        for fmt, name, how in prop.coverage.pairs
        if (name, how) == ("content.topic", "accepted")
    }
    assert topics <= {fmt for sink, fmt, _ in prop.coverage.leaks if sink == "store rows"}
    assert len(topics) > 40
