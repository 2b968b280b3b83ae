"""ipywidgets for the analyst: the run form, the streamed result, review and history.

The form is built from the agent's pydantic parameter model (:mod:`neonhub_nb.form_fields`
picks a control per field type), so the widgets, the CLI's ``--param`` pairs, papermill
parameters and the store all share one schema. A result shows as its agent's users read
it (:mod:`neonhub_nb.result_views`) with the run's timeline. Every callback shows its
failure in its own panel (form, result, history), never only in the kernel's log.
Everything is testable without a browser: set ``.value`` and call ``.click()``.

What the widgets show passes the settings' redactor (``Runtime.redactor``): the streamed
draft arrives redacted from the orchestrator; results, errors, field messages and review
messages are redacted before they are drawn.

>>> from neonhub_nb.widgets import DraftStudio         # doctest: +SKIP
>>> DraftStudio()                                      # doctest: +SKIP
"""

from __future__ import annotations

import html
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from .agents.catalog import AgentCatalog
from .api import run_agent
from .config import MODE_TABLE, Settings, load_settings, parse_mode
from .display import markdown_to_html, run_card_html
from .errors import ConfigError, NeonhubError
from .form_fields import LABEL_WIDTH, FieldControl, field_control
from .models import AgentParams, RunResult, field_errors, validate_params
from .redaction import Redactor
from .runtime import Runtime, default_runtime
from .store.base import Store
from .timeline import timeline_html

__all__ = ["DraftForm", "DraftStudio", "HistoryPanel", "ResultView", "ReviewPanel"]

log = logging.getLogger(__name__)
_ERROR_STYLE = "color:#cf222e;font-size:12px"
LATEST = "latest"
_SPINNER = (
    "<span style='display:inline-block;width:12px;height:12px;border:2px solid #d0d7de;"
    "border-top-color:#0969da;border-radius:50%;animation:nh-spin 0.8s linear infinite'>"
    "</span><style>@keyframes nh-spin{to{transform:rotate(360deg)}}</style>"
)


def _error_html(what: str, exc: BaseException, redactor: Redactor) -> str:
    """A failure as one readable, redacted line (our errors say what broke; others say
    their type too)."""
    text = str(exc) if isinstance(exc, NeonhubError) else f"{type(exc).__name__}: {exc}"
    return (
        "<div class='neonhub-error' style='background:#ffebe9;border:1px solid #cf222e;"
        "border-radius:6px;padding:8px;max-width:900px'>"
        f"<b>{html.escape(redactor.text(what))}:</b> {html.escape(redactor.text(text))}</div>"
    )


def _log_failure(redactor: Redactor, message: str, exc: BaseException | None = None) -> None:
    """A failure to the log with its traceback, redacted: in a kernel with no handler the
    log is printed into the cell's output."""
    detail = "".join(traceback.format_exception(exc)) if exc is not None else ""
    log.warning("%s", redactor.text(f"{message}\n{detail}".rstrip()))


