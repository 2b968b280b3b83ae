"""Where a machine spools for a team store, and the machine's stable id.

Every machine keeps its own spool in front of the shared database (docs/team.md): runs
are appended locally, whether or not the server answers, and the machine's ingesters
push them. The spool of one store lives in ``<root>/<key>``:

* ``root`` is per user and machine (``~/.cache/neonhub-nb/spool``, or
  ``NEONHUB_SPOOL_DIR``), not the project's ``data/`` folder: kernels in ``notebooks/``,
  the CLI anywhere and CI jobs in other checkouts must all find each other's segments,
  since whoever ingests next pushes a dead process's runs; and ``flock`` liveness needs a
  local disk.
* ``key`` is a digest of the URL without its credentials (host, port, database, and the
  query parameters that pick a server): the writer's and the owner's URL of one
  database share a spool; two databases never do.

The machine id names this machine's rows in ``spool_segments`` and its writers'
leases. It is made once at random and kept in ``<root>/machine-id``: a host name alone is
not unique (CI runners are often all called ``runner``), and ``/etc/machine-id`` is
copied into every container of one image.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import socket
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from ...errors import StoreError

__all__ = ["MACHINE_ID_FILE", "machine_id", "spool_key", "team_spool_dir"]

MACHINE_ID_FILE = "machine-id"
# Query parameters that choose which server and database a URL reaches (the rest are
# how to talk to it: TLS files, timeouts, application name).
_TARGET_PARAMS = {"host", "hostaddr", "port", "dbname", "service"}
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


def spool_key(url: str) -> str:
    """A short digest of where ``url`` points, without user, password or TLS options."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = parts.port or 5432
    target = sorted((k, v) for k, v in parse_qsl(parts.query) if k.lower() in _TARGET_PARAMS)
    text = f"{host}:{port}{parts.path}?{target}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def team_spool_dir(root: Path, url: str) -> Path:
    """The spool folder of the store at ``url`` under ``root``."""
    return root / spool_key(url)


def machine_id(root: Path) -> str:
    """This machine's id, made once and kept in ``<root>/machine-id``.

    ``<short host name>-<12 random hex digits>``: readable in ``spool_segments`` and in
    the leases, unique without coordination. Safe when two processes start at once: the
    file is created with ``O_EXCL`` and the loser reads the winner's. Raises
    :class:`StoreError` when the folder cannot be written.
    """
    path = root / MACHINE_ID_FILE
    for _ in range(50):
        found = _read(path)
        if found:
            return found
        host = re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname().split(".")[0])[:32] or "host"
        made = f"{host}-{secrets.token_hex(6)}"
        try:
            root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            time.sleep(0.01)  # another process made it: read theirs once written
            continue
        except OSError as exc:
            raise StoreError(
                f"team spool {root}: cannot keep this machine's id there ({exc.strerror}): "
                "make the folder writable or set NEONHUB_SPOOL_DIR"
            ) from None
        try:
            os.write(fd, made.encode() + b"\n")
        finally:
            os.close(fd)
        return made
    raise StoreError(f"team spool {root}: {path} holds no machine id: delete it to make a new one")


def _read(path: Path) -> str | None:
    with contextlib.suppress(FileNotFoundError):
        text = path.read_text(errors="replace").strip()
        if _ID.match(text):
            return text
        if text:
            raise StoreError(
                f"team spool: {path} is not a machine id (got {text[:40]!r}): delete it"
            )
    return None
