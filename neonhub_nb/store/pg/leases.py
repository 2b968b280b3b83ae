"""Writer leases: how a team store tells a writer that is gone from one that is quiet.

On one machine the spool's ``flock`` says who is alive, and a dead process's unfinished
runs become ``abandoned`` as soon as its spool is in. Across machines nobody can see
another machine's locks, so each machine's ingester renews a lease for every live
writer process it sees (its segment's ``flock`` is held), at every pass and at least
every :data:`HEARTBEAT_S` seconds. The rule (docs/team.md):

* A lease not renewed for ``lease_minutes`` (server clock: ``now()``, so machines' clocks
  do not matter) has expired. The next ingester of any machine that runs a pass marks it
  expired and the writer's ``queued``/``running`` runs ``abandoned``, with an error
  starting :data:`~neonhub_nb.store.pg.upsert.LEASE_EXPIRED`, in the same transaction.
* A writer whose machine was only cut off comes back: its ingester renews the lease
  again, and a run's real end, when it arrives, replaces the presumed ``abandoned``.
* A writer its own machine saw die (free ``flock``, spool fully pushed) is released, and
  its unfinished runs are abandoned at once, as in the DuckDB store.

All functions run in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from .upsert import LEASE_EXPIRED

__all__ = [
    "DEFAULT_LEASE_MINUTES",
    "HEARTBEAT_S",
    "abandon_dead_writers",
    "expire_leases",
    "release_writers",
    "renew_leases",
]

#: Seconds between renewals while nothing else makes the ingester run.
HEARTBEAT_S = 30.0
DEFAULT_LEASE_MINUTES = 10.0
_DIED = "abandoned: the process that ran it exited before finishing"


def renew_leases(con: psycopg.Connection[Any], machine: str, writers: Sequence[str]) -> None:
    """Renew (or take) the leases of this machine's live ``writers``, at the server's now."""
    if not writers:
        return
    con.execute(
        """INSERT INTO writer_leases (writer_id, machine, heartbeat_at)
           SELECT w, %s, now() FROM unnest(%s::text[]) AS w
           ON CONFLICT (writer_id) DO UPDATE
           SET heartbeat_at = now(), machine = excluded.machine, expired_at = NULL""",
        [machine, sorted(writers)],
    )


def release_writers(con: psycopg.Connection[Any], machine: str, writers: Sequence[str]) -> None:
    """Mark the leases of ``writers``, seen to exit on this machine, released."""
    if not writers:
        return
    con.execute(
        """INSERT INTO writer_leases (writer_id, machine, heartbeat_at, released_at)
           SELECT w, %s, now(), now() FROM unnest(%s::text[]) AS w
           ON CONFLICT (writer_id) DO UPDATE SET released_at = now()""",
        [machine, sorted(writers)],
    )


def abandon_dead_writers(con: psycopg.Connection[Any], writers: Sequence[str]) -> list[str]:
    """Abandon the unfinished runs of ``writers`` seen to exit; their run ids."""
    if not writers:
        return []
    rows = con.execute(
        """UPDATE agent_runs SET status = 'abandoned', finished_at = now(),
               error = %s
           WHERE status IN ('queued', 'running') AND writer_id = ANY(%s)
           RETURNING run_id""",
        [_DIED, sorted(writers)],
    ).fetchall()
    return [str(row[0]) for row in rows]


def expire_leases(con: psycopg.Connection[Any], lease_minutes: float) -> tuple[int, list[str]]:
    """Expire every live lease silent for ``lease_minutes`` and abandon its writer's
    unfinished runs; ``(leases expired, run ids abandoned)``."""
    expired = con.execute(
        """UPDATE writer_leases SET expired_at = now()
           WHERE released_at IS NULL AND expired_at IS NULL
             AND heartbeat_at < now() - make_interval(secs => %s)
           RETURNING writer_id, machine, heartbeat_at""",
        [lease_minutes * 60.0],
    ).fetchall()
    abandoned: list[str] = []
    for writer_id, machine, heartbeat in expired:
        error = (
            f"{LEASE_EXPIRED} (machine {machine} last renewed it at "
            f"{heartbeat:%Y-%m-%d %H:%M:%S} UTC, over {lease_minutes:g} min before)"
        )
        rows = con.execute(
            """UPDATE agent_runs SET status = 'abandoned',
                   finished_at = now(), error = %s
               WHERE status IN ('queued', 'running') AND writer_id = %s RETURNING run_id""",
            [error, writer_id],
        ).fetchall()
        abandoned += [str(row[0]) for row in rows]
    return len(expired), abandoned
