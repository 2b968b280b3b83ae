"""The compatibility table in docs/live-mode.md cannot drift from the tests behind it."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "live-mode.md"
COLUMNS = ["dialect", "streaming", "usage", "finish reasons", "errors", "retries"]
DIALECTS = {"OpenAI", "Azure OpenAI", "vLLM", "Ollama `/v1`", "LiteLLM proxy",
            "llama.cpp `llama-server`", "TGI Messages API"}  # fmt: skip
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)`")


def table() -> list[list[str]]:
    text = DOC.read_text()
    section = text[text.index("## Compatibility") :]
    section = section[: section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_every_cell_names_a_test_that_exists() -> None:
    header, rule, *rows = table()
    assert header == COLUMNS and set(rule) == {"---"}
    assert {row[0] for row in rows} == DIALECTS
    for row in rows:
        assert len(row) == len(COLUMNS), row[0]
        for column, cell in zip(COLUMNS[1:], row[1:], strict=True):
            references = REFERENCE.findall(cell)
            assert references, f"{row[0]} / {column}: no test named"
            for path, name in references:
                module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
                assert callable(getattr(module, name, None)), f"{path}::{name} does not exist"


def test_every_dialect_test_is_in_the_table() -> None:
    named = {f"{path}::{name}" for row in table()[2:] for cell in row for path, name in
             REFERENCE.findall(cell)}  # fmt: skip
    for module_path in sorted((ROOT / "tests" / "dialects").glob("test_*.py")):
        if module_path.name == "test_table.py":
            continue
        relative = module_path.relative_to(ROOT).as_posix()
        module = importlib.import_module(relative.removesuffix(".py").replace("/", "."))
        tests = {n for n in vars(module) if n.startswith("test_")}
        missing = {f"{relative}::{n}" for n in tests} - named
        assert not missing, f"not in the table of docs/live-mode.md: {sorted(missing)}"
