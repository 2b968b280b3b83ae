"""Prompt experiments: grids of prompt variants x inputs, scorers with pass/fail
thresholds, a winner per input, side-by-side comparisons with a word diff, charts.

``run_grid`` runs and records a grid (:mod:`.grid`); :class:`Experiment` reads it
(:mod:`.experiment`); :data:`SCORERS` say what is measured and what passes
(:mod:`.scoring`); :func:`word_diff` and :func:`side_by_side_html` draw two drafts
(:mod:`.compare`).

>>> exp = run_grid("content.generate_article", ["v1", "v2"],
...                load_inputs("data/experiment_inputs.json"))          # doctest: +SKIP
>>> exp.winners()                                                        # doctest: +SKIP
"""

from .compare import WordDiff, side_by_side_html, word_diff
from .experiment import Experiment
from .grid import (
    Variant,
    VariantSpec,
    arun_grid,
    load_experiment,
    load_inputs,
    parse_variants,
    run_grid,
)
from .scoring import (
    BANNED_PHRASES,
    JUDGE,
    SCORERS,
    Scorer,
    flesch_reading_ease,
    score_article,
    score_draft,
)

__all__ = [
    "BANNED_PHRASES",
    "JUDGE",
    "SCORERS",
    "Experiment",
    "Scorer",
    "Variant",
    "VariantSpec",
    "WordDiff",
    "arun_grid",
    "flesch_reading_ease",
    "load_experiment",
    "load_inputs",
    "parse_variants",
    "run_grid",
    "score_article",
    "score_draft",
    "side_by_side_html",
    "word_diff",
]
