"""Row records rendered in the papers' layout (Moser, Raue, Dengel 2024, Tables 1-3; Cho, Jung, Cho, Soh 2025):
a markdown table with the best value per column and group in bold and the published numbers with the difference
beside each measured one (a table's ``undiffed`` metrics: the published value only, e.g. Table 1's SSIM), a
long-format CSV, and a PNG of a metric against the data fraction. The GPU tables (:mod:`.collect`, from BasicSR's
logs) and the CPU study (:mod:`.study_report`) render through the same function.

A row record is a plain mapping::

    {"row": "DES 50%",            # label (required)
     "group": "SwinIR",           # best values are marked within a group (optional)
     "strategy": "descending", "fraction": 0.5, "iterations": 250000,   # optional, shown / plotted
     "series": "",                # line of the fraction plot (default: the strategy)
     "status": "done",            # "done" | "partial" | "missing" | any other text (shown as is)
     "iter": 250000,              # iteration of the numbers (shown for partial rows)
     "short": False,              # trained fewer iterations than the row asks: shown, never compared
     "results": {"B100": {"psnr": 32.1, "ssim": 0.899,          # per test set
                          "psnr_std": 0.03, "psnr_ci95": 0.05, "ssim_std": ..., "n": 3}},   # optional spread
     "published": {"B100": {"psnr": 32.2, "ssim": 0.9, "source": "..."}}}                    # optional
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from basicsr_distill.utils import atomic_output

METRICS = ("psnr", "ssim")
DIGITS = {"psnr": 2, "ssim": 4}
#: The long-format CSV's columns: one line per record, test set and metric.
CSV_COLUMNS = (
    *("group", "row", "strategy", "fraction", "iterations", "status", "iter", "test_set", "metric", "value"),
    *("std", "ci95", "n", "published", "diff", "source"),
)
#: A column of the markdown table: (test set, metric, kind), kind ``measured``, ``paper`` or ``diff``.
Column = tuple[str, str, str]


def canonical(test_set: str) -> str:
    """The benchmark's folder name of ``scripts/prepare_benchmark.py`` (``BSD100`` -> ``B100``)."""
    from basicsr_distill.preparation.benchmark import canonical_benchmark  # (imports OpenCV and torch)

    return canonical_benchmark(test_set)


@dataclass
class RenderedTable:
    markdown: str
    csv: str