class DraftForm:
    """The parameters of one run: intent, its fields, prompt version and mode.

    ``errors`` maps field name to the broken rule; each message is shown next to its field
    and the Generate button stays disabled until there are none. :meth:`set_value` puts a
    raw value in a field (a notebook's parameter): one the widget cannot hold (NaN in a
    number, a network that does not exist) is kept and reported as that field's error.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        intent: str = "content.generate_article",
        initial: Mapping[str, Any] | None = None,
        *,
        mode: str | None = None,
        prompt_version: str | None = None,
        runtime: Runtime | None = None,
    ):
        """``mode`` and ``prompt_version`` pre-select the form (a notebook's parameters);
        the mode defaults to the settings' (``NEONHUB_MODE``)."""
        self.settings = settings or load_settings()
        runtime = runtime or default_runtime()
        self.catalog = runtime.agents
        #: Cleans what the form shows (field messages, failures).
        self.redactor = runtime.redactor(self.settings)
        self.initial = dict(initial or {})
        self._initial_intent = intent
        self._initial_prompt_version = prompt_version
        self.intent = w.Dropdown(
            options=[spec.intent for spec in self.catalog.specs()],
            value=intent,
            description="agent / intent",
            style={"description_width": LABEL_WIDTH},
            layout=w.Layout(width="560px"),
        )
        self.description = w.HTML()
        self.prompt_version = w.Dropdown(
            description="prompt version", style={"description_width": LABEL_WIDTH}
        )
        live_ok, why = self.settings.live_available()
        chosen = parse_mode(mode, "mode") if mode is not None else self.settings.mode
        # The choices are the mode table's rows; ToggleButtons cannot disable one option,
        # so live mode is left out (and the reason shown) when no endpoint is configured.
        options = [m for m in MODE_TABLE if live_ok or m != "live"]
        if chosen not in options:
            raise ConfigError(f"mode: live mode is not available here: {why}")
        self.mode = w.ToggleButtons(
            options=options,
            value=chosen,
            description="mode",
            tooltips=[MODE_TABLE[m].description for m in options],
            style={"description_width": LABEL_WIDTH},
        )
        self.mode_note = w.HTML(
            "" if live_ok else f"<span style='color:#57606a'>live mode unavailable: {why}</span>"
        )
        self.controls: dict[str, FieldControl] = {}
        self.fields: dict[str, w.ValueWidget] = {}
        self.messages: dict[str, w.HTML] = {}
        self.fields_box = w.VBox()
        self.generate = w.Button(description="Generate", button_style="primary", icon="play")
        self.message = w.HTML()  # the form's own failures (not a field's)
        self.message.add_class("neonhub-form-message")
        self.errors: dict[str, str] = {}
        # Raw values a widget could not hold, by field, until the user edits that field.
        self._held: dict[str, Any] = {}
        self._building = False
        self.intent.observe(lambda _: self._rebuild(), names="value")
        self._build_fields()
        self.widget = w.VBox(
            [
                self.intent,
                self.description,
                self.fields_box,
                self.prompt_version,
                w.HBox([self.mode, self.mode_note]),
                self.generate,
                self.message,
            ]
        )

    @property
    def params_model(self) -> type[AgentParams]:
        return self.catalog.get(self.intent.value).params_model

    def _rebuild(self) -> None:
        try:
            self._build_fields()
            self.message.value = ""
        except Exception as exc:  # shown where the user looks, not only in the log
            what = f"Could not build the form for {self.intent.value}"
            _log_failure(self.redactor, what, exc)
            self.message.value = _error_html(what, exc, self.redactor)
            self.generate.disabled = True

    def _build_fields(self) -> None:
        spec = self.catalog.get(self.intent.value)
        self._building = True
        self.controls, self.fields, self.messages, self._held = {}, {}, {}, {}
        rows = []
        try:
            for name, info in spec.params_model.model_fields.items():
                control = field_control(name, info)
                message = w.HTML(layout=w.Layout(margin=f"0 0 0 {int(LABEL_WIDTH[:-2]) + 8}px"))
                message.add_class(f"neonhub-field-message-{name}")
                self.controls[name], self.fields[name], self.messages[name] = (
                    control,
                    control.widget,
                    message,
                )
                # The form's initial values belong to the intent it was opened with.
                if spec.intent == self._initial_intent and self.initial.get(name) is not None:
                    self.set_value(name, self.initial[name], validate=False)
                control.widget.observe(lambda _, field=name: self._edited(field), names="value")
                rows.append(w.VBox([control.view, message]))
        finally:
            self._building = False
        self.fields_box.children = rows
        # Says which agent's fields are shown (browser tests wait for it after a switch).
        self.fields_box._dom_classes = ("neonhub-form-fields", f"neonhub-form-{spec.agent}")
        self.description.value = (
            f"<span style='color:#57606a;margin-left:{int(LABEL_WIDTH[:-2]) + 8}px'>"
            f"{html.escape(spec.description)}</span>"
        )
        versions = self.catalog.prompt_versions().get(spec.prompt_name or "", [])
        self.prompt_version.options = [LATEST, *versions]
        # Like the initial values, a given prompt version belongs to the initial intent.
        wanted = self._initial_prompt_version if spec.intent == self._initial_intent else None
        if wanted is not None and spec.prompt_name is not None:
            self.catalog.prompt(spec.prompt_name, wanted)  # an unknown version: one clear error
        self.prompt_version.value = wanted if wanted in versions else LATEST
        self.prompt_version.layout.display = None if versions else "none"
        self.validate()

    def _edited(self, name: str) -> None:
        if self._building:
            return
        self._held.pop(name, None)  # the user's own value replaces an unshowable one
        self.validate()

    def set_value(self, name: str, value: Any, *, validate: bool = True) -> None:
        """Put ``value`` in field ``name``; if its widget cannot hold it, keep the value
        (it is what will be validated and reported) and leave the widget as it was."""
        control = self.controls[name]
        building, self._building = self._building, True
        try:
            control.show(value)
            self._held.pop(name, None)
        except ValueError:
            self._held[name] = value
        finally:
            self._building = building
        if validate:
            self.validate()

    def prompt_version_value(self) -> str | None:
        """The chosen prompt version, or None for the latest."""
        chosen = self.prompt_version.value
        return None if chosen in (None, LATEST) else str(chosen)

    def raw(self) -> dict[str, Any]:
        """The fields' raw values (``None``: left empty), as the model will validate them."""
        return {
            name: self._held[name] if name in self._held else control.read()
            for name, control in self.controls.items()
        }

    def validate(self) -> dict[str, str]:
        """Check every field, show each problem next to its field, enable Generate if none."""
        try:
            self.errors = field_errors(self.params_model, self.raw())
        except Exception as exc:
            _log_failure(self.redactor, "could not check the form", exc)
            self.errors = {"": self.redactor.text(str(exc))}
            self.message.value = _error_html("Could not check the form", exc, self.redactor)
        for name, message in self.messages.items():
            rule = self.errors.get(name)
            message.value = (
                f"<span style='{_ERROR_STYLE}'>{html.escape(name)}: "
                f"{html.escape(self.redactor.text(rule))}</span>"
                if rule
                else ""
            )
        self.generate.disabled = bool(self.errors)
        return self.errors

    def params(self) -> AgentParams:
        """The typed parameters, exactly as the Python API and papermill would build them."""
        raw = {name: value for name, value in self.raw().items() if value is not None}
        return validate_params(self.params_model, raw)


class ResultView:
    """The streamed draft, a progress bar while it streams, then the result: the run's
    card, its agent's output as its users read it, the timeline of its tool calls and
    (for articles) the draft."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        #: Cleans results and errors before they are drawn (the streamed draft arrives
        #: redacted from the orchestrator).
        self.redactor = redactor or Redactor()
        self.status = w.HTML()
        self.progress = w.FloatProgress(
            value=0, min=0, max=1, layout=w.Layout(width="520px", display="none")
        )
        self.card = w.HTML()
        self.card.add_class("neonhub-result-card")  # lets browser tests find this card
        self.timeline = w.HTML()
        self.timeline.add_class("neonhub-result-timeline")
        self.draft = w.HTML(layout=w.Layout(max_width="900px"))
        self.draft.add_class("neonhub-draft")
        self.widget = w.VBox([self.status, self.progress, self.card, self.timeline, self.draft])
        self._buffer: list[str] = []
        self._expected = 1
        self._last_paint = 0.0

    def clear(self) -> None:
        """Show nothing (another agent was chosen: its form is not this result's)."""
        self.status.value = self.card.value = self.timeline.value = self.draft.value = ""
        self.progress.layout.display = "none"

    def start(self, expected_tokens: int) -> None:
        self._buffer, self._expected, self._last_paint = [], max(expected_tokens, 1), 0.0
        self.status.value = f"{_SPINNER} generating…"
        self.progress.value, self.progress.layout.display = 0, None
        self.card.value, self.timeline.value, self.draft.value = "", "", ""

    def on_token(self, chunk: str) -> None:
        self._buffer.append(chunk)
        now = time.monotonic()
        # Repainting the whole draft per token would flood the browser; 20 paints/s is smooth.
        if now - self._last_paint >= 0.05:
            self._paint()
            self._last_paint = now

    def _paint(self) -> None:
        text = "".join(self._buffer)
        self.progress.value = min(1.0, len(self._buffer) / self._expected)
        # Articles stream as Markdown; other agents answer in labelled lines.
        self.draft.value = markdown_to_html(text)

    def show(self, result: RunResult) -> None:
        self.progress.layout.display = "none"
        self.status.value = ""
        # What the store holds was redacted when written; runs written by other code
        # (an older version, another machine) are cleaned here as they are drawn.
        clean, found = self.redactor.redact(result.model_dump())
        if found:
            result = RunResult.model_validate(clean)
        card = run_card_html(result, show_content=False, show_timeline=False)
        self.card.value = card
        self.timeline.value = (
            "<div style='max-width:900px'><b>Timeline</b> "
            f"<span style='color:#57606a'>({len(result.tool_executions)} tool calls)</span>"
            + timeline_html(
                result.tool_executions,
                run_started_at=result.started_at,
                run_duration_ms=result.duration_ms,
            )
            + "</div>"
        )
        self.draft.value = markdown_to_html(result.content) if result.content else ""

    def show_error(self, message: str | BaseException, what: str = "Could not run") -> None:
        self.progress.layout.display = "none"
        self.status.value = ""
        self.timeline.value, self.draft.value = "", ""
        exc = message if isinstance(message, BaseException) else NeonhubError(message)
        self.card.value = _error_html(what, exc, self.redactor)


class ReviewPanel:
    """Approve, reject (with a reason), edit or reopen a draft, and show its review trail.

    Every decision is appended to the store's ``review_events``; the status shown is
    derived from them (``neonhub_nb.records.next_review_state`` has the rules: approving a
    rejected draft needs a reopen, an edit after approval sends the draft back to review,
    a ``truncated`` draft is approved only after an edit). A refused decision shows its
    rule and records nothing.
    """

    def __init__(
        self,
        store: Store,
        reviewer: str = "",
        catalog: AgentCatalog | None = None,
        *,
        redactor: Redactor | None = None,
    ) -> None:
        self.catalog = catalog or default_runtime().agents
        self._intent: str | None = None
        self.store = store
        #: Cleans messages before they are drawn (default: the store's redactor).
        self.redactor = redactor or store.redactor
        self.draft_id: str | None = None
        self.reviewer = w.Text(value=reviewer, description="reviewer", placeholder="your name")
        self.reason = w.Text(description="reason", placeholder="why (required to reject or reopen)")
        self.approve = w.Button(description="Approve", button_style="success", icon="check")
        self.reject = w.Button(description="Reject", button_style="danger", icon="times")
        self.edit = w.Button(description="Edit", icon="pencil")
        self.reopen = w.Button(description="Reopen", icon="undo")
        self.editor = w.Textarea(layout=w.Layout(width="900px", height="300px", display="none"))
        self.save = w.Button(description="Save edits", icon="save", layout=w.Layout(display="none"))
        self.status = w.HTML()
        self.trail = w.HTML()
        self.message = w.HTML()
        self.approve.on_click(lambda _: self.decide("approve"))
        self.reject.on_click(lambda _: self.decide("reject"))
        self.edit.on_click(lambda _: self._open_editor())
        self.reopen.on_click(lambda _: self.decide("reopen"))
        self.save.on_click(lambda _: self.decide("edit", edited=True))
        self.widget = w.VBox(
            [
                self.status,
                w.HBox([self.reviewer, self.reason]),
                w.HBox([self.approve, self.reject, self.edit, self.reopen]),
                self.editor,
                self.save,
                self.message,
                self.trail,
            ]
        )
        self.load(None)

    def load(self, result: RunResult | None) -> None:
        self.draft_id = result.draft_id if result else None
        self._intent = result.intent if result else None
        self._content = result.content if result else None
        self._title = result.title if result else None
        for button in (self.approve, self.reject, self.edit, self.reopen):
            button.disabled = self.draft_id is None
        self.editor.layout.display = self.save.layout.display = "none"
        self.message.value = ""
        self.refresh()

    def refresh(self) -> None:
        """Show the draft's derived status and its trail as the store holds them."""
        if self.draft_id is None:
            self.status.value = self.trail.value = ""
            return
        try:
            state = self.store.review_state(self.draft_id)
            trail = self.store.review_trail(self.draft_id)
        except NeonhubError as exc:
            shown = html.escape(self.redactor.text(str(exc)))
            self.status.value = f"<span style='{_ERROR_STYLE}'>{shown}</span>"
            self.trail.value = ""
            return
        note = f" ({html.escape(state.note)})" if state.note else ""
        self.status.value = f"<b>status:</b> {html.escape(state.status)}{note}"
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td style='padding:2px 8px'>{html.escape(cell)}</td>"
                for cell in (
                    f"{event['decided_at']:%Y-%m-%d %H:%M:%S} UTC",
                    str(event["decision"]),
                    str(event["reviewer"]),
                    "" if _blank(event["reason"]) else str(event["reason"]),
                    ""
                    if _blank(event["content_sha256"])
                    else f"{int(event['content_bytes'])} bytes, sha256 "
                    f"{str(event['content_sha256'])[:12]}",
                )
            )
            + "</tr>"
            for event in trail.to_dict("records")
        )
        self.trail.value = (
            "<table><tr><th>when</th><th>decision</th><th>reviewer</th><th>reason</th>"
            f"<th>edit</th></tr>{rows}</table>"
            if rows
            else "<i>no review decisions yet</i>"
        )

    def _open_editor(self) -> None:
        self.editor.value = self._content or ""
        self.editor.layout.display = self.save.layout.display = None

    def decide(self, decision: str, *, edited: bool = False) -> bool:
        if self.draft_id is None:
            return False
        content = self.editor.value if edited else None
        title = None
        try:
            if content:
                # The agent's own format and limits (280 characters for X, 30 for an ad
                # headline ...): an edit that breaks them is refused, nothing recorded.
                check = self.catalog.get(self._intent).check_edit if self._intent else None
                title = check(content) if check is not None else self._title
            state = self.store.review_draft(
                self.draft_id,
                decision,
                self.reviewer.value,
                self.reason.value or None,
                title=title,
                content=content,
            )
        except NeonhubError as exc:
            shown = html.escape(self.redactor.text(str(exc)))
            self.message.value = f"<span style='{_ERROR_STYLE}'>{shown}</span>"
            return False
        verb = (
            "edits saved"
            if edited
            else {"approve": "approved", "reject": "rejected"}.get(decision, "reopened")
        )
        note = f"; {state.note}" if state.note else ""
        said = self.redactor.text(f"{self.draft_id}: {verb} by {self.reviewer.value.strip()}{note}")
        self.message.value = f"<span style='color:#1a7f37'>{html.escape(said)}</span>"
        # A reason belongs to the one decision it was typed for: the next decision starts
        # without it, so the trail never gives a reason nobody gave.
        self.reason.value = ""
        if edited:
            self._content = content
            self.editor.layout.display = self.save.layout.display = "none"
        self.refresh()
        return True


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


