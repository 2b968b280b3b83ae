"""The secrets property through the other entry points: the CLI and the widgets.

The same secrets, packed into the same fields as ``test_secrets_property.py`` does for the
Python API, are typed through ``neonhub-nb run`` (click's runner, in this process: one
process per run would take minutes) and through the draft studio's form (every field
set, Generate clicked). Sinks: the CLI's stdout and stderr (the streamed draft, JSON
results, one-line errors, ``runs``, ``show``, ``export``, ``sql``, ``quarantine``), every
state the studio's widgets reach (what a notebook's browser receives, including each
repaint of the streamed draft and every field message), and the store's folder, exports,
``/metrics`` and log records as in the API test. One real ``neonhub-nb`` process checks
that a process's own stdout/stderr (logging set up by the CLI) hold nothing either.

Each test runs one half in one mode: ``env``/``live`` (every credential in the
environment, the echoing server) and ``typed``/``mock`` (secrets only typed).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import ipywidgets as w
import pytest
from click.testing import CliRunner

from neonhub_nb.cli import cli
from neonhub_nb.config import Settings
from neonhub_nb.errors import InvalidInputError
from neonhub_nb.models import RunResult
from neonhub_nb.orchestrator import Orchestrator, build_orchestrator
from neonhub_nb.redaction import REDACTED
from neonhub_nb.runtime import default_runtime
from neonhub_nb.widgets import DraftStudio

from .echoserver import EchoServer
from .secrets_matrix import HALVES, Half, pack
from .test_secrets_property import DEFAULTS, Property, _settings, echo, verify

__all__ = ["echo"]  # the fixture, imported for pytest

pytestmark = pytest.mark.slow

CASES = [("env", "live"), ("typed", "mock")]
_FLAGS = {"experiment_id": "--experiment", "campaign": "--campaign"}
_FLAGS |= {"prompt_version": "--prompt-version", "seed": "--seed"}


def _environ(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' environment as the process's: what the CLI reads."""
    for name, value in settings.environ.items():
        monkeypatch.setenv(name, value)


class CliProperty(Property):
    """``neonhub-nb run INTENT -p name=value ... --json --stream``; a refusal is exit code
    2 with ``error: FIELD: rule`` on stderr."""

    labels_taken: ClassVar[dict[str, int]] = {"experiment_id": 200, "campaign": 200}  # no --variant

    def __init__(self, half: Half, settings: Settings, orchestrator: Orchestrator) -> None:
        super().__init__(half, settings, orchestrator)
        self.runner = CliRunner()

    def cli(self, *args: str) -> Any:
        """Run one command; check its stdout and stderr."""
        answer = self.runner.invoke(cli, list(args), catch_exceptions=False)
        self.coverage.check(self.finder, "CLI stdout", answer.stdout)
        self.coverage.check(self.finder, "CLI stderr", answer.stderr)
        return answer

    def invoke(
        self, intent: str, params: dict[str, Any], labels: dict[str, Any], on_token: Any
    ) -> RunResult:
        args = ["run", "--json", "--stream"]
        for name, value in params.items():
            text = ", ".join(value) if isinstance(value, list) else str(value)
            args += ["-p", f"{name}={text}"]
        for name, value in labels.items():
            if value is not None:  # --flag=value: a value may start with "-"
                args.append(f"{_FLAGS[name]}={value}")
        answer = self.cli(*args, "--", intent)
        if answer.exit_code == 2:
            line = answer.stderr.strip().splitlines()[-1]
            assert line.startswith("error: "), answer.stderr
            field, _, rule = line.removeprefix("error: ").partition(": ")
            raise InvalidInputError(field, rule)
        assert answer.exit_code in (0, 1), (answer.exit_code, answer.stderr[-400:])
        data = json.loads(answer.stdout)
        data.pop("total_tokens")
        return RunResult.model_validate(data)

    def reads(self, out: Path) -> None:
        """Everything the CLI shows of what was recorded."""
        self.cli("runs", "--limit", "1000")
        self.cli("runs", "--limit", "1000", "--json")
        for result in self.results[::3]:
            self.cli("show", result.run_id)
        for result in self.results[1::3]:
            self.cli("show", result.run_id, "--json")
        for fmt in ("csv", "jsonl", "parquet"):
            self.cli("export", "--format", fmt, "--out", str(out / f"cli-{fmt}"))
            for path in (out / f"cli-{fmt}").rglob("*"):
                if path.is_file():
                    self.coverage.check(self.finder, f"export {fmt}", path.read_bytes())
        self.cli("sql", "SELECT * FROM agent_runs", "--json")
        self.cli("sql", "SELECT * FROM tool_executions", "--json")
        self.cli("quarantine", "--json")


