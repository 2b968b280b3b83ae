"""Values are checked where they enter (issue examples 1 and 8): one error type
(InvalidInputError, ``field: rule``) from the Python API, the CLI, settings and papermill
parameters, nothing written; and a run that fails fast ends cleanly."""

from __future__ import annotations

import json
from pathlib import Path

import papermill as pm
import pytest

from neonhub_nb import run_agent
from neonhub_nb.config import InvalidSettingError, load_settings
from neonhub_nb.errors import ConfigError, InvalidInputError
from neonhub_nb.models import RunRequest

from .audit_support import neonhub, one_error_line

ROOT = Path(__file__).resolve().parents[1]
PARAMS = {"topic": "Email marketing", "primary_keyword": "bakery newsletter"}
BIG = "x" * (10 * 1024 * 1024)


def _nothing_written(db: Path) -> None:
    spool = db.with_name(db.name + ".spool")
    segments = list(spool.glob("*.jsonl")) if spool.exists() else []
    assert all(path.stat().st_size == 0 for path in segments), segments
    assert not db.exists()


@pytest.mark.parametrize(
    ("labels", "rule"),
    [
        ({"experiment_id": 5}, "experiment_id: must be text (got int)"),
        ({"experiment_id": BIG}, "experiment_id: must be at most 200 characters"),
        ({"campaign": BIG}, "campaign: must be at most 200 characters"),
        ({"variant": BIG}, "variant: must be at most 200 characters"),
        ({"prompt_version": BIG}, "prompt_version: must be at most 200 characters"),
        ({"campaign": "spring\nlaunch"}, "campaign: must be printable text"),
        ({"campaign": "c\udcff"}, "campaign: must be valid UTF-8 text"),
        ({"campaign": "   "}, "campaign: must not be empty"),
        ({"seed": -1}, "seed: must be a whole number from 0 to 2147483647 (got -1)"),
        ({"seed": 2**31}, "seed: must be a whole number from 0 to 2147483647"),
        ({"seed": "seven"}, "seed: must be a whole number from 0 to 2147483647"),
        ({"seed": 1.5}, "seed: must be a whole number"),
        ({"seed": True}, "seed: must be a whole number"),
        ({"prompt_version": "v99"}, "prompt_version: prompt 'content.article' has no version"),
    ],
)
def test_run_agent_refuses_bad_labels_in_one_line_and_writes_nothing(
    tmp_path: Path, labels: dict[str, object], rule: str
) -> None:
    db = tmp_path / "s.duckdb"
    settings = load_settings({"NEONHUB_DB": str(db)})
    with pytest.raises(InvalidInputError) as caught:
        run_agent("content.generate_article", PARAMS, settings=settings, **labels)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(rule), message
    assert "\n" not in message and len(message) < 300
    _nothing_written(db)


@pytest.mark.parametrize(
    ("params", "rule"),
    [
        ({**PARAMS, "secondary_keywords": [BIG]}, "secondary_keywords: items must be at most 200"),
        # "a, b" as the CLI and papermill give a list: held to the same per-item limit
        ({**PARAMS, "secondary_keywords": f"ok, {'k' * 201}"}, "secondary_keywords: items must"),
        ({**PARAMS, "topic": BIG}, "topic: must be at most 60000 characters"),
        ({**PARAMS, "topic": "bad \udcff byte"}, "topic: must be valid UTF-8 text"),
    ],
)
def test_params_refuse_oversized_and_undecodable_text(
    tmp_path: Path, params: dict[str, object], rule: str
) -> None:
    db = tmp_path / "s.duckdb"
    with pytest.raises(InvalidInputError, match=rule):
        run_agent(
            "content.generate_article", params, settings=load_settings({"NEONHUB_DB": str(db)})
        )
    _nothing_written(db)


def test_run_request_is_the_same_error_type() -> None:
    with pytest.raises(InvalidInputError, match=r"^seed: "):
        RunRequest(intent="content.generate_article", seed=-5)
    with pytest.raises(InvalidInputError, match=r"^surprise: unknown field"):
        RunRequest(intent="content.generate_article", surprise=1)


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        ((b"--campaign", b"c\xff"), "error: campaign: must be valid UTF-8 text"),
        ((b"-p", b"audience=\xffowners"), "error: audience: must be valid UTF-8 text"),
        (("--experiment", "e" * 100_000), "error: experiment_id: must be at most 200 characters"),
        (("--prompt-version", "nope"), "error: prompt_version: prompt 'content.article' has no"),
        (("--prompt-version", "v" * 100_000), "error: prompt_version: must be at most 200"),
        (("--seed", "abc"), "error: seed: must be a whole number from 0 to 2147483647"),
        (("--seed", "-3"), "error: seed: must be a whole number from 0 to 2147483647"),
    ],
)
def test_cli_options_give_one_line_and_write_nothing(
    tmp_path: Path, args: tuple[str | bytes, ...], rule: str
) -> None:
    db = tmp_path / "s.duckdb"
    result = neonhub("run", "content.generate_article", "-p", "topic=Email marketing",
                     "-p", "primary_keyword=kw", *args, db=db)  # fmt: skip
    assert result.returncode == 2
    line = one_error_line(result)
    assert line.startswith(rule), line
    assert len(line) < 300
    _nothing_written(db)


