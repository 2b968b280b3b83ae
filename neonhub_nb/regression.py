"""Notebooks as regression tests: run each case through a papermill notebook, read what it
recorded in the audit store, and compare that with a golden file.

A *case* is one agent run (intent, parameters, optional prompt version) from
``data/regression/cases.json``. Its *fingerprint* is what the audit store holds about the
run: status, prompt, tool-call sequence, tokens, cost, output, draft and scores. Golden
files live in ``data/golden/<intent>/<case>.json``; ``neonhub-nb golden update`` (or
``pytest --update-golden``) rewrites them on purpose, so the diff shows in review.
"""

from __future__ import annotations

import difflib
import json
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import find_project_root
from .errors import NeonhubError
from .experiments import score_draft
from .store import AuditStore

__all__ = [
    "REGRESSION_NOTEBOOK",
    "Case",
    "FieldDiff",
    "compare",
    "fingerprint",
    "golden_path",
    "load_cases",
    "run_case",
]

_ROOT = find_project_root(Path(__file__).resolve().parent) or Path.cwd()
REGRESSION_NOTEBOOK = _ROOT / "notebooks" / "regression" / "agent_run.ipynb"
CASES_FILE = _ROOT / "data" / "regression" / "cases.json"
GOLDEN_DIR = _ROOT / "data" / "golden"


@dataclass(frozen=True)
class Case:
    intent: str
    name: str
    params: Mapping[str, Any]
    prompt_version: str | None = None
    seed: int = 0

    @property
    def id(self) -> str:
        return f"{self.intent}/{self.name}"

    def papermill_parameters(self, mode: str = "mock") -> dict[str, Any]:
        return {
            "intent": self.intent,
            "params_json": json.dumps(dict(self.params), sort_keys=True),
            "prompt_version": self.prompt_version,
            "seed": self.seed,
            "mode": mode,
        }


def load_cases(path: Path = CASES_FILE) -> list[Case]:
    data = json.loads(path.read_text())
    return [
        Case(
            intent=intent,
            name=case["name"],
            params=case["params"],
            prompt_version=case.get("prompt_version"),
            seed=int(case.get("seed", 0)),
        )
        for intent, cases in sorted(data.items())
        for case in cases
    ]


def golden_path(case: Case, root: Path = GOLDEN_DIR) -> Path:
    return root / case.intent / f"{case.name}.json"


def _strip_ids(value: Any) -> Any:
    # Ids are new on every run; everything else must match byte for byte.
    if isinstance(value, dict):
        return {k: _strip_ids(v) for k, v in value.items() if k not in {"draft_id"}}
    if isinstance(value, list):
        return [_strip_ids(v) for v in value]
    return value


def fingerprint(store: AuditStore, run_id: str) -> dict[str, Any]:
    """What the audit store recorded about one run, minus ids and timings."""
    detail = store.run_detail(run_id)
    run = detail.run
    tools = [
        {"tool": t, "operation": o, "status": s}
        for t, o, s in zip(
            detail.tool_executions["tool"],
            detail.tool_executions["operation"],
            detail.tool_executions["status"],
            strict=True,
        )
    ]
    result: dict[str, Any] = {
        "status": run["status"],
        "error": run["error"],
        "prompt": f"{run['prompt_name']}@{run['prompt_version']}",
        "tools": tools,
        "tokens": {
            "prompt": int(detail.metric("prompt_tokens")),
            "completion": int(detail.metric("completion_tokens")),
        },
        "cost_usd": round(detail.metric("cost_usd"), 10),
        "output": _strip_ids(run["output"] or {}),
    }
    if detail.draft:
        content = detail.draft["content"] or ""
        params = run["input"] or {}
        result["draft"] = {"title": detail.draft["title"], "content": content.splitlines()}
    if detail.draft and run["agent"] == "content":  # the article scorers read articles
        content = detail.draft["content"] or ""
        params = run["input"] or {}
        result["scores"] = score_draft(
            detail.draft["title"] or "",
            content,
            str(params.get("primary_keyword", "")),
            int(params.get("word_count", 1)),
        )
    return result


