"""The CLI as a user runs it: a real subprocess against a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from neonhub_nb.cli import cli

COMMANDS = sorted(cli.commands)


def neonhub(*args: str, env_db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEONHUB_DB": str(env_db)}
    return subprocess.run(
        [sys.executable, "-m", "neonhub_nb", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_run_prints_json_and_runs_and_show_find_it(tmp_path: Path) -> None:
    db = tmp_path / "cli.duckdb"
    done = neonhub(
        "run",
        "content.generate_article",
        "--param",
        "topic=Running shoes",
        "--param",
        "primary_keyword=trail running shoes",
        "-p",
        "word_count=300",
        "--json",
        env_db=db,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert "trail running shoes" in result["title"].lower()
    assert result["total_tokens"] == result["prompt_tokens"] + result["completion_tokens"]

    listed = neonhub("runs", "--json", env_db=db)
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [result["run_id"]]

    table = neonhub("runs", env_db=db)
    assert result["run_id"] in table.stdout and "succeeded" in table.stdout
    row = next(line for line in table.stdout.splitlines() if result["run_id"] in line).split()
    assert row[-2] == str(result["total_tokens"])  # a count, not 1146.0
    assert row[-1].startswith("$") and "e-" not in row[-1]

    shown = neonhub("show", result["run_id"], env_db=db)
    assert shown.returncode == 0, shown.stderr
    assert "llm.chat.completions" in shown.stdout
    assert "completion_tokens" in shown.stdout

    shown_json = json.loads(neonhub("show", result["run_id"], "--json", env_db=db).stdout)
    assert shown_json["draft"]["draft_id"] == result["draft_id"]
    assert shown_json["metrics"]["word_count"] == result["metadata"]["word_count"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["topic=", "primary_keyword=k"], "error: topic: must not be empty"),
        (
            ["topic=t", "primary_keyword=k", "word_count=10"],
            "error: word_count: must be between 50 and 5000 (got '10')",
        ),
        (["topic=t", "primary_keyword=k", "tone=angry"], "error: tone: must be one of"),
    ],
)
def test_bad_input_is_one_line_nonzero_and_writes_nothing(
    tmp_path: Path, params: list[str], message: str
) -> None:
    db = tmp_path / "bad.duckdb"
    args = ["run", "content.generate_article"]
    for pair in params:
        args += ["-p", pair]
    done = neonhub(*args, env_db=db)
    assert done.returncode == 2
    assert done.stderr.startswith(message) and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert not db.exists()


def test_unknown_intent_and_unknown_run(tmp_path: Path) -> None:
    db = tmp_path / "x.duckdb"
    done = neonhub("run", "content.nope", "-p", "topic=a", env_db=db)
    assert done.returncode == 2
    assert "intent: unknown intent 'content.nope'" in done.stderr
    neonhub("runs", env_db=db)
    missing = neonhub("show", "run_missing", env_db=db)
    assert missing.returncode == 2
    assert "run_id: no run 'run_missing'" in missing.stderr


def test_param_without_equals_is_rejected() -> None:
    result = CliRunner().invoke(cli, ["run", "content.generate_article", "-p", "topic"])
    assert result.exit_code == 2
    assert "expected NAME=VALUE" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert cli.commands[command].help, f"{command} has no help text"
    assert "Usage:" in result.output


def test_intents_lists_the_content_agent() -> None:
    result = CliRunner().invoke(cli, ["intents"])
    assert "content.generate_article" in result.output
    assert "topic" in result.output


def test_show_prints_the_agents_output_and_a_timeline(tmp_path: Path) -> None:
    """``show`` reads a social run back as its users think of it: posts per network with
    their length against each limit, and the run's calls as a timeline."""
    done = neonhub(
        "run", "social.compose_posts", "-p", "message=Spring menu is here",
        "-p", "networks=x, linkedin", "--json", env_db=tmp_path / "s.duckdb",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    shown = neonhub("show", run_id, env_db=tmp_path / "s.duckdb")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert "output:" in text and "Spring menu is here" in text
    assert "/280" in text and "/3000" in text  # each post against its network's limit
    assert "timeline" in text and "llm.chat.completions" in text
    assert "connectors_mode: mock" in text
