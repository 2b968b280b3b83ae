"""Controls that refuse what they cannot take, and a guard for handlers: nothing a page
sends makes the kernel send a traceback back.

ipywidgets applies a page's update (``set_state``) before any handler runs: a date the
widget cannot build (year 275760) or an index past the options raises there, and the
kernel's comm layer would log it where the page can see it. The ``Safe*`` controls catch
it: the value is not taken, the page's copy is set back, the server's log gets the
traceback, and ``on_rejected(control, reason)`` lets the dashboard say one line.

:func:`guard` does the same for handlers; :func:`server_log` is the logger whose lines
reach the Voila server's output, never a page.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import ipywidgets as w

from ..config import load_settings
from ..redaction import RedactingFilter, Redactor

__all__ = [
    "SafeDatePicker",
    "SafeDropdown",
    "SafePlay",
    "SafeSelect",
    "SafeToggleButtons",
    "guard",
    "server_log",
]

F = TypeVar("F", bound=Callable[..., Any])
_LOGGER = "neonhub_nb.dashboard"


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _server_handler() -> logging.Handler:
    """Where server-side lines go. In a kernel, ``sys.stderr`` (and file descriptor 2)
    are forwarded to every page connected to it; ipykernel keeps a copy of the original
    descriptor, which goes to the Voila server's output. Elsewhere: ``sys.stderr``."""
    copy = getattr(sys.stderr, "_original_stdstream_copy", None)
    if isinstance(copy, int):
        stream = open(os.dup(copy), "w", buffering=1, encoding="utf-8", closefd=True)  # noqa: SIM115
        return logging.StreamHandler(stream)
    return _CurrentStderr()


def _redactor() -> Redactor:
    """What the kernel's settings hold (its environment is allow-listed: the store's URL
    may still carry a password), on top of every format rule."""
    try:
        return Redactor.from_environ(load_settings().environ)
    except Exception:  # settings the dashboard will refuse anyway: rules alone
        return Redactor()


def server_log() -> logging.Logger:
    """The dashboard's logger, writing only to the server's output, redacted.

    First call in a process also routes there the loggers through which library errors
    would reach a page (in a kernel, a record no handler takes is printed to stderr, which
    is sent to every connected page): ``Comm`` and ``ipykernel.comm`` (errors in widget
    messages), ``py.warnings``, and the root logger if nothing else handles it.
    """
    logger = logging.getLogger(_LOGGER)
    if not logger.handlers:
        handler = _server_handler()
        handler.setFormatter(logging.Formatter("[%(levelname)s %(asctime)s %(name)s] %(message)s"))
        handler.addFilter(RedactingFilter(_redactor()))
        for name in (_LOGGER, "Comm", "ipykernel.comm", "py.warnings"):
            other = logging.getLogger(name)
            other.handlers = [handler]
            other.propagate = False
        root = logging.getLogger()
        if not root.handlers:
            root.addHandler(handler)
        logger.setLevel(logging.INFO)
        logging.captureWarnings(True)
    return logger


def guard(say: Callable[..., None], action: str) -> Callable[[F], F]:
    """Wrap a handler: any exception is logged with its traceback on the server and
    the viewer reads ``Could not <action>; the error was logged on the server.``"""

    def wrap(handler: F) -> F:
        @functools.wraps(handler)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except Exception:
                server_log().exception("dashboard: could not %s", action)
                try:
                    say(f"Could not {action}; the error was logged on the server.")
                except Exception:  # the page is gone: the log has it
                    server_log().exception("dashboard: could not show the error")
                return None

        return guarded  # type: ignore[return-value]

    return wrap


class _Refusing:
    """Takes a page's update only if it is one a page sends and the widget can take;
    otherwise reverts the page's copy and says so."""

    on_rejected: Callable[[Any, str], None] | None = None
    # What a page legitimately changes (besides _view_count, the drawn views' count).
    _page_keys: frozenset[str] = frozenset({"index"})
    _none_ok = False  # may the page clear the choice?

    def set_state(self, sync_data: dict[str, Any]) -> None:
        keys = set(sync_data) - {"_view_count"}
        reason = None
        if not keys <= self._page_keys:
            reason = f"keys {sorted(keys - self._page_keys)!r} are not a page's to set"
        elif not self._none_ok and any(sync_data[k] is None for k in keys):
            reason = "an empty choice"
        if reason is None:
            try:
                super().set_state(sync_data)  # type: ignore[misc]
                return
            except Exception:
                server_log().warning(
                    "dashboard: refused an update of %s (%s)",
                    type(self).__name__,
                    ", ".join(sorted(keys))[:200],
                    exc_info=True,
                )
        else:
            server_log().warning("dashboard: refused an update of %s: %s",
                                 type(self).__name__, reason[:200])  # fmt: skip
        try:
            self.send_state()  # type: ignore[attr-defined]  # the page's copy goes back
            if self.on_rejected is not None:
                self.on_rejected(self, "that value cannot be used; it was not applied.")
        except Exception:
            server_log().exception("dashboard: could not answer a refused update")


class SafeDatePicker(_Refusing, w.DatePicker):  # type: ignore[misc]  # no stubs
    """A date picker that refuses a date Python cannot hold (clearing it is allowed)."""

    _page_keys = frozenset({"value"})
    _none_ok = True


class SafeDropdown(_Refusing, w.Dropdown):  # type: ignore[misc]  # no stubs
    """A dropdown that refuses an index outside its options."""


class SafeSelect(_Refusing, w.Select):  # type: ignore[misc]  # no stubs
    """A list box that refuses an index outside its options."""

    _none_ok = True


class SafeToggleButtons(_Refusing, w.ToggleButtons):  # type: ignore[misc]  # no stubs
    """Toggle buttons that refuse an index outside their options."""


class SafePlay(_Refusing, w.Play):  # type: ignore[misc]  # no stubs
    """The auto-refresh timer: the page may only tick it and start or stop it."""

    _page_keys = frozenset({"value", "playing"})