def run_case(case: Case, workdir: Path | None = None, mode: str = "mock") -> dict[str, Any]:
    """Execute the regression notebook for ``case`` against a fresh store; fingerprint it."""
    try:
        import papermill as pm
    except ImportError:  # pragma: no cover - the notebook extra is part of every setup
        raise NeonhubError("regression runs need papermill: install neonhub-nb[notebook]") from None
    import os

    with tempfile.TemporaryDirectory(prefix="neonhub-regression-") as tmp:
        folder = workdir or Path(tmp)
        db = folder / f"{case.intent}-{case.name}.duckdb"
        previous = os.environ.get("NEONHUB_DB")
        os.environ["NEONHUB_DB"] = str(db)  # the kernel inherits it
        try:
            pm.execute_notebook(
                str(REGRESSION_NOTEBOOK),
                str(folder / f"{case.name}.ipynb"),
                parameters=case.papermill_parameters(mode),
                kernel_name="python3",
                progress_bar=False,
                cwd=str(REGRESSION_NOTEBOOK.parent),
            )
        finally:
            if previous is None:
                os.environ.pop("NEONHUB_DB", None)
            else:
                os.environ["NEONHUB_DB"] = previous
        with AuditStore(db, background=False) as store:
            runs = store.runs(limit=None)
            if len(runs) != 1:
                raise NeonhubError(f"{case.id}: expected one recorded run, found {len(runs)}")
            return fingerprint(store, str(runs["run_id"][0]))


@dataclass(frozen=True)
class FieldDiff:
    path: str
    expected: Any
    actual: Any
    diff: list[str] = field(default_factory=list)


def _walk(expected: Any, actual: Any, path: str) -> Iterator[FieldDiff]:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in sorted(set(expected) | set(actual)):
            yield from _walk(expected.get(key), actual.get(key), f"{path}.{key}" if path else key)
        return
    if expected == actual:
        return
    lines: list[str] = []
    if isinstance(expected, list | str) and isinstance(actual, list | str):
        before = expected if isinstance(expected, list) else str(expected).splitlines()
        after = actual if isinstance(actual, list) else str(actual).splitlines()
        as_text = [json.dumps(x) if not isinstance(x, str) else x for x in before]
        now_text = [json.dumps(x) if not isinstance(x, str) else x for x in after]
        lines = list(difflib.unified_diff(as_text, now_text, "golden", "now", lineterm="", n=1))
    yield FieldDiff(path, expected, actual, lines)


def compare(golden: Mapping[str, Any], actual: Mapping[str, Any]) -> list[FieldDiff]:
    """Every field where ``actual`` differs from ``golden`` (dotted paths)."""
    return list(_walk(dict(golden), dict(actual), ""))


def describe(case: Case, diffs: list[FieldDiff]) -> str:
    """A readable report: notebook, parameters, then each differing field."""
    lines = [
        f"{REGRESSION_NOTEBOOK.relative_to(_ROOT)} [{case.id}] differs from "
        f"{golden_path(case).relative_to(_ROOT)}",
        f"  parameters: intent={case.intent} prompt_version={case.prompt_version} "
        f"params={json.dumps(dict(case.params), sort_keys=True)}",
    ]
    for diff in diffs:
        lines.append(f"  field {diff.path}:")
        if diff.diff:
            lines += [f"    {line}" for line in diff.diff]
        else:
            lines.append(f"    golden: {json.dumps(diff.expected)}")
            lines.append(f"    now:    {json.dumps(diff.actual)}")
    lines.append(
        "  (if the change is intended: neonhub-nb golden update, or pytest --update-golden)"
    )
    return "\n".join(lines)


def write_golden(case: Case, data: Mapping[str, Any]) -> Path:
    path = golden_path(case)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(data), indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    return path