@pytest.mark.parametrize(("half_name", "mode"), CASES)
def test_no_secret_reaches_any_sink_through_the_cli(
    half_name: str,
    mode: str,
    echo: EchoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    half = HALVES[half_name]
    db = tmp_path / "store" / "neonhub.duckdb"
    settings = _settings(half, mode, db, echo, mock_connectors=True)
    _environ(settings, monkeypatch)
    started = time.perf_counter()
    prop = CliProperty(half, settings, build_orchestrator(settings))
    for spec in prop.orchestrator.catalog.specs():
        prop.agent(spec.intent)
    prop.request_fields()
    prop.reviews(prop.orchestrator.store)  # no review command: drafts reviewed in Python
    prop.reads(tmp_path)
    prop.sinks(db, tmp_path / "export", list(caplog.records))
    verify(
        prop,
        f"cli {half_name}/{mode}",
        time.perf_counter() - started,
        {*prop.labels_taken, "prompt_version", "seed", "intent", "reviewer", "reason"},
    )
    assert prop.coverage.sinks["CLI stderr"] > 0 and prop.coverage.sinks["CLI stdout"] > 0


def test_a_real_cli_process_prints_no_secret(echo: EchoServer, tmp_path: Path) -> None:
    """One ``neonhub-nb run --stream`` process, live against the echoing server, every
    credential in its environment and every secret that fits typed into its fields."""
    half = HALVES["env"]
    db = tmp_path / "neonhub.duckdb"
    settings = _settings(half, "live", db, echo, mock_connectors=True)
    prop = Property(half, settings, build_orchestrator(settings))
    values = [v for v in prop.values if len(v) <= 200 and "," not in v and v.isprintable()]
    args = ["-p", f"topic={values[0]}", "-p", f"audience={values[1]}"]
    args += ["-p", f"primary_keyword={values[2][:80]}"]
    args += ["-p", "secondary_keywords=" + ", ".join(values[3:13])]
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEONHUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "neonhub_nb", "run", "content.generate_article", "--stream",
         "--campaign", values[13], "--experiment", values[14], *args],
        env={**env, **settings.environ}, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()[-400:]
    prop.coverage.check(prop.finder, "process stdout", done.stdout)
    prop.coverage.check(prop.finder, "process stderr", done.stderr)
    assert not prop.coverage.leaks, prop.coverage.report()
    # The streamed echo reached the screen, its secrets redacted.
    assert b"(draft draft_" in done.stdout and REDACTED.encode() in done.stdout