class HistoryPanel:
    """Recent runs of this store; ``Reopen`` hands the chosen run back as a RunResult.

    Reading the store can wait (another process may hold the file) or fail (a locked or
    unreadable file): the panel says it is reading, then shows the runs or why it could
    not, in the panel itself. :meth:`refresh_soon` reads in a thread so the kernel stays
    free while it waits.
    """

    def __init__(
        self,
        store: Store,
        on_open: Callable[[RunResult], None],
        limit: int = 20,
        *,
        redactor: Redactor | None = None,
    ):
        self.store, self.on_open, self.limit = store, on_open, limit
        #: Cleans failures before they are drawn (default: the store's redactor).
        self.redactor = redactor or store.redactor
        self.runs = w.Select(options=[], rows=8, layout=w.Layout(width="900px"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.reopen = w.Button(description="Reopen", icon="folder-open", disabled=True)
        self.message = w.HTML()
        self.message.add_class("neonhub-history-message")
        self.refresh_button.on_click(lambda _: self.refresh_soon())
        self.reopen.on_click(lambda _: self.open_selected())
        self.pending: threading.Thread | None = None
        self.widget = w.VBox([self.message, self.runs, w.HBox([self.refresh_button, self.reopen])])

    def refresh_soon(self) -> threading.Thread:
        """Refresh in a background thread (returned, so callers may ``join`` it)."""
        thread = threading.Thread(target=self.refresh, name="neonhub-history", daemon=True)
        self.pending = thread
        thread.start()
        return thread

    def refresh(self) -> bool:
        """Read the most recent runs into the list; False (and the reason shown) if the
        store could not be read."""
        self.message.value = f"{_SPINNER} reading the audit store…"
        self.refresh_button.disabled = True
        try:
            frame = self.store.runs(limit=self.limit)
        except Exception as exc:
            _log_failure(self.redactor, f"history: cannot read the audit store: {exc}")
            hint = (
                "<br>Another process holds the file: close it (e.g. a <code>duckdb</code> "
                "session), or read a copy made with <code>neonhub-nb snapshot</code>."
                if "lock" in str(exc).lower()
                else ""
            )
            shown = _error_html("Could not read the audit store", exc, self.redactor)
            self.message.value = shown.replace("</div>", f"{hint}</div>")
            self.runs.options = []
            self.reopen.disabled = True
            return False
        finally:
            self.refresh_button.disabled = False
        options = []
        for row in frame.to_dict("records"):
            when = row["started_at"].strftime("%Y-%m-%d %H:%M:%S")
            options.append(
                (f"{when}  {row['status']:<9}  {row['intent']}  {row['run_id']}", row["run_id"])
            )
        self.runs.options = options
        self.reopen.disabled = not options
        # Another process holding the file never blocks a read: the store answers from
        # its last ingested state (or a copy) and says so; the panel passes that on.
        where = self.store.last_read.describe()
        stale = f"<br><span style='color:#9a6700'>{html.escape(where)}</span>" if where else ""
        self.message.value = (
            f"<span style='color:#57606a'>{len(options)} most recent runs (UTC)</span>{stale}"
            if options
            else f"<span style='color:#57606a'>No runs recorded yet.</span>{stale}"
        )
        return True

    def open_selected(self) -> RunResult | None:
        run_id = self.runs.value
        if not run_id:
            return None
        try:
            result = self.store.run_detail(run_id).to_result()
        except Exception as exc:
            _log_failure(self.redactor, f"history: cannot reopen {run_id}: {exc}")
            self.message.value = _error_html(f"Could not reopen {run_id}", exc, self.redactor)
            return None
        self.on_open(result)
        return result


class DraftStudio:
    """Form + streamed result + review + history, wired together for one notebook cell."""

    def __init__(
        self,
        store: Store | None = None,
        settings: Settings | None = None,
        reviewer: str = "",
        *,
        intent: str = "content.generate_article",
        mode: str | None = None,
        prompt_version: str | None = None,
        runtime: Runtime | None = None,
        **initial: Any,
    ) -> None:
        """``initial`` pre-fills the form for ``intent``, ``mode`` and ``prompt_version``
        pre-select it (e.g. the notebook's papermill parameters)."""
        self.settings = settings or load_settings()
        self.runtime = runtime or default_runtime()
        #: The settings' redactor: every panel cleans what it shows with it.
        self.redactor = self.runtime.redactor(self.settings)
        self.store = (
            self.runtime.protect(store, self.settings)
            if store is not None
            else self.runtime.store(self.settings)
        )
        self.form = DraftForm(
            self.settings,
            intent=intent,
            initial=initial,
            mode=mode,
            prompt_version=prompt_version,
            runtime=self.runtime,
        )
        self.result_view = ResultView(self.redactor)
        self.review = ReviewPanel(self.store, reviewer, self.runtime.agents, redactor=self.redactor)
        self.history = HistoryPanel(self.store, self.reopen, redactor=self.redactor)
        self.review_note = w.HTML()
        self.result: RunResult | None = None
        self.form.generate.on_click(lambda _: self.generate())
        self.widget = w.Tab(
            children=[
                w.VBox(
                    [
                        self.form.widget,
                        self.result_view.widget,
                        self.review.widget,
                        self.review_note,
                    ]
                ),
                self.history.widget,
            ]
        )
        self.widget.set_title(0, "Run")
        self.widget.set_title(1, "History")
        self.widget.observe(self._on_tab, names="selected_index")
        self.form.intent.observe(lambda _: self._forget_result(), names="value")

    def _forget_result(self) -> None:
        # The shown run (and its review buttons) belongs to the agent chosen before: under
        # another agent's form it would invite approving run X while looking at form Y.
        self.result = None
        self.result_view.clear()
        self.review.widget.layout.display = "none"
        self.review_note.value = ""

    def _on_tab(self, change: dict[str, Any]) -> None:
        if change["new"] == 1:
            self.history.refresh_soon()

    def show(self, result: RunResult) -> None:
        self.result = result
        try:
            self.result_view.show(result)
        except Exception as exc:  # a view that cannot draw says so
            _log_failure(self.redactor, f"cannot show run {result.run_id}", exc)
            self.result_view.show_error(exc, f"Could not show run {result.run_id}")
        self.review.load(result)
        # Only a run that made a draft enters the review flow; say why there is nothing to
        # review rather than show buttons that cannot act.
        has_draft = result.draft_id is not None
        self.review.widget.layout.display = None if has_draft else "none"
        if has_draft:
            why = ""
        elif result.status != "succeeded":
            why = f"This run {result.status}: it made no draft to review."
        else:
            why = (
                "This agent's output is recorded with the run; it makes no draft to review "
                "(drafts come from articles, posts, ads, emails and SEO pages)."
            )
        self.review_note.value = (
            f"<span style='color:#57606a;font-size:12px'>{html.escape(why)}</span>" if why else ""
        )
        self.widget.selected_index = 0

    def reopen(self, result: RunResult) -> None:
        """Show a recorded run (History's Reopen) with its agent and parameters back in the
        form, so what is shown and what Generate would run agree. Values the store holds
        redacted come back as ``[REDACTED]``; a field the agent no longer has is skipped."""
        intents = set(self.form.intent.options)
        if result.intent in intents and self.form.intent.value != result.intent:
            self.form.intent.value = result.intent  # rebuilds the fields
        if self.form.intent.value == result.intent:
            for name, value in result.input.items():
                if name in self.form.controls:
                    self.form.set_value(name, value, validate=False)
            self.form.validate()
        self.show(result)

    def generate(self) -> RunResult | None:
        """Run the agent with the form's parameters, streaming into the view."""
        if self.form.validate():
            return None
        try:
            params = self.form.params()
        except NeonhubError as exc:
            self.result_view.show_error(exc)
            return None
        expected = int(getattr(params, "word_count", 300) * 1.4)
        self.result_view.start(expected)
        self.form.generate.disabled = True
        try:
            result = run_agent(
                self.form.intent.value,
                params,
                mode=self.form.mode.value,
                store=self.store,
                settings=self.settings,
                runtime=self.runtime,
                prompt_version=self.form.prompt_version_value(),
                on_token=self.result_view.on_token,
            )
        except Exception as exc:  # NeonhubError or not: the user sees it on the card
            if not isinstance(exc, NeonhubError):
                _log_failure(self.redactor, "run failed outside the orchestrator's handling", exc)
            self.result_view.show_error(exc)
            return None
        finally:
            self.form.generate.disabled = bool(self.form.errors)
        self.show(result)
        return result

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]
