"""A team's store under load and faults, on a real PostgreSQL.

Several simulated machines (each its own spool folder and, where the tests may set it,
its own host name) record mock runs through ``run_agent`` in separate processes; every
run id a process printed is then looked up in the database. Faults are real: the server
is stopped for 30 s while the writers go on, an ingester's transaction is cut by
``pg_terminate_backend`` or by ``SIGKILL`` of its process while it waits inside a batch,
and a machine vanishes without a word (its writers' leases expire).

Exactly once is checked with a test instrument, not by counting rows alone (a primary
key would hide a batch applied twice): a trigger logs every tool execution row proposed
for insertion, so a row proposed by two committed transactions would be logged twice.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest

from neonhub_nb.errors import StoreError
from neonhub_nb.metrics.exporter import MetricsApp
from neonhub_nb.records import RunRecord
from neonhub_nb.store.pg import PgStore, connect
from neonhub_nb.store.pg.upsert import LEASE_EXPIRED
from neonhub_nb.widgets import HistoryPanel

from .backends import team_urls
from .pg import PG_SCRIPT, PgCluster

ROOT = Path(__file__).resolve().parents[1]
WRITER = ROOT / "tests" / "team_writer.py"
T = TypeVar("T")


def _can_name_hosts() -> bool:
    """Whether a process may get a host name of its own (a UTS namespace: root only)."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    probe = subprocess.run(
        ["unshare", "--uts", "sh", "-c", "hostname probe-host && hostname"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == "probe-host"


NAME_HOSTS = _can_name_hosts()


@dataclass(frozen=True)
class Machine:
    """A simulated machine: a host name, its spool root, the store's URL it writes to.

    Its processes run under their own host name when the tests may set one (root, in a
    UTS namespace), so the machine id is made from it as on a real machine; elsewhere
    the machine id file is written beforehand with the host name in it.
    """

    host: str
    root: Path
    url: str

    def _prefix(self) -> list[str]:
        if NAME_HOSTS:
            return ["unshare", "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.host]
        self.root.mkdir(parents=True, exist_ok=True)
        machine_file = self.root / "machine-id"
        if not machine_file.exists():
            machine_file.write_text(f"{self.host}-{secrets.token_hex(6)}\n")
        return []

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "NEONHUB_DB": self.url,
            "NEONHUB_SPOOL_DIR": str(self.root),
            "NEONHUB_MODE": "mock",
        }

    def writer(self, runs: int, pause: float = 0.0) -> Writer:
        """An analyst's process recording ``runs`` runs, ``pause`` seconds apart."""
        self.root.mkdir(parents=True, exist_ok=True)
        out = self.root.parent / f"{self.host}-{secrets.token_hex(3)}"
        with open(f"{out}.out", "w") as stdout, open(f"{out}.err", "w") as stderr:
            process = subprocess.Popen(
                [*self._prefix(), sys.executable, str(WRITER), str(runs), str(pause)],
                stdout=stdout,
                stderr=stderr,
                env=self.env(),
                cwd=ROOT,
            )
        return Writer(process, Path(f"{out}.out"), Path(f"{out}.err"))

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``neonhub-nb ARGS`` in a new process of this machine."""
        return subprocess.run(
            [*self._prefix(), sys.executable, "-m", "neonhub_nb", *args],
            capture_output=True,
            text=True,
            env=self.env(),
            cwd=ROOT,
            timeout=120,
            check=False,
        )


@dataclass
class Writer:
    process: subprocess.Popen[bytes]
    out: Path
    err: Path

    def ids(self) -> list[str]:
        """The run ids printed so far: each one's ``run_agent`` call had returned."""
        return [line for line in self.out.read_text().splitlines() if line.strip()]

    def stderr(self) -> str:
        return self.err.read_text()

    def finish(self, timeout: float = 180) -> list[str]:
        """Wait for the process; its run ids, after checking it ended cleanly and silently."""
        code = self.process.wait(timeout=timeout)
        assert code == 0, self.stderr()
        assert self.stderr() == "", self.stderr()  # no warning, no traceback to the analyst
        return self.ids()


def wait_for(what: Callable[[], T], timeout: float = 60, every: float = 0.05) -> T:
    """``what()`` once it is truthy; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value:
            return value
        assert time.monotonic() < deadline, f"still waiting after {timeout} s: {what}"
        time.sleep(every)


def log_proposals(owner_url: str) -> None:
    """Test instrument: log every tool execution row proposed for insertion (in the
    proposing transaction, so a rolled-back batch leaves no trace and a batch committed
    twice leaves two)."""
    with connect(owner_url, autocommit=True) as con:
        con.execute("CREATE TABLE proposed (execution_id TEXT)")
        con.execute(
            """CREATE FUNCTION log_proposed() RETURNS trigger LANGUAGE plpgsql
               SECURITY DEFINER SET search_path = public AS $$ BEGIN
                   INSERT INTO proposed VALUES (NEW.execution_id); RETURN NEW;
               END $$"""
        )
        con.execute(
            "CREATE TRIGGER log_proposed BEFORE INSERT ON tool_executions "
            "FOR EACH ROW EXECUTE FUNCTION log_proposed()"
        )


def stored_runs(owner_url: str) -> dict[str, str]:
    """run id -> status, as the team store holds them."""
    with connect(owner_url) as con:
        rows = con.execute("SELECT run_id, status FROM agent_runs").fetchall()
    return {str(run_id): str(status) for run_id, status in rows}


def assert_each_proposed_once(owner_url: str) -> int:
    """Every tool execution was proposed by exactly one committed batch; how many."""
    with connect(owner_url) as con:
        twice = con.execute(
            "SELECT execution_id, count(*) FROM proposed GROUP BY 1 HAVING count(*) > 1"
        ).fetchall()
        row = con.execute(
            "SELECT (SELECT count(*) FROM proposed), (SELECT count(*) FROM tool_executions)"
        ).fetchone()
    assert twice == []
    assert row is not None and row[0] == row[1] > 0, row
    return int(row[1])


def machines_of(owner_url: str) -> dict[str, int]:
    """Machine id -> segments it pushed, from the offsets the database keeps."""
    with connect(owner_url) as con:
        rows = con.execute(
            "SELECT split_part(segment, '/', 1), count(*) FROM spool_segments GROUP BY 1"
        ).fetchall()
    return {str(machine): int(n) for machine, n in rows}


def host_of(machine: str) -> str:
    """The host name part of a machine id (``<host>-<12 hex digits>``)."""
    host, _, suffix = machine.rpartition("-")
    assert re.fullmatch(r"[0-9a-f]{12}", suffix), machine
    return host


# ------------------------------------------------------------ several machines at once
def test_several_machines_ingesting_at_once_land_every_run_once(
    pg_url: str, tmp_path: Path
) -> None:
    writer_url, _ = team_urls(pg_url)
    log_proposals(pg_url)
    hosts = ("laptop-ana", "laptop-ben", "ci-runner")
    machines = [Machine(host, tmp_path / host, writer_url) for host in hosts]
    # Ana has two kernels open: two processes of one machine share its spool.
    writers = [m.writer(40) for m in machines] + [machines[0].writer(40)]

    printed = [writer.finish() for writer in writers]

    ids = [run_id for batch in printed for run_id in batch]
    assert [len(batch) for batch in printed] == [40, 40, 40, 40]
    assert len(set(ids)) == 160
    assert stored_runs(pg_url) == dict.fromkeys(ids, "succeeded")
    assert assert_each_proposed_once(pg_url) >= 160
    seen = machines_of(pg_url)
    assert sorted(host_of(machine) for machine in seen) == sorted(hosts)
    with connect(pg_url) as con:
        leases = con.execute(
            "SELECT machine, count(*), count(released_at) FROM writer_leases GROUP BY 1"
        ).fetchall()
    per_host = {host_of(str(m)): (int(n), int(released)) for m, n, released in leases}
    # Each process's lease, on its own machine; all released once their spools were in.
    assert per_host == {"laptop-ana": (2, 2), "laptop-ben": (1, 1), "ci-runner": (1, 1)}
    for machine in machines:
        assert not list(machine.root.glob("*/*.jsonl")), "pushed segments are deleted"


# --------------------------------------------------------- killed mid-transaction
def _waiting_backend(owner_url: str) -> int | None:
    """The writer role's backend that waits on a lock inside a transaction, if any."""
    with connect(owner_url, autocommit=True) as con:
        row = con.execute(
            """SELECT pid FROM pg_stat_activity
               WHERE usename = 'neonhub_writer' AND wait_event_type = 'Lock'
                 AND xact_start IS NOT NULL"""
        ).fetchone()
    return int(row[0]) if row else None


@pytest.mark.parametrize("kill", ["pg_terminate_backend", "SIGKILL"])
def test_an_ingester_killed_mid_transaction_lands_every_run_once(
    pg_url: str, tmp_path: Path, kill: str
) -> None:
    writer_url, _ = team_urls(pg_url)
    log_proposals(pg_url)
    machine = Machine("laptop-kim", tmp_path / "kim", writer_url)
    # Hold a lock that makes the ingester's first batch wait after it has begun: its
    # transaction has locked its offsets and written rows, and is not committed.
    blocker = connect(pg_url)
    blocker.execute("LOCK TABLE tool_executions IN SHARE MODE")
    try:
        writer = machine.writer(30, 0.02)
        pid = wait_for(lambda: _waiting_backend(pg_url))
        wait_for(lambda: len(writer.ids()) >= 5)  # the analyst goes on meanwhile
        assert stored_runs(pg_url) == {}  # nothing of the batch is visible: uncommitted
        if kill == "pg_terminate_backend":
            with connect(pg_url, autocommit=True) as con:
                con.execute("SELECT pg_terminate_backend(%s)", [pid])
        else:
            writer.process.send_signal(signal.SIGKILL)
            writer.process.wait(timeout=30)
    finally:
        blocker.rollback()
        blocker.close()

    if kill == "pg_terminate_backend":
        ids = writer.finish()  # the ingester reconnected and pushed, without a word
        assert len(ids) == 30
    else:
        ids = writer.ids()
        pushed = machine.cli("ingest")  # the machine's next process pushes the dead one's
        assert pushed.returncode == 0, pushed.stderr
    stored = stored_runs(pg_url)
    assert {run_id: stored.get(run_id) for run_id in ids} == dict.fromkeys(ids, "succeeded")
    # The only other run may be the one the killed process was in the middle of.
    others = {run_id: status for run_id, status in stored.items() if run_id not in ids}
    assert set(others.values()) <= {"abandoned"}
    assert len(others) <= (1 if kill == "SIGKILL" else 0)
    assert assert_each_proposed_once(pg_url) >= len(ids)
    assert _waiting_backend(pg_url) is None


# ------------------------------------------------------- a machine that never comes back
VANISH = """
import os
from datetime import datetime, timedelta
from neonhub_nb.config import load_settings
from neonhub_nb.records import RunRecord
from neonhub_nb.store import open_store

store = open_store(load_settings(), background=False)
at = datetime(2026, 5, 1, 9, 0)
for run_id in ("run_gone", "run_back"):
    store.record_run_started(RunRecord(run_id=run_id, agent="content",
        intent="content.generate_article", status="running", mode="mock", started_at=at))
store.flush()  # both runs are in the team store, running; the lease is taken
store.record_run_finished(RunRecord(run_id="run_back", agent="content",
    intent="content.generate_article", status="succeeded", mode="mock", started_at=at,
    finished_at=at + timedelta(seconds=2), duration_ms=2000.0))  # spooled, never pushed
os._exit(0)  # the machine goes away: no close, no push
"""


def _run(run_id: str, status: str = "running") -> RunRecord:
    return RunRecord.model_validate(
        {
            "run_id": run_id,
            "agent": "content",
            "intent": "content.generate_article",
            "status": status,
            "mode": "mock",
            "started_at": datetime.now(UTC).replace(tzinfo=None),
        }
    )


def _run_states(owner_url: str) -> dict[str, tuple[str, str | None]]:
    with connect(owner_url) as con:
        rows = con.execute("SELECT run_id, status, error FROM agent_runs").fetchall()
    return {str(r): (str(s), e) for r, s, e in rows}


def test_a_machine_that_never_comes_back_has_its_runs_abandoned_when_its_lease_expires(
    pg_url: str, tmp_path: Path
) -> None:
    writer_url, _ = team_urls(pg_url)
    gone = Machine("laptop-gone", tmp_path / "gone", writer_url)
    vanished = subprocess.run(
        [*gone._prefix(), sys.executable, "-c", VANISH],
        env=gone.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert vanished.returncode == 0, vanished.stderr
    assert {k: v[0] for k, v in _run_states(pg_url).items()} == {
        "run_gone": "running",
        "run_back": "running",
    }
    # Another machine, whose own writer is quiet but alive, with a 1.2 s lease rule.
    other = PgStore(
        writer_url,
        spool_root=tmp_path / "other",
        background=False,
        lease_minutes=0.02,
    )
    other.record_run_started(_run("run_alive"))
    other.flush()
    time.sleep(0.2)
    other.flush()
    # Within the lease: nothing is abandoned.
    assert {k: v[0] for k, v in _run_states(pg_url).items()} == {
        "run_gone": "running",
        "run_back": "running",
        "run_alive": "running",
    }

    time.sleep(1.5)  # the gone machine's lease runs out; the quiet writer's is renewed
    report = other.flush()

    states = _run_states(pg_url)
    assert report.abandoned == 2
    assert states["run_alive"] == ("running", None)
    for run_id in ("run_gone", "run_back"):
        status, error = states[run_id]
        assert status == "abandoned"
        assert error is not None and error.startswith(LEASE_EXPIRED)
        assert "machine laptop-gone-" in error
    with connect(pg_url) as con:
        rows = con.execute("SELECT machine, expired_at IS NOT NULL FROM writer_leases").fetchall()
    assert {host_of(str(m)): bool(e) for m, e in rows} == {
        "laptop-gone": True,
        host_of(other.machine): False,
    }

    # The machine comes back: its next process pushes what it spooled. A run's real end
    # replaces the presumed abandonment; a run that never ended stays abandoned.
    back = gone.cli("ingest")
    assert back.returncode == 0, back.stderr
    states = _run_states(pg_url)
    assert states["run_back"] == ("succeeded", None)
    assert states["run_gone"][0] == "abandoned"
    other.record_run_finished(_run("run_alive", "succeeded"))
    other.close()
    assert _run_states(pg_url)["run_alive"][0] == "succeeded"


# ---------------------------------------------------------------- the server away 30 s
@pytest.fixture
def own_cluster(pg_cluster: PgCluster) -> Iterator[PgCluster]:
    """A cluster of this test's own (it is stopped and started), beside the session's."""
    folder = Path(tempfile.mkdtemp(prefix="neonhub-pg-outage-", dir="/tmp"))
    started = subprocess.run(
        [str(PG_SCRIPT), "start", str(folder)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert started.returncode == 0, started.stderr
    cluster = PgCluster(started.stdout.strip().splitlines()[-1], folder)
    try:
        yield cluster
    finally:
        subprocess.run([str(PG_SCRIPT), "stop", str(folder)], check=False, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


WAITING = re.compile(r"(\d+) runs \((\d+) events\) recorded on this machine are waiting")


def test_a_server_away_for_30_s_loses_nothing_and_says_what_waits(
    own_cluster: PgCluster, tmp_path: Path
) -> None:
    owner = own_cluster.url
    writer_url, reader_url = team_urls(owner)
    hosts = ("laptop-ana", "laptop-ben", "ci-runner")
    machines = [Machine(host, tmp_path / host, writer_url) for host in hosts]
    writers = [m.writer(400, 0.1) for m in machines]
    wait_for(lambda: all(len(w.ids()) >= 5 for w in writers))
    wait_for(lambda: len(stored_runs(owner)) >= 10)

    own_cluster.stop()
    stopped = time.monotonic()
    before = [len(w.ids()) for w in writers]
    time.sleep(12)
    # On Ana's laptop: the exporter (the reader role) and a kernel's History panel.
    exporter_store = PgStore(reader_url, read_only=True, spool_root=machines[0].root)
    app = MetricsApp(exporter_store)
    code, body = app.health()
    kernel = PgStore(writer_url, spool_root=machines[0].root)
    history = HistoryPanel(kernel, on_open=lambda _: None)
    shown = history.refresh()
    time.sleep(max(0.0, 30 - (time.monotonic() - stopped)))
    during = [len(w.ids()) for w in writers]
    own_cluster.start()
    restarted = time.monotonic()

    assert code == 503 and body["status"] == "degraded"
    assert body["store"]["reachable"] is False
    assert body["store"]["spool"]["waiting_runs"] > 0
    assert shown is False
    found = WAITING.search(history.message.value)
    assert found is not None, history.message.value
    assert int(found.group(1)) > 0
    # Writers kept recording through the outage, without an error.
    assert all(d > b + 20 for b, d in zip(before, during, strict=True)), (before, during)

    ids = [run_id for w in writers for run_id in w.finish(timeout=300)]
    landed = time.monotonic() - restarted
    assert len(ids) == 3 * 400 and len(set(ids)) == len(ids)
    assert stored_runs(owner) == dict.fromkeys(ids, "succeeded")
    code, body = app.health()
    assert code == 200 and body["store"]["spool"] == {"waiting_events": 0, "waiting_runs": 0}
    assert history.refresh() is True
    assert len(history.runs.options) == 20
    app.close()
    exporter_store.close()
    kernel.close()
    print(f"backlog landed {landed:.1f} s after the restart")


# --------------------------------------------------------- credentials stay out of sight
def _all_text(owner_url: str) -> str:
    """Every row of every table of the database, as text."""
    with connect(owner_url) as con:
        tables = [
            str(row[0])
            for row in con.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        ]
        return "\n".join(
            str(row[0])
            for table in tables
            for row in con.execute(f'SELECT t::text FROM "{table}" AS t').fetchall()
        )


NOTEBOOK_CELLS = [
    "import logging\nlogging.basicConfig(level=logging.DEBUG)",
    "from neonhub_nb import DraftParams, run_agent\n"
    "result = run_agent('content.generate_article', "
    "DraftParams(topic='t', primary_keyword='k', word_count=60))\nprint(result.run_id)",
    "from neonhub_nb.config import load_settings\nfrom neonhub_nb.runtime import default_runtime\n"
    "store = default_runtime().store(load_settings())\nprint(store)\nstore",
    "store.runs(limit=3)",
    "from neonhub_nb.store.pg import PgStore\nimport os\nPgStore(os.environ['AWAY_URL']).runs()",
]


def test_a_urls_password_reaches_no_log_error_record_or_notebook(
    pg_url: str,
    pg_cluster: PgCluster,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import logging

    import nbformat
    from nbclient import NotebookClient

    caplog.set_level(logging.DEBUG)
    team_urls(pg_url)
    password = "Pw-" + secrets.token_hex(8)
    with connect(pg_url, autocommit=True) as con:
        con.execute(f"ALTER ROLE neonhub_writer PASSWORD '{password}'")
    url = re.sub(r"//[^@]+@", f"//neonhub_writer:{password}@", pg_url) + "?sslmode=disable"
    port = int(re.search(r":(\d+)/", pg_url).group(1))  # type: ignore[union-attr]
    away = url.replace(f":{port}/", f":{_free_port()}/")
    seen: list[str] = []

    # A kernel records a run and reads it back; an error from a server that is away.
    store = PgStore(url, spool_root=tmp_path / "spool")
    from neonhub_nb import DraftParams, run_agent

    result = run_agent(
        "content.generate_article",
        DraftParams(topic="t", primary_keyword="k", word_count=60),
        store=store,
    )
    seen += [repr(store), str(store.runs()), json.dumps(store.status())]
    assert result.run_id in seen[1]
    with pytest.raises(StoreError, match=r"^sql: ") as refused:
        store.sql("SELECT nonsense FROM agent_runs")
    seen.append(str(refused.value))
    away_store = PgStore(away, spool_root=tmp_path / "spool-away", connect_timeout=1)
    away_store.record_run_started(_run("run_away"))  # recorded locally without a word
    with pytest.raises(StoreError, match="cannot") as unreachable:
        away_store.runs()
    seen += [str(unreachable.value), json.dumps(MetricsApp(away_store).health()[1])]
    assert "1 runs (1 events)" in seen[-2]
    # sslmode reaches libpq: this server has no TLS, so requiring it is refused.
    tls_store = PgStore(url.replace("sslmode=disable", "sslmode=require"), read_only=True)
    with pytest.raises(StoreError, match="SSL") as tls:
        tls_store.runs()
    tls_store.close()
    seen.append(str(tls.value))
    store.close()
    away_store.close(timeout=1)

    # The CLI, in fresh processes: a listing, a refused statement, a server away.
    env = {**os.environ, "NEONHUB_SPOOL_DIR": str(tmp_path / "spool")}
    outputs = []
    for args, target in (
        (["runs"], url),
        (["sql", "SELECT nonsense"], url),
        (["runs"], away),
        (["ingest"], away),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "neonhub_nb", *args],
            capture_output=True,
            text=True,
            env={**env, "NEONHUB_DB": target},
            timeout=120,
            check=False,
        )
        outputs.append(done.stdout + done.stderr)
    assert result.run_id in outputs[0]  # the listing shows the run
    assert "neonhub_writer:***@" in outputs[2]  # the error names the server, masked
    seen += outputs

    # A notebook on the team store, logging everything at DEBUG.
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    monkeypatch.setenv("NEONHUB_DB", url)
    monkeypatch.setenv("NEONHUB_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("AWAY_URL", away)
    NotebookClient(notebook, kernel_name="python3", timeout=120, allow_errors=True).execute(
        cwd=str(tmp_path)
    )
    saved = nbformat.writes(notebook)
    assert "cannot connect to postgresql://neonhub_writer:***@" in saved

    seen += [saved, caplog.text, _all_text(pg_url)]
    server_log = pg_cluster.folder / "postgres.log"
    if server_log.exists():
        seen.append(server_log.read_text(errors="replace"))
    leaks = [i for i, text in enumerate(seen) if password in text]
    assert leaks == [], [seen[i][:300] for i in leaks]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------- db init
def test_db_init_from_two_machines_at_once_hands_out_working_role_urls(
    pg_url: str, tmp_path: Path
) -> None:
    machines = [Machine(host, tmp_path / host, pg_url) for host in ("admin-1", "admin-2")]
    env = machines[0].env()
    # Roles belong to the whole cluster, which other tests share: names of its own.
    suffix = secrets.token_hex(4)
    command = [sys.executable, "-m", "neonhub_nb", "db", "init", pg_url]
    command += ["--writer", f"writer_{suffix}", "--reader", f"reader_{suffix}"]
    started = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT
        )
        for _ in machines
    ]
    outputs = [process.communicate(timeout=120) for process in started]
    assert [process.returncode for process in started] == [0, 0], outputs
    texts = [out for out, _ in outputs]
    # One applied the migrations, the other found none pending (it waited for the lock).
    applied = [bool(re.search(r"schema version \d+: applied \d+ migrations", t)) for t in texts]
    pending = ["no migration was pending" in t for t in texts]
    assert sorted(applied) == [False, True] and pending == [not a for a in applied], texts

    def url_of(output: str, who: str) -> str:
        found = re.search(rf"^{who}.*?(postgresql://\S+)$", output, re.M)
        assert found is not None, output
        return found.group(1)

    # One made the roles and shows their passwords this once; the other kept them (the
    # roles are set up under a lock of their own, so either may come first).
    first, second = sorted(texts, key=lambda t: "new passwords are shown only now" not in t)
    writer_url, reader_url = url_of(first, "writers"), url_of(first, "readers")
    assert "PASSWORD" not in writer_url + reader_url
    assert "PASSWORD" in url_of(second, "writers") and "PASSWORD" in url_of(second, "readers")
    store = PgStore(writer_url, spool_root=tmp_path / "analyst", background=False)
    store.record_run_started(_run("run_init"))
    store.close()
    reader = PgStore(reader_url, read_only=True)
    assert reader.runs()["run_id"].tolist() == ["run_init"]
    with pytest.raises(StoreError, match="read-only"):
        reader.sql("DELETE FROM agent_runs")
    reader.close()
