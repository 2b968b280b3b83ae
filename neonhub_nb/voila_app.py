"""Voila as neonhub-nb serves the dashboard. Run as ``python -m neonhub_nb.voila_app
NOTEBOOK [voila options]``; ``dashboard.server.voila_command`` builds that command line.

What it changes in Voila 0.5, and why (``docs/dashboard.md``, "Threat model"):

* **Kernels start with an allow-listed environment** (``dashboard.server.KERNEL_ENV``):
  the store's path and what Python and Jupyter need. Voila hands each kernel the
  server's whole environment plus the viewer's request (``QUERY_STRING``,
  ``VOILA_REQUEST_URL``: the ``?token=`` URL), and a preheated kernel the *previous*
  viewer's URL; :class:`AllowListKernelManager` filters all of it.
* **In token mode every route requires the token** (or the login cookie it sets),
  static files and websockets included; only ``/login`` and ``/logout`` stay open and
  the page itself redirects to ``/login``. Voila checks only the page and kernel routes.
* **No ``/voila/query/<kernel>`` websocket.** It hands a preheated kernel its viewer's
  request (query string included) and answers anyone who connects, token or not. Our
  kernels never ask for it (``AuditDashboard.start`` waits for the page to draw), and
  the request info Voila would keep for it is no longer kept.
* **The token leaves the environment at start** (``JUPYTER_TOKEN``) and goes straight
  to Voila's identity provider, so nothing started later can read it there.
* **A preheated kernel learns of its viewer at once**: Voila hands the kernel's page
  out at the request, but the kernel only hears from the page once its scripts have
  loaded and drawn the widgets (1-2 s later under load); :func:`signal_handed_out` sends
  it ``PAGE_SIGNAL`` at the request, so it reads the store while the page loads. (What
  ``/voila/query`` did, without a socket anyone could open.)
* **Refills of the preheated pool are spread out** (:data:`REFILL_SPACING_S` apart):
  Voila starts one ``fill_delay`` after each kernel it hands out, so five viewers arriving
  together made five kernels start at once while their pages were still loading
  (measured in ``bench/bench_dashboard.py``: slower than with one preheated kernel).

The offline ``neonhub`` template and the command line are in ``dashboard.server``.
"""

from __future__ import annotations

import hmac
import inspect
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from traitlets import List, Unicode
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.tornado.handler import TornadoVoilaHandler

from .dashboard.server import PAGE_SIGNAL, kernel_environment
from .redaction import RedactingFilter, Redactor

__all__ = [
    "REFILL_SPACING_S",
    "AllowListKernelManager",
    "NeonhubVoila",
    "main",
    "requiring_login",
    "signal_handed_out",
    "spread_refills",
]

REFILL_SPACING_S = 2.0


class AllowListKernelManager(AsyncMappingKernelManager):
    """Jupyter's kernel manager, starting every kernel with only the allow-listed part
    (``kernel_environment``) of the environment it is handed, plus ``extra_env``."""

    extra_env = List(
        Unicode(), help="More variables a kernel may see (tests serving other notebooks)."
    ).tag(config=True)

    async def start_kernel(self, **kwargs: Any) -> str:  # type: ignore[override]  # async
        kwargs["env"] = kernel_environment(kwargs.get("env") or os.environ, self.extra_env)
        kernel_id: str = await super().start_kernel(**kwargs)
        return kernel_id


def _authenticated(handler: Any, token: str) -> bool:
    """Whether ``handler``'s request carries the token or the login cookie it set."""
    if isinstance(handler, JupyterHandler):  # its prepare() identified the user
        return handler.current_user is not None
    given = handler.get_argument("token", "")
    header = handler.request.headers.get("Authorization", "")
    if not given and header.lower().startswith(("token ", "bearer ")):
        given = header.split(None, 1)[1].strip()
    if given and hmac.compare_digest(given.encode(), token.encode()):
        return True
    provider = handler.settings["identity_provider"]
    cookie = handler.get_secure_cookie(
        provider.get_cookie_name(handler), **provider.get_secure_cookie_kwargs
    )
    return bool(cookie)