class WidgetProperty(Property):
    """The draft studio: each field set through the form, Generate clicked. A refusal is
    a field message (the Generate button stays disabled) or an error card."""

    labels_taken: ClassVar[dict[str, int]] = {}  # the form takes no run labels

    def __init__(self, half: Half, settings: Settings, orchestrator: Orchestrator) -> None:
        super().__init__(half, settings, orchestrator)
        self.studio = DraftStudio(settings=settings, reviewer="Ana")
        self.painted: list[str] = []
        self.studio.result_view.draft.observe(
            lambda change: self.painted.append(str(change["new"])), names="value"
        )

    def state(self) -> None:
        """What the studio shows (every text, option label, output and field message of
        its widget tree): what a notebook's browser receives. The inputs the user typed
        into (form fields, reviewer, reason) are left out: they hold what was typed."""
        typed = {id(x) for x in self.studio.form.fields.values()}
        typed |= {id(self.studio.review.reviewer), id(self.studio.review.reason)}
        shown: list[str] = []
        stack: list[Any] = [self.studio.widget]
        while stack:
            widget = stack.pop()
            if id(widget) in typed:
                continue
            stack.extend(getattr(widget, "children", ()))
            for trait in ("value", "description", "tooltip", "placeholder", "_options_labels"):
                value = getattr(widget, trait, None)
                if isinstance(value, str | tuple):
                    shown.append(str(value))
            if isinstance(widget, w.Output):
                shown.append(json.dumps(widget.outputs, default=str))
        self.coverage.check(self.finder, "widget state", "\n".join(shown))
        self.coverage.check(self.finder, "widget stream", "".join(self.painted))
        self.painted.clear()

    def invoke(
        self, intent: str, params: dict[str, Any], labels: dict[str, Any], on_token: Any
    ) -> RunResult:
        form = self.studio.form
        if form.intent.value != intent:
            form.intent.value = intent
        self.reset(intent)
        for name, value in params.items():
            form.set_value(name, value, validate=False)
        errors = form.validate()
        if errors:
            self.state()
            name = next(iter(errors))
            raise InvalidInputError(name, errors[name])
        result = self.studio.generate()
        self.state()
        assert result is not None, self.studio.result_view.card.value
        return result

    def reset(self, intent: str) -> None:
        """Every field of the form back to the value it holds with no secret (what a user
        clearing the form would do; rebuilding the widgets each time is slower)."""
        form = self.studio.form
        for name, info in form.params_model.model_fields.items():
            value = DEFAULTS[intent].get(name, info.get_default(call_default_factory=True))
            form.set_value(name, value, validate=False)

    def other_fields(self, intent: str, names: list[str]) -> None:
        """A secret in every field that takes no free text at once: the form flags each
        field on its own (one form per secret, not one per secret and field)."""
        form = self.studio.form
        form.intent.value = intent
        for value in self.values:
            self.reset(intent)
            for name in names:
                form.set_value(name, value, validate=False)
            errors = form.validate()
            self.state()
            for name in names:
                self.typed(value, f"{intent.split('.')[0]}.{name}", "refused")
                assert name in errors, (name, form.raw()[name])

    def reviews_in_panel(self) -> None:
        """Reviewer and reason typed into the review panel of the last draft shown."""
        for result in self.results:
            if result.draft_id:
                self.studio.show(result)
                break
        panel = self.studio.review
        reviewers, odd = pack(self.values, 200, printable=True)
        reasons, too_long = pack(self.values, 2000)
        tries = [(r, "why not") for r in [*reviewers, *odd]]
        tries += [("Ana", r) for r in [*reasons, *too_long]]
        rejected = False
        for reviewer, reason in tries:
            panel.reviewer.value, panel.reason.value = reviewer, reason
            # The decision the draft's state allows, so only a field's rule can refuse it.
            if panel.decide("reopen" if rejected else "reject"):
                rejected = not rejected
            self.state()
            self.typed(reviewer, "reviewer", "panel")
            self.typed(reason, "reason", "panel")


@pytest.mark.parametrize(("half_name", "mode"), CASES)
def test_no_secret_reaches_any_sink_through_the_widgets(
    half_name: str,
    mode: str,
    echo: EchoServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    half = HALVES[half_name]
    db = tmp_path / "store" / "neonhub.duckdb"
    settings = _settings(half, mode, db, echo, mock_connectors=True)
    _environ(settings, monkeypatch)
    started = time.perf_counter()
    prop = WidgetProperty(half, settings, build_orchestrator(settings))
    for spec in prop.orchestrator.catalog.specs():
        prop.agent(spec.intent)
    prop.reviews_in_panel()
    assert prop.studio.history.refresh()
    prop.state()  # the history tab: every run listed
    prop.sinks(db, tmp_path / "export", list(caplog.records))
    verify(prop, f"widgets {half_name}/{mode}", time.perf_counter() - started,
           {"reviewer", "reason"})  # fmt: skip
    assert prop.coverage.sinks["widget stream"] > 0
    default_runtime().reset()
