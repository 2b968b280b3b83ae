"""One form control per field of an agent's pydantic parameter model, chosen by its type.

=====================================  =========================================
field type                             control
=====================================  =========================================
``Literal[...]`` (``| None``)          dropdown (with an empty choice if optional)
``tuple[Literal[...], ...]``           tag input limited to those choices
``tuple[str, ...]`` (emails, keywords) tag input
``bool``                               checkbox
``date`` (``| None``)                  date picker (may stay empty if optional)
``int`` / ``float``                    text box: any input is kept and checked, so a
                                       value out of range is an error, never clamped
``str`` (``| None``)                   text box (a text area for long text)
=====================================  =========================================

Only fields pydantic calls required are marked "(required)"; an optional field left
empty is ``None``, which its model accepts. A control turns its widget's value into
the raw value the model validates (:meth:`FieldControl.read`) and shows a raw value
(:meth:`FieldControl.show`), refusing with ``ValueError`` what its widget cannot hold.
"""

from __future__ import annotations

import html
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import ipywidgets as w
from pydantic.fields import FieldInfo
from traitlets import TraitError

from .redaction import safe_value

__all__ = ["LABEL_WIDTH", "FieldControl", "field_control"]

LABEL_WIDTH = "150px"
_LONG_TEXT = 2000  # characters above which a text field gets a text area
_NONE_CHOICE = "(none)"


@dataclass
class FieldControl:
    """The widget of one parameter and how its value maps to the model's raw input."""

    name: str
    widget: w.ValueWidget
    required: bool
    kind: str
    _read: Callable[[Any], Any]
    _show: Callable[[Any], Any]
    #: What the form shows: the widget, or the widget beside its label.
    view: w.Widget | None = None

    def __post_init__(self) -> None:
        if self.view is None:
            self.view = self.widget

    def read(self) -> Any:
        """The raw value for the model (``None``: left empty)."""
        return self._read(self.widget.value)

    def show(self, value: Any) -> None:
        """Put ``value`` in the widget; ``ValueError`` if the widget cannot hold it."""
        try:
            self.widget.value = self._show(value)
        except (ValueError, TypeError, TraitError) as exc:
            raise ValueError(str(exc)) from None


def _unwrap_optional(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, type(int | None)) and len(args) == 1:
        return args[0]
    return annotation


def _bounds(info: FieldInfo) -> tuple[Any, Any]:
    found = {type(m).__name__: m for m in info.metadata}
    return getattr(found.get("Ge"), "ge", None), getattr(found.get("Le"), "le", None)


def _max_length(info: FieldInfo) -> int | None:
    for meta in info.metadata:
        if hasattr(meta, "max_length"):
            return int(meta.max_length)
    return None


def _text_or_none(value: Any) -> str | None:
    text = str(value or "").strip()
    return text or None


def _number(kind: type) -> Callable[[Any], Any]:
    def read(value: Any) -> Any:
        text = str(value or "").strip().replace("_", "")
        if not text:
            return None
        try:
            return kind(text)
        except ValueError:
            try:  # "600.0" is a whole number written as a float
                number = float(text)
            except ValueError:
                return text  # the model names the rule ("must be a whole number")
            return int(number) if kind is int and number.is_integer() else text

    return read


def _items(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    raise ValueError(f"expected a list of values, got {safe_value(value)}")


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _default(info: FieldInfo) -> Any:
    return None if info.is_required() else info.default


def field_control(name: str, info: FieldInfo) -> FieldControl:
    """The control for field ``name`` of a parameter model (see the module's table)."""
    annotation = _unwrap_optional(info.annotation)
    required = info.is_required()
    label = name.replace("_", " ")
    style = {"description_width": LABEL_WIDTH}
    layout = w.Layout(width="560px")
    hint = info.description or ""
    default = _default(info)
    origin = typing.get_origin(annotation)

    if origin is typing.Literal:
        choices = list(typing.get_args(annotation))
        options: list[Any] = (
            choices
            if required or default is not None
            else [
                (_NONE_CHOICE, None),
                *[(str(c), c) for c in choices],
            ]
        )
        widget: w.ValueWidget = w.Dropdown(
            options=options,
            value=default if default is not None else (choices[0] if required else None),
            description=label,
            style=style,
            layout=layout,
            tooltip=hint or None,
        )
        return FieldControl(name, widget, required, "choice", lambda v: v, lambda v: v)

    if origin is tuple:
        item = (typing.get_args(annotation) or (str,))[0]
        allowed = list(typing.get_args(item)) if typing.get_origin(item) is typing.Literal else []
        widget = w.TagsInput(
            value=list(default or ()),
            allowed_tags=allowed,
            allow_duplicates=False,
            tooltip=hint or None,
            layout=w.Layout(width="100%"),
        )
        caption = w.HTML(
            f"<div style='text-align:right;padding-right:8px'>{html.escape(label)}</div>",
            layout=w.Layout(width=LABEL_WIDTH, min_width=LABEL_WIDTH),
            tooltip=hint or None,
        )
        row = w.HBox(
            [caption, w.Box([widget], layout=w.Layout(width="402px"))],
            layout=w.Layout(width="560px", align_items="center"),
        )
        row.add_class("neonhub-tags-field")
        return FieldControl(name, widget, required, "tags", lambda v: list(v), _items, row)

    if annotation is bool:
        widget = w.Checkbox(
            value=bool(default), description=label, style=style, indent=True, tooltip=hint or None
        )
        return FieldControl(name, widget, required, "checkbox", bool, _checkbox_value)

    if annotation is date:
        widget = w.DatePicker(value=default, description=label, style=style, tooltip=hint or None)
        return FieldControl(name, widget, required, "date", lambda v: v, _as_date)

    if annotation in (int, float):
        low, high = _bounds(info)
        span = f"{low}–{high}" if low is not None and high is not None else ""
        kind_word = "whole number" if annotation is int else "number"
        widget = w.Text(
            value="" if default is None else str(default),
            description=label,
            placeholder=" ".join(p for p in (kind_word, span, "(required)" * required) if p),
            style=style,
            layout=w.Layout(width="360px"),
            tooltip=hint or None,
        )
        return FieldControl(
            name,
            widget,
            required,
            "number",
            _number(annotation),
            _text_of,
        )

    long_text = (_max_length(info) or 0) > _LONG_TEXT
    text_class = w.Textarea if long_text else w.Text
    placeholder = hint + (" (required)" if required else "")
    widget = text_class(
        value="" if default is None else str(default),
        description=label,
        placeholder=placeholder.strip(),
        style=style,
        layout=w.Layout(width="560px", height="120px") if long_text else layout,
    )
    if required:  # left empty: None, which the model reports as "is required"
        return FieldControl(name, widget, required, "text", lambda v: str(v) or None, _text_of)
    if default is not None:  # a default cleared is "", which the model refuses by its rule
        return FieldControl(name, widget, required, "text", str, _text_of)
    return FieldControl(name, widget, required, "text", _text_or_none, _text_of)


def _text_of(value: Any) -> str:
    return "" if value is None else str(value)


def _checkbox_value(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {safe_value(value)}")