def requiring_login(handler_class: type[Any], token: str) -> type[Any]:
    """``handler_class`` answering 403 to a request without the token or its login
    cookie, before anything else (``prepare`` runs before a websocket upgrade too)."""

    async def prepare(self: Any) -> None:
        result = handler_class.prepare(self)
        if inspect.isawaitable(result):
            await result
        if self._finished:
            return
        if not _authenticated(self, token):
            # Not raise HTTPError: Jupyter's error page needs a setting Voila lacks.
            self.set_status(403)
            self.finish("403: this dashboard needs its token")

    return type(f"LoginRequired{handler_class.__name__}", (handler_class,), {"prepare": prepare})


def spread_refills(kernel_manager: Any, spacing: float = REFILL_SPACING_S) -> None:
    """Make each refill of ``kernel_manager``'s preheated pool start at least
    ``spacing`` seconds after the one scheduled before it."""
    fill = kernel_manager.fill_if_needed
    next_start = [0.0]

    def spaced(delay: float | None = None, *args: Any, **kwargs: Any) -> None:
        wanted = kernel_manager.fill_delay if delay is None else delay
        now = time.monotonic()
        start = max(now + wanted, next_start[0])
        next_start[0] = start + spacing
        fill(start - now, *args, **kwargs)

    kernel_manager.fill_if_needed = spaced


def signal_handed_out(kernel_manager: Any) -> None:
    """Send ``PAGE_SIGNAL`` to each preheated kernel ``kernel_manager`` hands to a request."""
    hand_out = kernel_manager.get_rendered_notebook

    async def handed_out(*args: Any, **kwargs: Any) -> Any:
        result = await hand_out(*args, **kwargs)
        kernel_id = result[2]
        try:
            process = kernel_manager.get_kernel(kernel_id).provisioner.process
            os.kill(process.pid, PAGE_SIGNAL)
        except Exception:  # the kernel still reads once the page draws it
            kernel_manager.log.warning("could not signal kernel %s", kernel_id, exc_info=True)
        return result

    kernel_manager.get_rendered_notebook = handed_out


class NeonhubVoila(Voila):  # type: ignore[misc]  # no stubs
    """Voila with the changes listed in this module's docstring."""

    def init_settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = super().init_settings()
        if hasattr(self.kernel_manager, "fill_delay"):  # preheating
            spread_refills(self.kernel_manager)
            signal_handed_out(self.kernel_manager)
        return settings

    def init_handlers(self) -> list[Any]:
        token = self.identity_provider.token or ""
        login_routes = {h[1] for h in self.identity_provider.get_handlers()}
        handlers = []
        for pattern, handler_class, *rest in super().init_handlers():
            if handler_class is RequestInfoSocketHandler:
                continue
            if token and handler_class not in login_routes | {TornadoVoilaHandler}:
                handler_class = requiring_login(handler_class, token)
            handlers.append((pattern, handler_class, *rest))
        return handlers


def _keep_no_request_info(cls: Any, msg: Any) -> None:
    """Voila keeps each preheated kernel's request (its ?token= query string) until a
    /voila/query socket asks for it; with no such socket, keep nothing."""


def main(argv: Sequence[str] | None = None) -> None:
    """Serve like ``python -m voila``, with the changes in this module's docstring."""
    token = os.environ.pop("JUPYTER_TOKEN", None)
    RequestInfoSocketHandler.send_updates = classmethod(_keep_no_request_info)
    app = NeonhubVoila.instance()
    app.initialize(list(sys.argv[1:] if argv is None else argv))
    if token:
        app.token = token  # read by init_settings() in start(), never put back in os.environ
    # The server's log (and what kernels write to it) is redacted: the credentials of its
    # environment (a postgresql:// URL's password) and the dashboard's token.
    redactor = Redactor.from_environ(os.environ).with_secrets([token] if token else [])
    for logger in (app.log, logging.getLogger()):
        for handler in logger.handlers:
            handler.addFilter(RedactingFilter(redactor))
    app.start()


if __name__ == "__main__":
    main()
