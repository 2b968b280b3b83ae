"""Committed notebooks carry no secrets, absolute paths, tracebacks or run-specific state."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from neonhub_nb.redact import redact_text

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted(
    p
    for folder in ("notebooks", "dashboards", "bench")
    for p in (ROOT / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)
ABSOLUTE_PATH = re.compile(r"(?<![\w.])/(tmp|home|root|work|Users|var/folders)/")


def test_there_are_notebooks_to_check() -> None:
    assert len(COMMITTED) >= 4


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_notebook_is_clean(path: Path) -> None:
    text = path.read_text()
    nb = json.loads(text)
    assert "Traceback" not in text, "a traceback is committed"
    assert not ABSOLUTE_PATH.search(text), ABSOLUTE_PATH.search(text)
    assert redact_text(text) == text, "something secret-looking is committed"
    assert "widgets" not in nb["metadata"], "widget state (random model ids) is committed"
    for cell in nb["cells"]:
        assert "execution" not in cell.get("metadata", {}), "execution timestamps committed"
        for output in cell.get("outputs", []):
            assert output["output_type"] != "error"
            data = json.dumps(output)
            assert not re.search(r"(run|draft|exp|tex)_[0-9a-f]{22}", data), "an id is committed"
            assert " object at 0x" not in data, "a memory address is committed"


def test_every_notebook_has_a_parameters_cell_in_mock_mode() -> None:
    for path in COMMITTED:
        if path.parent.name == "bench":
            continue
        nb = json.loads(path.read_text())
        tagged = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path
        source = "".join(tagged[0]["source"])
        assert 'mode = "mock"' in source or "mode" not in source, path


USER_NOTEBOOKS = [p for p in COMMITTED if p.parts[-2] == "notebooks"]


@pytest.mark.parametrize("path", USER_NOTEBOOKS, ids=lambda p: p.name)
def test_no_test_harness_markers_in_what_users_read(path: Path) -> None:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        assert "NBVAL" not in source.upper(), source[:80]  # nbval reads cell tags instead
        tags = cell.get("metadata", {}).get("tags", [])
        assert set(tags) <= {"parameters", "nbval-ignore-output"}, tags


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_counts_print_as_integers(path: Path) -> None:
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            text = json.dumps(output)
            assert not re.search(r"\b\d+\.0{6}\b", text), re.search(r".{40}\b\d+\.0{6}\b", text)


def test_notebook_metadata_is_what_the_kernel_reports() -> None:
    # JupyterLab rewrites kernelspec and language_info when a kernel starts; any
    # difference opens the notebook marked as modified.
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    for path in USER_NOTEBOOKS:
        meta = json.loads(path.read_text())["metadata"]
        assert meta["kernelspec"] == {
            "display_name": spec.display_name,
            "language": spec.language,
            "name": "python3",
        }, path
        assert meta["language_info"]["name"] == "python"
        assert meta["language_info"]["pygments_lexer"] == "ipython3"


def test_committed_sources_are_what_the_generator_writes() -> None:
    # scripts/make_notebooks.py is the notebooks' source: an edit made in the .ipynb alone
    # is undone by the next regeneration (it happened once, to notebook 03's UTC week).
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_notebooks", ROOT / "scripts" / "make_notebooks.py"
    )
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    for relative, cells in generator.NOTEBOOKS.items():
        built = [(c.cell_type, c.source) for c in generator.build(cells).cells]
        committed = json.loads((ROOT / relative).read_text())["cells"]
        sources = [
            (c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for c in committed
        ]
        assert sources == built, relative


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: str(p.relative_to(ROOT)))
def test_committed_outputs_hold_no_placeholder_that_breaks_the_page(path: Path) -> None:
    # Sanitized outputs must still render: a bare TIMELINE_SVG where the chart goes, or
    # BAR where a CSS width goes, is what a reader saw before.
    text = path.read_text()
    assert "TIMELINE_SVG" not in text
    assert not re.search(r"[;'\"]BAR[;'\"]", text)
