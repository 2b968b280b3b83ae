"""An experiment's runs, scored: summary per variant, a winner per input, side-by-side
comparisons and charts (PNG figures: they render offline in JupyterLab and Voila)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..errors import InvalidInputError
from ..formats import format_cost
from ..redaction import safe_value
from .compare import side_by_side_html
from .scoring import JUDGE, SCORERS, Scorer

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Experiment"]


@dataclass
class Experiment:
    """The runs of one grid, one row per (variant, input), with every scorer's value.

    ``baseline`` is the variant the others are compared with (by default the first one
    given to ``run_grid``). ``runs`` columns: ``variant``, ``input_index``, ``run_id``,
    ``status``, ``duration_ms``, ``total_tokens``, ``cost_usd``, ``title``, ``content``,
    ``error``, one per scorer (``SCORERS``), and ``judge_score`` when judged.
    """

    experiment_id: str
    runs: pd.DataFrame
    baseline: str | None = None

    def __post_init__(self) -> None:
        variants = self.variants
        if self.baseline is None and variants:
            self.baseline = variants[0]
        if self.baseline is not None and variants and self.baseline not in variants:
            raise InvalidInputError(
                "baseline",
                f"must be one of the variants {', '.join(variants)} "
                f"(got {safe_value(self.baseline)})",
            )

    @property
    def variants(self) -> list[str]:
        """The variants, baseline first, then in the order they were given."""
        seen = list(dict.fromkeys(self.runs["variant"])) if "variant" in self.runs else []
        if self.baseline in seen:
            seen.remove(self.baseline)
            seen.insert(0, self.baseline)
        return seen

    @property
    def scorers(self) -> tuple[Scorer, ...]:
        """The checks applied: every scorer, plus the judge's when the grid was judged."""
        judged = "judge_score" in self.runs and self.runs["judge_score"].notna().any()
        return (*SCORERS, JUDGE) if judged else SCORERS

    def _passed(self, frame: pd.DataFrame) -> pd.Series:
        checks = [
            frame[s.name].map(s.passes) if s.name in frame else pd.Series(False, frame.index)
            for s in self.scorers
        ]
        return pd.concat(checks, axis=1).sum(axis=1).astype(int)

    def summary(self) -> pd.DataFrame:
        """Per variant (rows, baseline first): runs, successes, mean checks passed, each
        scorer's pass rate and mean, median latency, mean tokens, total cost."""
        frame = self.runs.assign(checks_passed=self._passed(self.runs))
        ok = frame[frame["status"] == "succeeded"]
        rows = {}
        for variant in self.variants:
            mine, good = frame[frame["variant"] == variant], ok[ok["variant"] == variant]
            row: dict[str, Any] = {
                "runs": len(mine),
                "succeeded": int((mine["status"] == "succeeded").sum()),
                "checks_passed": round(float(good["checks_passed"].mean()), 2)
                if len(good)
                else 0.0,
                "checks": len(self.scorers),
            }
            for scorer in self.scorers:
                values = good[scorer.name] if scorer.name in good else pd.Series(dtype=float)
                row[f"{scorer.name}_pass"] = (
                    round(float(values.map(scorer.passes).mean()), 2) if len(values) else 0.0
                )
                mean = pd.to_numeric(values, errors="coerce").mean()
                row[scorer.name] = None if pd.isna(mean) else round(float(mean), 2)
            row["p50_latency_ms"] = mine["duration_ms"].median()
            row["mean_tokens"] = round(float(mine["total_tokens"].mean()), 1)
            row["total_cost_usd"] = round(float(mine["cost_usd"].sum()), 6)
            rows[variant] = row
        return pd.DataFrame.from_dict(rows, orient="index")

    def winners(self) -> pd.DataFrame:
        """One row per input: checks passed by each variant, the winner and why.

        The winner succeeded and passed the most checks; on a tie, the higher judge score
        (when judged); still tied, the baseline is kept (``tie``: nothing proved better).
        """
        frame = self.runs.assign(checks_passed=self._passed(self.runs))
        out = []
        for index, group in frame.groupby("input_index", sort=True):
            by_variant = {row["variant"]: row for row in _records(group)}
            ranked = sorted(
                by_variant.values(),
                key=lambda r: (
                    r["status"] == "succeeded",
                    r["checks_passed"] if r["status"] == "succeeded" else -1,
                    _judge(r),
                    r["variant"] == self.baseline,
                ),
                reverse=True,
            )
            best = ranked[0]
            tie = len(ranked) > 1 and _rank(ranked[1]) == _rank(best)
            row: dict[str, Any] = {"input": index}
            for variant in self.variants:
                got = by_variant.get(variant)
                row[variant] = (
                    f"{got['checks_passed']}/{len(self.scorers)}"
                    if got is not None and got["status"] == "succeeded"
                    else (got["status"] if got is not None else "–")
                )
            row["winner"] = best["variant"] if not tie else f"tie: {self.baseline} kept"
            row["why"] = _why(ranked, len(self.scorers), tie)
            out.append(row)
        return pd.DataFrame(out).set_index("input") if out else pd.DataFrame()

    def comparison(self, input_index: int) -> pd.DataFrame:
        """One input, a column per variant: title, scores, checks passed, tokens, cost."""
        rows = self.runs[self.runs["input_index"] == input_index]
        if rows.empty:
            raise InvalidInputError("input_index", f"no runs for input {input_index}")
        passed = self._passed(rows)
        table: dict[str, dict[str, Any]] = {}
        for position, row in zip(passed.index, _records(rows), strict=True):
            table[row["variant"]] = {
                "title": row.get("title") or row.get("error"),
                **{s.name: row.get(s.name) for s in self.scorers},
                "checks_passed": f"{passed[position]}/{len(self.scorers)}",
                "tokens": int(row["total_tokens"] or 0),
                "cost": format_cost(row["cost_usd"], significant=4),
            }
        return pd.DataFrame(table)[[v for v in self.variants if v in table]]

    def compare_html(
        self, input_index: int, variant: str | None = None, *, timings: bool = True
    ) -> str:
        """The baseline and ``variant`` (default: the first other one) on one input, side
        by side: full drafts with a word diff, the scores and checks beside them, tokens,
        cost and (``timings``) latency."""
        rows = {
            r["variant"]: r for r in _records(self.runs[self.runs["input_index"] == input_index])
        }
        if not rows:
            raise InvalidInputError("input_index", f"no runs for input {input_index}")
        others = [v for v in self.variants if v != self.baseline and v in rows]
        chosen = variant or (others[0] if others else self.baseline)
        if chosen not in rows or self.baseline not in rows:
            raise InvalidInputError(
                "variant", f"must be one of {', '.join(rows)} (got {safe_value(chosen)})"
            )
        winners = self.winners()
        winner = str(winners.loc[input_index, "winner"]) if input_index in winners.index else None
        heading = (
            f"<div style='font-size:13px'>input {input_index}: winner "
            f"<b>{html.escape(winner or '–')}</b> &middot; "
            f"{html.escape(str(winners.loc[input_index, 'why']))}</div>"
            if winner
            else ""
        )
        return side_by_side_html(
            rows[self.baseline],
            rows[chosen],
            self.scorers,
            winner=winner,
            heading=heading,
            timings=timings,
        )

    def summary_html(self, *, timings: bool = True) -> str:
        """The summary as a narrow table: one column per variant, one row per measure,
        money as money (reads without horizontal scrolling); ``timings=False`` leaves out
        latency (it varies from run to run)."""
        summary = self.summary()
        lines: list[tuple[str, Callable[[pd.Series], str]]] = [
            ("runs (succeeded)", lambda r: f"{int(r['runs'])} ({int(r['succeeded'])})"),
            ("checks passed (mean)", lambda r: f"{r['checks_passed']:g} of {int(r['checks'])}"),
        ]
        for scorer in self.scorers:
            lines.append(
                (
                    f"{scorer.description} ({scorer.unit}; pass {scorer.rule})",
                    _scorer_cell(scorer),
                )
            )
        if timings:
            lines.append(("median latency", lambda r: f"{_fmt(r['p50_latency_ms'])} ms"))
        lines += [
            ("mean tokens", lambda r: f"{r['mean_tokens']:,.0f}"),
            ("total cost", lambda r: format_cost(r["total_cost_usd"], significant=4)),
        ]
        head = "".join(
            f"<th style='text-align:right;padding:2px 10px'>{html.escape(v)}"
            f"{' (baseline)' if v == self.baseline else ''}</th>"
            for v in summary.index
        )
        body = "".join(
            f"<tr><td style='padding:2px 10px;text-align:left'>{html.escape(label)}</td>"
            + "".join(
                f"<td style='text-align:right;padding:2px 10px'>{cell(summary.loc[v])}</td>"
                for v in summary.index
            )
            + "</tr>"
            for label, cell in lines
        )
        return (
            "<table class='neonhub-summary' style='border-collapse:collapse;font-size:13px'>"
            f"<tr><th></th>{head}</tr>{body}</table>"
        )

    def plot_scores(self) -> Figure:
        """Share of successful runs passing each check, per variant (bars, 0 to 1)."""
        from matplotlib.figure import Figure

        summary = self.summary()
        figure = Figure(figsize=(8, 3.4), dpi=100)
        axes = figure.subplots()
        columns = [f"{s.name}_pass" for s in self.scorers]
        if summary.empty or not (summary["succeeded"] > 0).any():
            axes.text(0.5, 0.5, "no successful runs to score", ha="center", va="center")
            axes.set_axis_off()
            return figure
        data = summary[columns].T
        data.index = [s.name for s in self.scorers]
        data.plot.bar(ax=axes, rot=20, ylim=(0, 1.05))
        axes.set_title("checks passed (share of successful runs, higher is better)")
        axes.legend(title="variant", fontsize=8)
        for label in axes.get_xticklabels():
            label.set_horizontalalignment("right")
        figure.tight_layout()
        return figure

    def plot_latency_cost(self) -> Figure:
        """Latency distribution and total cost per variant."""
        from matplotlib.figure import Figure

        figure = Figure(figsize=(8, 3.2), dpi=100)
        axes = figure.subplots(1, 2)
        variants = self.variants
        latencies = [
            self.runs.loc[self.runs["variant"] == v, "duration_ms"].dropna() for v in variants
        ]
        axes[0].boxplot(latencies, tick_labels=variants)
        axes[0].set_title("latency (ms)")
        costs = self.runs.groupby("variant")["cost_usd"].sum().reindex(variants).fillna(0)
        axes[1].bar(variants, costs.to_numpy())
        axes[1].set_title("total cost (USD)")
        figure.tight_layout()
        return figure


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _scorer_cell(scorer: Scorer) -> Callable[[pd.Series], str]:
    def cell(row: pd.Series) -> str:
        return f"{_fmt(row[scorer.name])} &middot; {row[f'{scorer.name}_pass']:.0%} pass"

    return cell


def _judge(row: dict[str, Any]) -> float:
    value = row.get("judge_score")
    return float(value) if isinstance(value, int | float) and value == value else -1.0


def _rank(row: dict[str, Any]) -> tuple[bool, int, float]:
    ok = row["status"] == "succeeded"
    return ok, row["checks_passed"] if ok else -1, _judge(row)


def _why(ranked: Sequence[dict[str, Any]], checks: int, tie: bool) -> str:
    best = ranked[0]
    if best["status"] != "succeeded":
        return "no variant succeeded"
    if len(ranked) == 1:
        return f"only variant: {best['checks_passed']}/{checks} checks"
    runner = ranked[1]
    if tie:
        return f"both pass {best['checks_passed']}/{checks} checks"
    if runner["status"] != "succeeded":
        return f"{runner['variant']} {runner['status']}"
    if best["checks_passed"] != runner["checks_passed"]:
        return (
            f"{best['checks_passed']}/{checks} checks vs {runner['checks_passed']}/{checks} "
            f"({runner['variant']})"
        )
    return f"judge {_judge(best):g} vs {_judge(runner):g} ({runner['variant']})"


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return (
        f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"
    )