def _number(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _status_text(record: Mapping[str, Any]) -> str:
    status = record.get("status", "done")
    if status == "partial":
        at = record.get("iter")
        return f"partial (iter {at:,})" if isinstance(at, int) else "partial"
    return str(status)


def _best(records: Sequence[Mapping[str, Any]], test_set: str, metric: str) -> dict[str, float]:
    """Best finished value per group (higher is better for PSNR and SSIM)."""
    best: dict[str, float] = {}
    for record in records:
        if record.get("status", "done") != "done" or record.get("short"):
            continue
        value = _number(record.get("results", {}).get(test_set, {}).get(metric))
        group = record.get("group", "")
        if value is not None and (group not in best or value > best[group]):
            best[group] = value
    return best


def _columns(
    records: Sequence[Mapping[str, Any]], test_sets: Sequence[str], metrics: Sequence[str], undiffed: Sequence[str]
) -> list[Column]:
    """Per test set and metric the measured column, and "paper" and "diff" columns when a record has a published
    value for it (no "diff" for an ``undiffed`` metric)."""
    columns: list[Column] = []
    for test_set in test_sets:
        for metric in metrics:
            columns.append((test_set, metric, "measured"))
            if any(_number(r.get("published", {}).get(test_set, {}).get(metric)) is not None for r in records):
                columns.append((test_set, metric, "paper"))
                if metric not in undiffed:
                    columns.append((test_set, metric, "diff"))
    return columns


def _shown(record: Mapping[str, Any]) -> bool:
    """A record whose numbers are compared: finished, and not a short run."""
    return record.get("status", "done") == "done" and not record.get("short")


def _cell(record: Mapping[str, Any], column: Column, best: Mapping[str, float]) -> str:
    """One cell of the markdown table: the measured value (its sd beside, bold if the group's ``best``), the
    published one, or their difference; a row's status where it has no number."""
    test_set, metric, kind = column
    result = record.get("results", {}).get(test_set, {})
    value = _number(result.get(metric))
    paper = _number(record.get("published", {}).get(test_set, {}).get(metric))
    digits = DIGITS.get(metric, 4)
    status = record.get("status", "done")
    if kind == "paper":
        return "" if paper is None else f"{paper:.{digits}f}"
    if kind == "diff":
        return f"{value - paper:+.{digits}f}" if _shown(record) and value is not None and paper is not None else ""
    if status == "reference":
        return "-"
    if status != "done":
        return _status_text(record)
    if value is None:
        return "missing"
    text = f"{value:.{digits}f}"
    std = _number(result.get(f"{metric}_std"))
    if std is not None:
        text += f" ± {std:.{digits}f}"
    return f"**{text}**" if value == best.get(record.get("group", "")) else text


def _row_cells(
    record: Mapping[str, Any], has_group: bool, has_meta: Mapping[str, bool], columns: Sequence[Column], best: dict
) -> list[str]:
    """The markdown cells of one record: group, row, data fraction, iterations, then one per column."""
    cells = [str(record.get("group", ""))] if has_group else []
    cells.append(str(record["row"]))
    if has_meta["fraction"]:
        fraction = record.get("fraction")
        cells.append("" if fraction is None else f"{100 * fraction:.3g}%")
    if has_meta["iterations"]:
        iterations = record.get("iterations")
        cells.append("" if iterations is None else f"{iterations:,}" + (" (short run)" if record.get("short") else ""))
    return cells + [_cell(record, column, best[column[:2]]) for column in columns]


def _csv_rows(
    record: Mapping[str, Any], test_sets: Sequence[str], metrics: Sequence[str], undiffed: Sequence[str]
) -> list[list[Any]]:
    """The CSV lines of one record (:data:`CSV_COLUMNS`), one per test set and metric."""
    rows = []
    for test_set in test_sets:
        result = record.get("results", {}).get(test_set, {})
        published = record.get("published", {}).get(test_set, {})
        for metric in metrics:
            value = _number(result.get(metric))
            paper = _number(published.get(metric))
            compared = value is not None and paper is not None and _shown(record) and metric not in undiffed
            rows.append(
                [
                    record.get("group", ""),
                    record["row"],
                    *(record.get(key, "") for key in ("strategy", "fraction", "iterations")),
                    record.get("status", "done"),
                    record.get("iter", ""),
                    test_set,
                    metric,
                    "" if value is None else value,
                    *(result.get(f"{metric}_{key}", "") for key in ("std", "ci95")),
                    result.get("n", ""),
                    "" if paper is None else paper,
                    round(value - paper, 6) if compared else "",
                    published.get("source", ""),
                ]
            )
    return rows


def render_table(
    records: Sequence[Mapping[str, Any]],
    test_sets: Sequence[str],
    *,
    title: str = "",
    metrics: Sequence[str] = METRICS,
    notes: Sequence[str] = (),
    undiffed: Sequence[str] = (),
) -> RenderedTable:
    """Render row records as a markdown table (best per column and group in bold) and a long-format CSV.

    Args:
        records: row records (module docstring); only ``row`` is required.
        test_sets: the columns, in order; each gets one column per metric, plus "paper" and "diff" columns
            when any record carries a published value for it.
        title: a heading line of the markdown.
        metrics: which of the records' metrics to show (``psnr``, ``ssim``).
        notes: lines printed under the markdown table.
        undiffed: metrics whose published value is shown without a difference (say why in ``notes``).
    """
    test_sets = [canonical(t) for t in test_sets]
    has_group = any(r.get("group") for r in records)
    has_meta = {key: any(r.get(key) is not None for r in records) for key in ("fraction", "iterations")}
    columns = _columns(records, test_sets, metrics, undiffed)
    header = (["group"] if has_group else []) + ["row"]
    header += [label for key, label in (("fraction", "data"), ("iterations", "iterations")) if has_meta[key]]
    header += [f"{t} {m.upper()}" + ("" if k == "measured" else f" {k}") for t, m, k in columns]
    best = {(t, m): _best(records, t, m) for t in test_sets for m in metrics}
    lines = [f"### {title}", ""] if title else []
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        lines.append("| " + " | ".join(_row_cells(record, has_group, has_meta, columns, best)) + " |")
        writer.writerows(_csv_rows(record, test_sets, metrics, undiffed))
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    return RenderedTable("\n".join(lines) + "\n", out.getvalue())


def plot_fraction(
    records: Sequence[Mapping[str, Any]], test_set: str, path: str | os.PathLike, metric: str = "psnr"
) -> Path:
    """PNG of ``metric`` on ``test_set`` against the data fraction: one panel per group, one line per strategy.

    Full-data rows (``fraction`` 1.0, strategy ``full``) are drawn as a dashed horizontal line; rows that are
    not ``done`` are left out.
    """
    from matplotlib.figure import Figure

    test_set = canonical(test_set)
    groups = list(dict.fromkeys(r.get("group", "") for r in records))
    figure = Figure(figsize=(4.2 * len(groups), 3.4))
    for index, group in enumerate(groups):
        axes = figure.add_subplot(1, len(groups), index + 1)
        series: dict[str, list[tuple[float, float]]] = {}
        for record in records:
            value = _number(record.get("results", {}).get(test_set, {}).get(metric))
            if record.get("group", "") != group or record.get("status", "done") != "done" or value is None:
                continue
            if record.get("strategy") == "full":
                axes.axhline(value, linestyle="--", color="black", label="full")
                continue
            fraction = record.get("fraction")
            if fraction is not None:
                series.setdefault(record.get("series") or str(record.get("strategy", "")), []).append((fraction, value))
        for name, points in series.items():
            points.sort()
            axes.plot([100 * p[0] for p in points], [p[1] for p in points], marker="o", label=name)
        axes.set_title(str(group))
        axes.set_xlabel("data (%)")
        axes.set_ylabel(f"{metric.upper()} on {test_set}")
        axes.grid(alpha=0.3)
        if axes.has_data():
            axes.legend(fontsize=7)
    figure.tight_layout()
    path = Path(path)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110)
    return path