@pytest.mark.parametrize(
    ("variable", "value", "rule"),
    [
        ("NEONHUB_PRICES", '{"gpt-4o-mini": [NaN, 0.6]}', "prices must be finite"),
        ("NEONHUB_PRICES", '{"gpt-4o-mini": [Infinity, 0.6]}', "prices must be finite"),
        ("NEONHUB_MAX_COST_USD", "nan", "must be a finite number"),
        ("NEONHUB_INGEST_INTERVAL", "-1", "must be at least 0.01"),
    ],
)
def test_settings_refuse_non_finite_values_with_the_same_error_type(
    tmp_path: Path, variable: str, value: str, rule: str
) -> None:
    """Issue example 1 began with a NaN price: a cost of NaN, a spending cap that never
    trips. It is refused where it enters, as InvalidInputError and ConfigError both."""
    with pytest.raises(InvalidSettingError) as caught:
        load_settings({variable: value})
    assert isinstance(caught.value, InvalidInputError) and isinstance(caught.value, ConfigError)
    assert caught.value.field == variable and rule in caught.value.rule
    db = tmp_path / "s.duckdb"
    result = neonhub("run", "content.generate_article", "-p", "topic=Email marketing",
                     "-p", "primary_keyword=kw", db=db, env={variable: value})  # fmt: skip
    assert result.returncode == 2
    assert one_error_line(result).startswith(f"error: {variable}: ")
    _nothing_written(db)


def test_papermill_parameters_get_the_same_error_and_record_nothing(tmp_path: Path) -> None:
    import os

    notebook = ROOT / "notebooks" / "regression" / "agent_run.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as caught:
        pm.execute_notebook(
            str(notebook),
            str(tmp_path / "out.ipynb"),
            cwd=str(notebook.parent),
            kernel_name="python3",
            progress_bar=False,
            parameters={"seed": -1, "params_json": json.dumps(PARAMS)},
        )
    assert caught.value.ename == "InvalidInputError"
    assert caught.value.evalue.startswith("seed: must be a whole number from 0 to 2147483647")
    _nothing_written(Path(os.environ["NEONHUB_DB"]))


def test_a_fast_failing_run_ends_cleanly_and_is_recorded(tmp_path: Path) -> None:
    """A live run against a closed port fails in milliseconds; the process used to end
    with "can't register atexit after shutdown" and leave the run un-ingested."""
    db = tmp_path / "s.duckdb"
    env = {
        "NEONHUB_MODE": "live",
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "NEONHUB_LLM_MAX_RETRIES": "0",
    }
    result = neonhub("run", "content.generate_article", "-p", "topic=Email marketing",
                     "-p", "primary_keyword=kw", db=db, env=env)  # fmt: skip
    assert result.returncode == 1
    assert result.stdout.startswith("failed  run_")
    assert result.stderr == ""
    listed = neonhub("runs", "--json", db=db)
    assert [row["status"] for row in json.loads(listed.stdout)] == ["failed"]
    assert listed.stderr == ""


def test_an_agent_metric_that_is_not_finite_fails_its_run_and_is_recorded(
    tmp_path: Path,
) -> None:
    """A NaN from an agent's own measure is refused where it is made: the run is recorded
    as failed, and nothing NaN reaches the spool."""
    from neonhub_nb.agents.base import AgentOutput, DraftOutput
    from neonhub_nb.agents.catalog import AgentSpec
    from neonhub_nb.api import register_agent
    from neonhub_nb.models import AgentParams, Metric
    from neonhub_nb.store import AuditStore

    class Params(AgentParams):
        topic: str

    class NanAgent:
        name = "test"

        def run(self, params: Params, ctx: object) -> AgentOutput:
            return AgentOutput(
                output={"topic": params.topic},
                draft=DraftOutput(title="T", content="body", metadata={}),
                metrics=(Metric(name="score", value=float("nan")),),
            )

    register_agent(
        AgentSpec(
            intent="test.nan_metric",
            agent="test",
            description="returns a NaN metric",
            params_model=Params,
            factory=NanAgent,
        )
    )
    db = tmp_path / "s.duckdb"
    result = run_agent(
        "test.nan_metric", {"topic": "x"}, settings=load_settings({"NEONHUB_DB": str(db)})
    )
    assert result.status == "failed"
    assert result.error is not None and "finite number" in result.error
    store = AuditStore(db, background=False)
    assert store.runs()["status"].tolist() == ["failed"]
    assert store.quarantine_counts().total == 0
    store.close()
