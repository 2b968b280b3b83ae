"""Notebooks as regression tests: every case of data/regression/cases.json, executed with
papermill, compared field by field with data/golden/. ``pytest --update-golden`` rewrites
the golden files instead (review the diff before committing)."""

from __future__ import annotations

import pytest

from neonhub_nb.regression import (
    Case,
    compare,
    describe,
    golden_path,
    load_cases,
    run_case,
    write_golden,
)

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_recorded_run_matches_golden(case: Case, request: pytest.FixtureRequest) -> None:
    actual = run_case(case)
    if request.config.getoption("--update-golden"):
        write_golden(case, actual)
        return
    path = golden_path(case)
    assert path.exists(), f"no golden file {path}: run `neonhub-nb golden update`"
    import json

    diffs = compare(json.loads(path.read_text()), actual)
    if diffs:
        pytest.fail(describe(case, diffs), pytrace=False)


def test_every_agent_has_regression_cases() -> None:
    from neonhub_nb.agents import AgentCatalog

    builtin = {s.intent for s in AgentCatalog.builtin().specs()}
    assert {c.intent for c in CASES} == builtin
