"""``neonhub-nb dashboard`` (Voila) and ``neonhub-nb synth`` (stores for demos and benchmarks).

The Voila command line is built here, in one function, so the CLI, the browser tests and
the benchmark all serve the dashboard exactly the same way: sources stripped, kernels of
closed pages culled, no CDN, the store path handed over in ``NEONHUB_DB``.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType

import click

from ..config import is_store_url, load_settings, mask_url

__all__ = [
    "DEFAULT_PORT",
    "KERNEL_ENV",
    "NOTEBOOK",
    "PAGE_SIGNAL",
    "SERVER_ENV",
    "TEMPLATE",
    "VoilaOptions",
    "dashboard_command",
    "kernel_environment",
    "synth_command",
    "template_path",
    "voila_command",
    "voila_environment",
]

DEFAULT_PORT = 8866
# The notebook lives in the repository's dashboards/ folder (the package is installed
# editable).
NOTEBOOK = Path(__file__).resolve().parents[2] / "dashboards" / "audit_dashboard.ipynb"
# Voila's lab template minus its two CDN stylesheets (neonhub_nb/voila/templates/neonhub),
# so pages render with no internet; Voila finds it through JUPYTER_PATH.
TEMPLATE = "neonhub"
_DATA_DIR = Path(__file__).resolve().parents[1]  # holds voila/templates/neonhub

# What a dashboard kernel may see: where the store is, what Python, Jupyter and the
# locale need, and VOILA_PREHEAT (a preheated kernel waits for its page). Nothing else:
# no credentials, no token, no viewer's request.
KERNEL_ENV = frozenset({
    "NEONHUB_DB", "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_ALL",
    "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV",
    "SYSTEMROOT", "IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR",
    "JUPYTER_RUNTIME_DIR", "JUPYTER_PLATFORM_DIRS", "JPY_PARENT_PID", "VOILA_PREHEAT",
})  # fmt: skip
# Sent by the Voila server (neonhub_nb.voila_app) to a preheated kernel the moment it
# hands it to a viewer's request: the kernel reads the store while the page loads. A
# signal whose default action is to be ignored: a kernel handed out before its notebook
# installed the handler must not die of it (SIGUSR1 would terminate it).
PAGE_SIGNAL = signal.SIGWINCH
# The Voila server needs besides: where to find the template and its own config.
SERVER_ENV = KERNEL_ENV | {"JUPYTER_PATH", "JUPYTER_CONFIG_PATH"}


def template_path() -> str:
    """The folder to put on JUPYTER_PATH for Voila to find the ``neonhub`` template."""
    return str(_DATA_DIR)


def kernel_environment(env: Mapping[str, str], extra: Iterable[str] = ()) -> dict[str, str]:
    """Only the variables of :data:`KERNEL_ENV` (and ``LC_*``, and ``extra``) from ``env``."""
    allowed = KERNEL_ENV | set(extra)
    return {k: v for k, v in env.items() if k in allowed or k.startswith("LC_")}


@dataclass(frozen=True)
class VoilaOptions:
    """How Voila serves a notebook.

    Culling: a kernel whose page is gone (no websocket) and that has been idle
    ``cull_idle_timeout`` s is shut down, within ``cull_interval`` s more. It is what
    frees a closed page's kernel: Voila's own shutdown on page unload is refused by
    the server's XSRF check (voila-dashboards/voila#1458), and a plain GET that never
    connects leaves a kernel behind too.

    Preheating: ``pool_size`` kernels start and run the notebook before anyone asks
    (imports, widgets), then wait, busy, for a viewer (``AuditDashboard.start``);
    a busy kernel is never culled. A used kernel is replaced ``fill_delay`` s later,
    late enough not to compete for the CPU with the page it was just handed to.

    Kernels see only :data:`KERNEL_ENV` of the environment, plus ``kernel_env_extra``
    (for serving other notebooks, as the browser tests do; never credentials).
    """

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    token: bool = False
    cull_idle_timeout: int = 120
    cull_interval: int = 30
    pool_size: int = 1
    fill_delay: float = 3.0
    kernel_env_extra: tuple[str, ...] = ()


def voila_command(notebook: Path, options: VoilaOptions = VoilaOptions()) -> list[str]:
    """The argv that serves ``notebook`` read-only (see :class:`VoilaOptions`) with
    ``neonhub_nb.voila_app``: Voila with clean kernels and every route behind the token."""
    argv = [
        sys.executable, "-m", "neonhub_nb.voila_app", str(notebook),
        "--no-browser",
        f"--Voila.ip={options.host}",
        f"--port={options.port}",
        "--Voila.port_retries=0",
        # No code on the page, no tracebacks (they could show paths or values).
        "--strip_sources=True",
        "--VoilaConfiguration.show_tracebacks=False",
        f"--template={TEMPLATE}",  # Voila's lab template minus its CDN stylesheets
        "--theme=light",
        "--VoilaConfiguration.multi_kernel_manager_class="
        "neonhub_nb.voila_app.AllowListKernelManager",
        f"--MappingKernelManager.cull_idle_timeout={options.cull_idle_timeout}",
        f"--MappingKernelManager.cull_interval={options.cull_interval}",
        # Open pages keep their kernel however long they stay idle.
        "--MappingKernelManager.cull_connected=False",
    ]  # fmt: skip
    if options.pool_size > 0:
        argv += [
            "--preheat_kernel=True",
            f"--pool_size={options.pool_size}",
            f"--VoilaKernelManager.fill_delay={options.fill_delay}",
        ]
    argv += [f"--AllowListKernelManager.extra_env={name}" for name in options.kernel_env_extra]
    if options.token:
        # The token itself travels in JUPYTER_TOKEN (voila_environment): not in argv,
        # where any user of the machine could read it with ps.
        argv.append("--Voila.auto_token=True")
    return argv


def voila_environment(
    db: Path | str, base: Mapping[str, str], token: str | None = None, extra: Iterable[str] = ()
) -> dict[str, str]:
    """The Voila process's environment: the :data:`SERVER_ENV` part of ``base`` (and
    ``extra``), the store (``NEONHUB_DB``), the template (``JUPYTER_PATH``) and the token,
    which the launcher takes back out at start. Credentials in ``base`` stay behind."""
    allowed = SERVER_ENV | set(extra)
    env = {k: v for k, v in base.items() if k in allowed or k.startswith("LC_")}
    paths = [template_path(), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    env["JUPYTER_PATH"] = os.pathsep.join(paths)
    # A team store's URL goes as it is (its reader role's password reaches the kernels
    # through the environment only, never argv or a log).
    env["NEONHUB_DB"] = db if isinstance(db, str) and is_store_url(db) else str(Path(db).absolute())
    if token is not None:
        env["JUPYTER_TOKEN"] = token
    return env


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command(name="dashboard")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535),
    help="Port to listen on.",
)  # fmt: skip
@click.option(
    "--token/--no-token",
    default=False,
    show_default=True,
    help="Require a random access token (printed in the URL); use it beyond 127.0.0.1.",
)
@click.option(
    "--db",
    default=None,
    help="Audit store to show: a DuckDB file or a team store's postgresql:// URL (give it "
    "the reader role's); default: $NEONHUB_DB.",
)
@click.option(
    "--cull-idle-timeout",
    default=120,
    show_default=True,
    type=click.IntRange(1),
    help="Seconds before the kernel of a closed page is shut down.",
)
@click.option(
    "--pool-size",
    default=1,
    show_default=True,
    type=click.IntRange(0),
    help="Kernels kept ready (notebook already run) for the next viewers; 0: none.",
)
def dashboard_command(
    host: str, port: int, token: bool, db: str | None, cull_idle_timeout: int, pool_size: int
) -> None:
    """Serve the read-only audit dashboard with Voila (dashboards/audit_dashboard.ipynb)."""
    if not NOTEBOOK.exists():
        click.echo(f"error: dashboard notebook not found at {NOTEBOOK}", err=True)
        sys.exit(2)
    settings = load_settings()
    target: Path | str
    if db is not None and is_store_url(db):
        target, shown_db = db.strip(), mask_url(db.strip())
    elif db is None and settings.store_url:
        target, shown_db = settings.store_url, settings.store_label
    else:
        target = Path(db).expanduser().absolute() if db else settings.db_path.absolute()
        shown_db = str(target)
    db_path = target if isinstance(target, Path) else None
    if db_path is not None and not db_path.exists():
        click.echo(
            f"note: no audit store at {db_path} yet; the dashboard says so until a run is "
            "recorded (or use --db, or neonhub-nb synth for a demo store)",
            err=True,
        )
    # A token of the operator's own (JUPYTER_TOKEN) survives restarts; else a random one.
    secret = (settings.environ.get("JUPYTER_TOKEN") or secrets.token_urlsafe(24)) if token else None
    if not token and not _is_loopback(host):
        click.echo(
            f"warning: serving on {host} without --token: anyone who can reach it can read "
            "the audit trail",
            err=True,
        )
    options = VoilaOptions(host=host, port=port, token=token,
                           cull_idle_timeout=cull_idle_timeout, pool_size=pool_size)  # fmt: skip
    # The URL to hand out: "0.0.0.0" is where the server listens, not where to go.
    shown = {"127.0.0.1": "localhost", "::1": "localhost"}.get(host, host)
    if host in ("0.0.0.0", "::", ""):
        shown = socket.gethostname()
    url = f"http://{shown}:{port}/" + (f"?token={secret}" if secret else "")
    click.echo(f"dashboard of {shown_db}: {url}  (Ctrl-C to stop)")
    proc = subprocess.Popen(
        voila_command(NOTEBOOK, options),
        env=voila_environment(target, os.environ, secret),
        cwd=NOTEBOOK.parent,
    )
    # Service managers stop with SIGTERM: stop Voila (and so its kernels) as on Ctrl-C,
    # instead of leaving it running without its parent.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        sys.exit(proc.wait())
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _end(value: str) -> datetime:
    from ..clock import utcnow

    if value == "now":
        return utcnow().replace(second=0, microsecond=0)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected 'now' or an ISO date") from None


@click.command(name="synth")
@click.option("--runs", required=True, type=click.IntRange(0), help="How many runs to write.")
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="New DuckDB file to create (never overwritten).",
)
@click.option("--days", default=30, show_default=True, type=click.IntRange(1),
              help="Days the runs are spread over.")  # fmt: skip
@click.option(
    "--end",
    default="now",
    show_default=True,
    help="When the last run starts (UTC): 'now' for a live-looking demo, or an ISO date "
    "for a reproducible store.",
)
@click.option("--seed", default=0, show_default=True, help="Same seed and end, same rows.")
def synth_command(runs: int, out: Path, days: int, end: str, seed: int) -> None:
    """Write a realistic synthetic audit store (runs, tool calls, metrics, drafts)."""
    from ..errors import NeonhubError
    from ..synth import generate_synthetic_store

    started = time.perf_counter()
    try:
        path = generate_synthetic_store(out, runs, seed=seed, days=days, end=_end(end))
    except NeonhubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"wrote {runs:,} runs over {days} days to {path} "
               f"in {time.perf_counter() - started:.0f} s")  # fmt: skip
