"""``neonhub-nb metrics``: run the exporter in the foreground until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import click

from ..config import load_settings
from ..errors import NeonhubError
from ..store.backend import open_store
from .exporter import DEFAULT_PORT, start_exporter

__all__ = ["metrics_command"]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # Service managers stop with SIGTERM: shut down as cleanly as on Ctrl-C.
    raise KeyboardInterrupt


@click.command(name="metrics")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (127.0.0.1 keeps the exporter local).",
)
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--find-free-port",
    is_flag=True,
    help="If the port is taken, listen on a free one instead of failing.",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Only read the store: no migration, no ingestion of spooled runs.",
)
def metrics_command(host: str, port: int, find_free_port: bool, read_only: bool) -> None:
    """Serve Prometheus /metrics and /health for the audit store ($NEONHUB_DB: a DuckDB
    file or a team's postgresql:// URL; give the exporter the reader role's URL)."""
    try:
        store = open_store(load_settings(), read_only=read_only)
    except NeonhubError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    try:
        exporter = start_exporter(store, host=host, port=port, find_free_port=find_free_port)
    except NeonhubError as exc:
        store.close()
        click.echo(f"error: {store.redactor.text(str(exc))}", err=True)
        sys.exit(2)
    mode = "read-only" if read_only else "read-write"
    in_main = threading.current_thread() is threading.main_thread()
    # Signal handlers can only be set from the main thread (not so when embedded).
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        click.echo(
            f"serving {exporter.metrics_url} and {exporter.health_url} "
            f"for {store.label} ({mode}); Ctrl-C to stop"
        )
        exporter.wait()
    except KeyboardInterrupt:
        click.echo("stopping")
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)
        exporter.stop()
        store.close()
