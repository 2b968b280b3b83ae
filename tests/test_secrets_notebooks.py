"""The secrets property, smaller slice: papermill and the shared dashboard, every format in
one run.

The draft playground runs under papermill in live mode against ``tests/echoserver.py``,
every corpus credential in the kernel's environment, as many secrets as fit typed into
its parameters, and the model saying every one of the 58 in each answer (so they reach
the streamed draft, the result card, the store and the social posts). A second execution
types secrets into fields that refuse them (too long, not a number) and fails. Then the
dashboard is served over that store, as ``neonhub-nb dashboard --token`` serves it, from
a shell holding every credential, and opened in Chromium: the page, every websocket
frame it receives and the server's log are searched too.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import duckdb
import papermill as pm
import pytest

from neonhub_nb.dashboard.server import NOTEBOOK as DASHBOARD
from neonhub_nb.orchestrator import build_orchestrator
from neonhub_nb.redaction import REDACTED

from .browser import ROOT, chromium_page, require_chromium, voila
from .echoserver import EchoServer
from .secrets_matrix import HALVES, Coverage, Finder, pack
from .test_secrets_property import Property, _settings

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PLAYGROUND = ROOT / "notebooks" / "01_draft_playground.ipynb"
TOKEN = "dash-token-secrets-7c1e9b2f4a6d"
_WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
_INPUT_MODELS = {"TextModel", "TextareaModel", "TagsInputModel", "ComboboxModel"}
READY = "document.querySelector('.nh-kpis[data-state=ready]') !== null"


def _execute(out: Path, parameters: dict[str, Any]) -> str:
    """Run the playground; the executed notebook's text (and the error, if it failed).

    Left out: what the user typed, which papermill writes into the notebook as it was
    given (the injected parameters cell and ``metadata.papermill.parameters``), like the
    text of a form's input field. Every output and every other cell is kept."""
    error = ""
    try:
        pm.execute_notebook(
            str(PLAYGROUND), str(out), cwd=str(PLAYGROUND.parent), kernel_name="python3",
            progress_bar=False, parameters=parameters,
        )  # fmt: skip
    except pm.PapermillExecutionError as exc:
        error = str(exc)
    notebook = json.loads(out.read_text())
    notebook["metadata"]["papermill"].pop("parameters")
    for cell in notebook["cells"]:
        if "injected-parameters" in cell["metadata"].get("tags", []):
            cell["source"] = ""
    # The saved widget state: the form's input fields hold what was typed, as above.
    state = notebook["metadata"].get("widgets", {}).get(_WIDGET_STATE, {}).get("state", {})
    for model in state.values():
        if model["model_name"] in _INPUT_MODELS:
            model["state"]["value"] = ""
    return json.dumps(notebook, ensure_ascii=False) + "\n" + error


def test_no_secret_reaches_papermill_or_the_dashboard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_chromium()
    half = HALVES["env"]
    values = [entry.value for entry in half.entries]
    finder, coverage = Finder(half.entries), Coverage()
    started = time.perf_counter()
    with EchoServer(also_say=(" ".join(values),)) as echo:
        db = tmp_path / "store" / "neonhub.duckdb"
        settings = _settings(half, "live", db, echo, mock_connectors=True)
        for name, value in settings.environ.items():
            monkeypatch.setenv(name, value)  # the kernel inherits it
        fits = [v for v in values if "," not in v and v.isprintable()]
        keywords, _ = pack(fits, 200)
        parameters = {
            "mode": "live",
            "topic": pack(fits, 200)[0][0],
            "audience": pack(fits[20:], 200)[0][0],
            "primary_keyword": next(v for v in fits if len(v) <= 80),
            "secondary_keywords": ", ".join(keywords[:10]),
            "reviewer": fits[1],
        }
        for name, value in parameters.items():
            coverage.typed(half.entries, str(value), name, "papermill")
        coverage.typed(half.entries, " ".join(values), "model answer", "echoed")
        executed = _execute(tmp_path / "ok.ipynb", parameters)
        coverage.check(finder, "executed notebook", executed)
        assert "PapermillExecutionError" not in executed
        assert REDACTED in executed  # the echoed secrets reached the notebook, redacted
        refused = _execute(
            tmp_path / "refused.ipynb",
            {"mode": "live", "topic": values[-6], "word_count": values[0], "reviewer": ""},
        )
        coverage.check(finder, "executed notebook (refused)", refused)
        assert "must be" in refused  # the refusal names the rule
        prop = Property(half, settings, build_orchestrator(settings))
        prop.coverage = coverage
        prop.sinks(db, tmp_path / "export", [])
    con = duckdb.connect(str(db), read_only=True)
    recorded = con.execute("SELECT intent, status FROM agent_runs").fetchall()
    con.close()
    # The playground's article and social posts, both answered by the echoing model.
    assert ("content.generate_article", "succeeded") in recorded, recorded

    # The dashboard, from a shell holding every credential, with the token.
    shell = {**settings.environ, "NEONHUB_DB": str(db)}
    log = tmp_path / "voila.log"
    with (
        voila(DASHBOARD, {"NEONHUB_DB": str(db)}, log, token=TOKEN, base_env=shell) as url,
        chromium_page(height=2400) as (page, _),
    ):
        frames: list[Any] = []
        page.on("websocket", lambda ws: ws.on("framereceived", lambda d: frames.append(d)))
        page.goto(f"{url}?token={TOKEN}", timeout=120_000)
        page.wait_for_function(READY, timeout=90_000)
        page.get_by_role("button", name="All modes").click()
        page.wait_for_timeout(1500)
        texts = page.eval_on_selector_all(".nh-runs select option", "els => els.map(e => e.text)")
        assert texts, "the dashboard lists the recorded runs"
        for index in range(min(len(texts), 3)):  # each run's detail and timeline
            page.locator(".nh-runs select").select_option(index=index)
            page.locator(".nh-detail").wait_for(timeout=30_000)
            page.wait_for_timeout(500)
            coverage.check(finder, "dashboard page", page.content())
        drafts = page.locator(".nh-drafts select option")
        if drafts.count() > 1:
            page.locator(".nh-drafts select").select_option(index=1)
            page.wait_for_timeout(1000)
        coverage.check(finder, "dashboard page", page.content())
        received = [f if isinstance(f, str) else f.decode("utf-8", "replace") for f in frames]
        coverage.check(finder, "dashboard websocket", "\n".join(received))
    coverage.check(finder, "dashboard server log", log.read_bytes())
    seconds = time.perf_counter() - started
    report = coverage.report()
    print(f"\npapermill + dashboard: {seconds:.1f} s; {report}; sinks: {sorted(coverage.sinks)}")
    assert not coverage.leaks, report
    assert coverage.sinks["dashboard websocket"] > 10_000  # the page's data came that way
