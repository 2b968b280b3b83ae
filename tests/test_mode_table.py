"""One mode decision: every entry point wires a run the same way and records what ran.

The oracle below is written from the rules in the README and DESIGN (not from the code):
the model follows the run's mode; connectors follow it too unless ``USE_MOCK_CONNECTORS``
is given (true: mocks in every mode; false: the vendors' APIs, except in replay, which
never calls a vendor).
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from neonhub_nb import run_agent
from neonhub_nb.config import MODE_TABLE, Settings, load_settings
from neonhub_nb.llm import MockLLM
from neonhub_nb.llm.live import OpenAILLM
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.replay import ReplayIndex, ReplayLLM
from neonhub_nb.store import AuditStore
from neonhub_nb.widgets import DraftStudio

from .faultserver import Fault, FaultServer

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = {"topic": "Email marketing", "primary_keyword": "bakery newsletter", "word_count": 60}


def expected(env_mode: str, mocks: str | None, override: str | None) -> tuple[str, str, str]:
    """(mode, model, connectors) a run must use and record."""
    mode = override or env_mode
    if mocks == "true":
        connectors = "mock"
    elif mocks == "false":
        connectors = "replay" if mode == "replay" else "live"
    else:
        connectors = mode
    return mode, mode, connectors


def environment(env_mode: str, mocks: str | None, url: str, db: Path) -> dict[str, str]:
    env = {"NEONHUB_MODE": env_mode, "OPENAI_BASE_URL": url, "NEONHUB_DB": str(db)}
    if mocks is not None:
        env["USE_MOCK_CONNECTORS"] = mocks
    return env


COMBINATIONS = list(
    itertools.product(["mock", "live", "replay"], [None, "true", "false"], [None, *MODE_TABLE])
)


@pytest.mark.parametrize(("env_mode", "mocks", "override"), COMBINATIONS)
def test_every_combination_is_wired_as_the_rules_say(
    env_mode: str, mocks: str | None, override: str | None, tmp_path: Path
) -> None:
    env = environment(env_mode, mocks, "http://127.0.0.1:9/v1", tmp_path / "s.duckdb")
    settings = load_settings(env)
    if override is not None:
        settings = settings.with_mode(override)
    wiring = settings.wiring
    assert (wiring.mode, wiring.model, wiring.connectors) == expected(env_mode, mocks, override)
    assert settings.use_mock_connectors is (wiring.connectors == "mock")
    # The orchestrator builds exactly what the wiring says.
    with AuditStore.from_settings(settings) as store:
        replay = ReplayIndex()
        orchestrator = build_orchestrator(settings, store=store, replay=replay)
        model_types = {"mock": MockLLM, "live": OpenAILLM, "replay": ReplayLLM}
        assert isinstance(orchestrator.llm, model_types[wiring.model])
        assert orchestrator.connectors is not None
        if wiring.connectors == "live":
            # Credentials are checked before any client exists: the live code was chosen.
            with pytest.raises(Exception, match="missing environment variables"):
                orchestrator.connectors("email")
        else:
            assert orchestrator.connectors("email").transport == (
                "mock" if wiring.connectors == "mock" or not replay.http_requests else "replay"
            )
        assert (orchestrator.guard is not None) is MODE_TABLE[wiring.mode].guarded


# The entry points, each recording one run; the store is then read back.
def via_api(settings: Settings, override: str | None, tmp_path: Path) -> None:
    run_agent("content.generate_article", ARTICLE, mode=override, settings=settings)


def via_cli(settings: Settings, override: str | None, tmp_path: Path) -> None:
    args = [sys.executable, "-m", "neonhub_nb", "run", "content.generate_article", "--json"]
    args += [f"-p{key}={value}" for key, value in ARTICLE.items()]
    if override is not None:
        args += ["--mode", override]
    done = subprocess.run(
        args, env={**os.environ, **settings.environ}, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def via_widget(settings: Settings, override: str | None, tmp_path: Path) -> None:
    studio = DraftStudio(settings=settings, mode=override, **ARTICLE)
    assert studio.form.mode.value == (override or settings.mode)
    assert studio.generate() is not None, studio.result_view.card.value


def via_papermill(settings: Settings, override: str | None, tmp_path: Path) -> None:
    import papermill as pm

    os.environ.update(settings.environ)  # the kernel inherits the environment
    parameters: dict[str, Any] = {
        "intent": "content.generate_article",
        "params_json": json.dumps(ARTICLE),
    }
    # A notebook always states its mode in its parameters cell: the environment's unless
    # papermill is told otherwise.
    parameters["mode"] = override or settings.mode
    pm.execute_notebook(
        str(ROOT / "notebooks" / "regression" / "agent_run.ipynb"),
        str(tmp_path / "out.ipynb"),
        parameters=parameters,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(ROOT / "notebooks" / "regression"),
    )


ENTRY_POINTS = {"api": via_api, "cli": via_cli, "widget": via_widget, "papermill": via_papermill}
RUN_CASES = [
    ("mock", None, None),
    ("live", None, "mock"),  # the example: mock asked for under a live environment
    ("mock", None, "live"),
    ("live", "true", None),
    ("mock", "false", None),
]


@pytest.mark.slow
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize(("env_mode", "mocks", "override"), RUN_CASES)
def test_every_entry_point_records_the_same_wiring(
    entry: str,
    env_mode: str,
    mocks: str | None,
    override: str | None,
    server: FaultServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "store" / "neonhub.duckdb"
    env = environment(env_mode, mocks, server.url, db)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings(env)
    ENTRY_POINTS[entry](settings, override, tmp_path)
    with AuditStore.from_settings(settings) as store:
        rows = store.sql("SELECT mode, model_mode, connectors_mode, status FROM agent_runs")
    assert rows.values.tolist() == [[*expected(env_mode, mocks, override), "succeeded"]], (
        rows.to_dict("records")
    )


def test_a_mock_run_never_reaches_a_live_vendor_even_in_a_live_environment(
    tmp_path: Path,
) -> None:
    """Issue 12's example: NEONHUB_MODE=live, no credentials, ``--mode mock``, an email
    with a recipient. The mock model and the mock Gmail answer; the trail says so."""
    env = {
        **os.environ,
        "NEONHUB_MODE": "live",
        "OPENAI_API_KEY": "sk-test-not-a-real-key-0000000000",
        "NEONHUB_DB": str(tmp_path / "s.duckdb"),
    }
    env.pop("USE_MOCK_CONNECTORS", None)
    done = subprocess.run(
        [sys.executable, "-m", "neonhub_nb", "run", "email.compose_campaign", "--mode", "mock",
         "-p", "product=Sourdough kit", "-p", "goal=demo requests", "-p", "audience=bakery owners",
         "-p", "send_to=a@example.com", "--json"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert (result["mode"], result["model_mode"], result["connectors_mode"]) == (
        "mock",
        "mock",
        "mock",
    )
    sends = [t for t in result["tool_executions"] if t["tool"] == "connector.email"]
    assert [t["status"] for t in sends] == ["succeeded"]
    assert "http" not in sends[0]["response"]  # mock connectors keep no vendor exchanges


def test_replay_runs_answer_from_recordings(tmp_path: Path, server: FaultServer) -> None:
    """The widget offers replay (answers from recorded live runs); a replayed live run is
    recorded as replay for both transports."""
    server.push(Fault.ok())
    settings = load_settings(
        {"NEONHUB_MODE": "live", "OPENAI_BASE_URL": server.url, "NEONHUB_DB": str(tmp_path / "s")}
    )
    live = run_agent("content.generate_article", ARTICLE, settings=settings)
    assert (live.model_mode, live.connectors_mode) == ("live", "live")
    replayed = run_agent("content.generate_article", ARTICLE, settings=settings, mode="replay")
    assert replayed.status == "succeeded", replayed.error
    assert (replayed.mode, replayed.model_mode, replayed.connectors_mode) == (
        "replay",
        "replay",
        "replay",
    )
    assert replayed.content == live.content
