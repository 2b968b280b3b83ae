"""ipywidgets for the analyst: the draft form, the streamed draft, review and history.

The form is built from the agent's pydantic parameter model, so the widgets, the CLI's
``--param`` pairs, papermill parameters and the store all share one schema. Everything is
testable without a browser: set ``.value`` and call ``.click()``.

>>> from neonhub_nb.widgets import DraftStudio         # doctest: +SKIP
>>> DraftStudio()                                      # doctest: +SKIP
"""

from __future__ import annotations

import html
import time
import typing
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets as w

from .api import run_agent
from .config import MODE_TABLE, Settings, load_settings, parse_mode
from .display import markdown_to_html, run_card_html
from .errors import ConfigError, NeonhubError
from .models import AgentParams, RunResult, field_errors, validate_params
from .runtime import Runtime, default_runtime
from .store import AuditStore

__all__ = ["DraftForm", "DraftStudio", "HistoryPanel", "ResultView", "ReviewPanel"]

_ERROR_STYLE = "color:#cf222e;font-size:12px"
LATEST = "latest"
_SPINNER = (
    "<span style='display:inline-block;width:12px;height:12px;border:2px solid #d0d7de;"
    "border-top-color:#0969da;border-radius:50%;animation:nh-spin 0.8s linear infinite'>"
    "</span><style>@keyframes nh-spin{to{transform:rotate(360deg)}}</style>"
)


def _field_widget(name: str, info: Any) -> w.ValueWidget:
    """A widget for one pydantic field: dropdowns for choices, sliders for bounded ints."""
    annotation = info.annotation
    label = name.replace("_", " ")
    default = None if info.is_required() else info.default
    style = {"description_width": "140px"}
    layout = w.Layout(width="520px")
    if typing.get_origin(annotation) is typing.Literal:
        options = list(typing.get_args(annotation))
        return w.Dropdown(
            options=options,
            value=default or options[0],
            description=label,
            style=style,
            layout=layout,
        )
    if annotation is int:
        bounds = {type(m).__name__: m for m in info.metadata}
        low = getattr(bounds.get("Ge"), "ge", 0)
        high = getattr(bounds.get("Le"), "le", 10_000)
        return w.IntSlider(
            value=default or low,
            min=low,
            max=high,
            step=50 if high > 1000 else 1,
            description=label,
            style=style,
            layout=layout,
        )
    if typing.get_origin(annotation) is tuple:
        return w.Text(
            value=", ".join(default or ()),
            description=label,
            placeholder="comma, separated",
            style=style,
            layout=layout,
        )
    return w.Text(
        value=default or "",
        description=label,
        style=style,
        layout=layout,
        placeholder=(info.description or "") + (" (required)" if default is None else ""),
    )


class DraftForm:
    """The parameters of one run: intent, its fields, prompt version and mode.

    ``errors`` maps field name to the broken rule; each message is shown next to its field
    and the Generate button stays disabled until there are none.
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
        self.catalog = (runtime or default_runtime()).agents
        self.initial = dict(initial or {})
        self._initial_prompt_version = prompt_version
        self.intent = w.Dropdown(
            options=[spec.intent for spec in self.catalog.specs()],
            value=intent,
            description="agent / intent",
            style={"description_width": "140px"},
            layout=w.Layout(width="520px"),
        )
        self.prompt_version = w.Dropdown(
            description="prompt version", style={"description_width": "140px"}
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
            style={"description_width": "140px"},
        )
        self.mode_note = w.HTML(
            "" if live_ok else f"<span style='color:#57606a'>live mode unavailable: {why}</span>"
        )
        self.fields: dict[str, w.ValueWidget] = {}
        self.messages: dict[str, w.HTML] = {}
        self.fields_box = w.VBox()
        self.generate = w.Button(description="Generate", button_style="primary", icon="play")
        self.errors: dict[str, str] = {}
        self.intent.observe(lambda _: self._build_fields(), names="value")
        self._build_fields()
        self.widget = w.VBox(
            [
                self.intent,
                self.fields_box,
                self.prompt_version,
                w.HBox([self.mode, self.mode_note]),
                self.generate,
            ]
        )

    @property
    def params_model(self) -> type[AgentParams]:
        return self.catalog.get(self.intent.value).params_model

    def _build_fields(self) -> None:
        spec = self.catalog.get(self.intent.value)
        self.fields, self.messages, rows = {}, {}, []
        for name, info in spec.params_model.model_fields.items():
            field = _field_widget(name, info)
            if self.initial.get(name) is not None:
                value = self.initial[name]
                if isinstance(field, w.Text) and isinstance(value, list | tuple):
                    value = ", ".join(map(str, value))
                field.value = value
            message = w.HTML(layout=w.Layout(margin="0 0 0 148px"))
            field.observe(lambda _: self.validate(), names="value")
            self.fields[name], self.messages[name] = field, message
            rows.append(w.VBox([field, message]))
        self.fields_box.children = rows
        versions = self.catalog.prompt_versions().get(spec.prompt_name or "", [])
        self.prompt_version.options = [LATEST, *versions]
        wanted = self._initial_prompt_version
        if wanted is not None and spec.prompt_name is not None:
            self.catalog.prompt(spec.prompt_name, wanted)  # an unknown version: one clear error
        self.prompt_version.value = wanted if wanted in versions else LATEST
        self.prompt_version.layout.display = None if versions else "none"
        self.validate()

    def prompt_version_value(self) -> str | None:
        """The chosen prompt version, or None for the latest."""
        chosen = self.prompt_version.value
        return None if chosen in (None, LATEST) else str(chosen)

    def raw(self) -> dict[str, Any]:
        return {name: field.value for name, field in self.fields.items()}

    def validate(self) -> dict[str, str]:
        """Check every field, show each problem next to its field, enable Generate if none."""
        self.errors = field_errors(self.params_model, self.raw())
        for name, message in self.messages.items():
            rule = self.errors.get(name)
            message.value = (
                f"<span style='{_ERROR_STYLE}'>{html.escape(name)}: {html.escape(rule)}</span>"
                if rule
                else ""
            )
        self.generate.disabled = bool(self.errors)
        return self.errors

    def params(self) -> AgentParams:
        """The typed parameters, exactly as the Python API and papermill would build them."""
        return validate_params(self.params_model, self.raw())


class ResultView:
    """The streamed draft, a progress bar while it streams, then the result card."""

    def __init__(self) -> None:
        self.status = w.HTML()
        self.progress = w.FloatProgress(
            value=0, min=0, max=1, layout=w.Layout(width="520px", display="none")
        )
        self.card = w.HTML()
        self.card.add_class("neonhub-result-card")  # lets browser tests find this card
        self.draft = w.HTML(layout=w.Layout(max_width="900px"))
        self.draft.add_class("neonhub-draft")
        self.widget = w.VBox([self.status, self.progress, self.card, self.draft])
        self._buffer: list[str] = []
        self._expected = 1
        self._last_paint = 0.0

    def start(self, expected_tokens: int) -> None:
        self._buffer, self._expected, self._last_paint = [], max(expected_tokens, 1), 0.0
        self.status.value = f"{_SPINNER} generating…"
        self.progress.value, self.progress.layout.display = 0, None
        self.card.value, self.draft.value = "", ""

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
        self.draft.value = markdown_to_html(text)

    def show(self, result: RunResult) -> None:
        self.progress.layout.display = "none"
        self.status.value = ""
        self.card.value = run_card_html(result, show_content=False)
        self.draft.value = markdown_to_html(result.content) if result.content else ""

    def show_error(self, message: str) -> None:
        self.progress.layout.display = "none"
        self.status.value = ""
        self.card.value = (
            "<div style='background:#ffebe9;border:1px solid #cf222e;border-radius:6px;"
            f"padding:8px;max-width:900px'><b>Could not run:</b> {html.escape(message)}</div>"
        )


class ReviewPanel:
    """Approve, reject (with a reason), edit or reopen a draft, and show its review trail.

    Every decision is appended to the store's ``review_events``; the status shown is
    derived from them (``neonhub_nb.records.next_review_state`` has the rules: approving a
    rejected draft needs a reopen, an edit after approval sends the draft back to review,
    a ``truncated`` draft is approved only after an edit). A refused decision shows its
    rule and records nothing.
    """

    def __init__(self, store: AuditStore, reviewer: str = "") -> None:
        self.store = store
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
            self.status.value = f"<span style='{_ERROR_STYLE}'>{html.escape(str(exc))}</span>"
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
        if content:
            from .agents.content import split_title

            title = split_title(content)[0] or self._title
        try:
            state = self.store.review_draft(
                self.draft_id,
                decision,
                self.reviewer.value,
                self.reason.value or None,
                title=title,
                content=content,
            )
        except NeonhubError as exc:
            self.message.value = f"<span style='{_ERROR_STYLE}'>{html.escape(str(exc))}</span>"
            return False
        verb = (
            "edits saved"
            if edited
            else {"approve": "approved", "reject": "rejected"}.get(decision, "reopened")
        )
        note = f"; {state.note}" if state.note else ""
        self.message.value = (
            f"<span style='color:#1a7f37'>{html.escape(self.draft_id)}: {verb} by "
            f"{html.escape(self.reviewer.value.strip())}{html.escape(note)}</span>"
        )
        if edited:
            self._content = content
            self.editor.layout.display = self.save.layout.display = "none"
        self.refresh()
        return True


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


class HistoryPanel:
    """Recent runs of this store; ``Reopen`` hands the chosen run back as a RunResult."""

    def __init__(self, store: AuditStore, on_open: Callable[[RunResult], None], limit: int = 20):
        self.store, self.on_open, self.limit = store, on_open, limit
        self.runs = w.Select(options=[], rows=8, layout=w.Layout(width="900px"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.reopen = w.Button(description="Reopen", icon="folder-open")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.reopen.on_click(lambda _: self.open_selected())
        self.widget = w.VBox([self.runs, w.HBox([self.refresh_button, self.reopen])])

    def refresh(self) -> None:
        frame = self.store.runs(limit=self.limit)
        options = []
        for row in frame.to_dict("records"):
            when = row["started_at"].strftime("%Y-%m-%d %H:%M:%S")
            options.append(
                (f"{when}  {row['status']:<9}  {row['intent']}  {row['run_id']}", row["run_id"])
            )
        self.runs.options = options
        self.reopen.disabled = not options

    def open_selected(self) -> RunResult | None:
        run_id = self.runs.value
        if not run_id:
            return None
        result = self.store.run_detail(run_id).to_result()
        self.on_open(result)
        return result


class DraftStudio:
    """Form + streamed draft + review + history, wired together for one notebook cell."""

    def __init__(
        self,
        store: AuditStore | None = None,
        settings: Settings | None = None,
        reviewer: str = "",
        *,
        mode: str | None = None,
        prompt_version: str | None = None,
        runtime: Runtime | None = None,
        **initial: Any,
    ) -> None:
        """``initial`` pre-fills the form, ``mode`` and ``prompt_version`` pre-select it
        (e.g. the notebook's papermill parameters)."""
        self.settings = settings or load_settings()
        self.runtime = runtime or default_runtime()
        self.store = store or self.runtime.store(self.settings)
        self.form = DraftForm(
            self.settings,
            initial=initial,
            mode=mode,
            prompt_version=prompt_version,
            runtime=self.runtime,
        )
        self.result_view = ResultView()
        self.review = ReviewPanel(self.store, reviewer)
        self.history = HistoryPanel(self.store, self.show)
        self.result: RunResult | None = None
        self.form.generate.on_click(lambda _: self.generate())
        self.widget = w.Tab(
            children=[
                w.VBox([self.form.widget, self.result_view.widget, self.review.widget]),
                self.history.widget,
            ]
        )
        self.widget.set_title(0, "Draft")
        self.widget.set_title(1, "History")
        self.widget.observe(self._on_tab, names="selected_index")

    def _on_tab(self, change: dict[str, Any]) -> None:
        if change["new"] == 1:
            self.history.refresh()

    def show(self, result: RunResult) -> None:
        self.result = result
        self.result_view.show(result)
        self.review.load(result)
        self.widget.selected_index = 0

    def generate(self) -> RunResult | None:
        """Run the agent with the form's parameters, streaming into the view."""
        if self.form.validate():
            return None
        params = self.form.params()
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
        except NeonhubError as exc:
            self.result_view.show_error(str(exc))
            return None
        finally:
            self.form.generate.disabled = bool(self.form.errors)
        self.show(result)
        return result

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)  # type: ignore[no-untyped-call]
