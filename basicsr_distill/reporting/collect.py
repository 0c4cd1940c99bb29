"""Results of the table rows, read from BasicSR's logs beside the papers' published numbers.

The tables are those of Moser, Raue, Dengel 2024, "A Study in Dataset Pruning for Image Super-Resolution"
(Tables 1-3) and Cho, Jung, Cho, Soh 2025, "Dataset Distillation for Super-Resolution Without Class Labels and
Pre-Trained Models", as listed by :mod:`basicsr_distill.tables.rows`.

* **Reading** (:func:`read_train_log`, :func:`read_test_log`, :func:`collect_table`): BasicSR's training logs
  ``experiments/<name>/train_<name>_*.log`` (every file of an ``--auto_resume``d run, oldest first) and test
  logs ``results/<name>/test_<name>_*.log``. A ``Validation <set>`` block is attributed to the iteration of
  the last ``iter:`` line before it (or to ``total_iter`` after ``End of training``). A row is ``done`` once
  the training log has ended, ``partial`` (with its last validated iteration) while it runs or after it
  died, ``missing`` without a log. A log whose header (BasicSR's option dump) names another ``scale`` is
  refused for that row, and a number is only ever taken from the block of the column's own test set.
* **Published numbers** (``published.yaml``, :func:`published_for`): each entry names its table, group, row,
  scale and test set, and is placed only in that cell of that table; ``reference: true`` entries (Table 3's RCAN,
  SAN, IGNN, HAN, NLSA) become rows of their own (:func:`reference_records`). :func:`published_from_csv` turns the
  transcription of the pruning study's Tables 1-3 into those entries (a test keeps the YAML equal to it).
* **Writing** (:func:`write_table`): the row records (:mod:`.render`'s format) rendered by
  :func:`~basicsr_distill.reporting.render.render_table` into ``<table>.md`` and ``.csv``, and the fraction plot.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from basicsr_distill.reporting.render import METRICS, RenderedTable, canonical, plot_fraction, render_table
from basicsr_distill.tables.rows import TABLE1, Row, TableSpec
from basicsr_distill.utils import atomic_output

PUBLISHED = Path(__file__).with_name("published.yaml")

_ITER = re.compile(r"\biter:\s*([\d,]+)")  # not the option dump's "total_iter: N" (a resumed log repeats it)
_VALIDATION = re.compile(r"Validation (\S+)\s*$")
_METRIC = re.compile(r"^\s*# (\w+): (-?[\d.]+|nan|inf)")
_SCALE = re.compile(r"^  scale: (\d+)\s*$")
_TOTAL = re.compile(r"^\s+total_iter: (\d+)\s*$")


@dataclass
class LogResult:
    """What one run's logs say: status, iteration of the numbers, and ``{test set: {metric: value}}``."""

    status: str  # done | partial | missing | refused: ...
    iter: int | None = None
    scale: int | None = None
    total_iter: int | None = None
    results: dict[str, dict[str, float]] = field(default_factory=dict)
    short: bool = False  # a finished run of fewer iterations than its row, taken with ``short_runs``


def _log_files(folder: Path, prefix: str) -> list[Path]:
    paths = sorted(folder.glob(f"{prefix}_*.log")) if folder.is_dir() else []
    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path}: is not a file (expected a BasicSR log)")
    return paths


def _metric_block(lines: Sequence[str], index: int) -> tuple[dict[str, float], int]:
    """The ``# <metric>: <value>`` lines of the validation block that starts at ``lines[index]``, and the index of
    the line after them."""
    values: dict[str, float] = {}
    while index < len(lines) and (metric := _METRIC.match(lines[index])):
        values[metric.group(1)] = float(metric.group(2))
        index += 1
    return values, index


def read_train_log(paths: Sequence[Path]) -> LogResult:
    """Parse the training logs of one run (oldest first); the latest validation of each test set wins."""
    if not paths:
        return LogResult("missing")
    scale = total = None
    current = 0
    ended = False
    blocks: dict[str, tuple[int, dict[str, float]]] = {}
    last_val_iter: int | None = None
    lines = [line for path in paths for line in path.read_text(errors="replace").splitlines()]
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if scale is None and (m := _SCALE.match(line)):
            scale = int(m.group(1))
        elif total is None and (m := _TOTAL.match(line)):
            total = int(m.group(1))
        elif "End of training" in line:
            ended = True
        elif "Start training from" in line or "Resuming training from" in line:
            ended = False
            if m := _ITER.search(line):
                current = int(m.group(1).replace(",", ""))
        elif m := _VALIDATION.search(line):
            values, index = _metric_block(lines, index)
            at = total if ended and total is not None else current
            blocks[canonical(m.group(1))] = (at, values)
            last_val_iter = at
        elif m := _ITER.search(line):
            current = int(m.group(1).replace(",", ""))
    done = ended and total is not None
    results = {name: values for name, (at, values) in blocks.items() if not done or at == total}
    status = "done" if done else "partial"
    return LogResult(status, total if done else (last_val_iter or current), scale, total, results)


def read_test_log(paths: Sequence[Path]) -> LogResult:
    """Parse the test logs of one run: the newest block of each test set wins."""
    if not paths:
        return LogResult("missing")
    result = LogResult("done")
    for path in paths:
        lines = path.read_text(errors="replace").splitlines()
        index = 0
        while index < len(lines):
            line = lines[index]
            index += 1
            if result.scale is None and (m := _SCALE.match(line)):
                result.scale = int(m.group(1))
            elif m := _VALIDATION.search(line):
                result.results[canonical(m.group(1))], index = _metric_block(lines, index)
    return result


def collect_row(root: str | os.PathLike, row: Row, short_runs: bool = False) -> LogResult:
    """Training and test logs of ``row`` under ``root`` (``experiments/``, ``results/``), checked for its scale.

    Test numbers count only once the training is done (or without a training log, e.g. downloaded weights):
    a test of a still-running run would be a number of unfinished weights. A finished run of another
    iteration budget is refused, unless ``short_runs`` and it trained fewer iterations than the row (a
    short-budget check of the pipeline): its numbers are then taken with its own ``total_iter``.
    """
    root = Path(root)
    train = read_train_log(_log_files(root / "experiments" / row.name, f"train_{row.name}"))
    test = read_test_log(_log_files(root / "results" / row.name, f"test_{row.name}"))
    for log in (train, test):
        if log.scale is not None and log.scale != row.scale:
            return LogResult(f"refused: log is x{log.scale}, row is x{row.scale}")
    short = short_runs and train.status == "done" and (train.total_iter or 0) < row.total_iter
    if train.status == "done" and train.total_iter != row.total_iter and not short:
        return LogResult(f"refused: log trained {train.total_iter:,} iterations, row {row.total_iter:,}")
    if train.status == "missing" and test.status == "missing":
        return train
    if train.status == "partial":
        return train
    trained = train.total_iter if short else row.total_iter
    merged = LogResult("done", train.iter if train.status == "done" else None, row.scale, trained, short=short)
    merged.results = {**train.results, **test.results}
    return merged


def load_published(path: str | os.PathLike = PUBLISHED) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    if not isinstance(data, dict) or not isinstance(data.get("numbers", []), list):
        raise ValueError(f"{path}: expected a mapping with a 'numbers' list")
    return data


def published_for(published: Mapping[str, Any], table: str, group: str, label: str, scale: int) -> dict:
    """``{test set: {psnr, ssim, source}}`` of one row; entries must name their table, row, scale and test set."""
    out: dict[str, dict[str, Any]] = {}
    for entry in published.get("numbers", []):
        if (entry.get("table"), entry.get("group"), entry.get("row")) != (table, group, label):
            continue
        if entry.get("scale") != scale or not entry.get("test_set"):
            continue  # a number without its scale or test set is never placed in a column
        cell = out.setdefault(canonical(entry["test_set"]), {"source": entry.get("source", "")})
        for metric in METRICS:
            if entry.get(metric) is not None:
                cell[metric] = float(entry[metric])
    return out


TABLE1_FULL_ITER = TABLE1["full_iter"]
PAPER = "Moser, Raue, Dengel 2024 (arXiv 2403.17083)"


def published_from_csv(text: str, specs: Mapping[str, TableSpec]) -> list[dict[str, Any]]:
    """The pruning study's numbers (a CSV of columns ``table, model, scale, selection, ratio, offset, scorer,
    train_steps, test_set, psnr, ssim, note``, one printed PSNR/SSIM pair a line) as ``published.yaml`` entries: each
    placed on the row of ``specs['table<N>']`` with the same arch or group, selection, ratio, offset, scorer and
    (Table 1) step ratio; a method not trained here (Table 3's RCAN, SAN, ...) becomes a ``reference`` entry."""
    entries = []
    for number, line in enumerate(csv.DictReader(io.StringIO(text)), 2):
        spec = specs[f"table{line['table']}"]
        scale, ratio, offset = int(line["scale"]), float(line["ratio"]), float(line["offset"])
        scores = "sobel" if line["scorer"].startswith("Sobel") else "srcnn"
        steps = int(line["train_steps"]) if line["train_steps"] else None
        matches = [
            table_row
            for table_row in spec.rows
            if table_row.row.arch == line["model"]
            and table_row.row.scale == scale
            and table_row.row.strategy == line["selection"]
            and table_row.row.fraction == ratio
            and (table_row.row.selection is None or table_row.row.selection.offset == offset)
            and (table_row.row.selection is None or table_row.row.selection.scores == scores)
            and (steps is None or round(table_row.row.iter_factor * int(TABLE1_FULL_ITER)) == steps)
        ]
        if len(matches) > 1:
            raise ValueError(f"line {number}: matches rows {[m.label for m in matches]} of {spec.key}")
        entry: dict[str, Any] = {"table": spec.key}
        if matches:
            entry.update(group=matches[0].group, row=matches[0].label)
        elif line["model"] != "SwinIR" and line["selection"] == "full":
            entry.update(group=f"x{scale}", row=line["model"], reference=True)
        else:
            raise ValueError(f"line {number}: no row of {spec.key} for {dict(line)}")
        what = f"{line['model']} x{scale}, {line['selection']}" + ("" if ratio == 1 else f" {ratio:.0%}")
        what += f", skip top {offset:.0%}" if offset else ""
        what += f", {line['scorer']}" if line["scorer"] else ""
        what += f", {steps:,} steps" if steps else ""
        entry.update(
            scale=scale,
            test_set=line["test_set"],
            psnr=float(line["psnr"]),
            ssim=float(line["ssim"]),
            source=f"{PAPER}, Table {line['table']}, {what}, {line['test_set']}"
            + (f" ({line['note']})" if line["note"] else ""),
        )
        entries.append(entry)
    return entries


def reference_records(published: Mapping[str, Any], spec: TableSpec) -> dict[str, list[dict[str, Any]]]:
    """Row records of the published methods shown for comparison in ``spec`` (entries with ``reference: true``,
    e.g. Table 3's RCAN, SAN, IGNN, HAN, NLSA), by group: status ``reference``, nothing measured."""
    by_group: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in published.get("numbers", []):
        if entry.get("table") != spec.key or not entry.get("reference"):
            continue
        group, label = entry.get("group"), entry.get("row")
        record = by_group.setdefault(group, {}).setdefault(
            label, {"row": label, "group": group, "status": "reference", "results": {}, "published": {}}
        )
        record["published"] = published_for(published, spec.key, group, label, entry.get("scale"))
    return {
        group: [
            {**r, "published": {t: v for t, v in r["published"].items() if t in spec.test_sets}} for r in rows.values()
        ]
        for group, rows in by_group.items()
    }


def collect_table(
    spec: TableSpec, root: str | os.PathLike, published: Mapping[str, Any] | None = None, short_runs: bool = False
) -> list[dict[str, Any]]:
    """Row records of ``spec`` (see the module docstring) from the logs under ``root``; ``short_runs``: see
    :func:`collect_row` (such a row's record has ``short: True`` and the iterations it trained). The published
    reference methods of a group come first in it (:func:`reference_records`). Every published number is that of
    ``spec``'s own table, the row's scale and the column's test set."""
    references = reference_records(published or {}, spec)
    records: list[dict[str, Any]] = []
    for table_row in spec.rows:
        records += references.pop(table_row.group, [])
        row = table_row.row
        log = collect_row(root, row, short_runs)
        records.append(
            {
                "row": table_row.label,
                "group": table_row.group,
                "name": row.name,
                "strategy": row.strategy,
                "fraction": row.fraction,
                "iterations": log.total_iter if log.short else row.total_iter,
                "short": log.short,
                "series": table_row.series,
                "status": log.status,
                "iter": log.iter,
                "results": {t: v for t, v in log.results.items() if t in spec.test_sets},
                "published": {
                    t: v
                    for t, v in published_for(
                        published or {}, spec.key, table_row.group, table_row.label, row.scale
                    ).items()
                    if t in spec.test_sets
                },
            }
        )
    return records


def unplaced_published(published: Mapping[str, Any], table: str) -> list[str]:
    """Published numbers of ``table`` that name no scale or test set: listed under the table, never in a cell."""
    notes = []
    for entry in published.get("numbers", []):
        if entry.get("table") == table and (entry.get("scale") is None or not entry.get("test_set")):
            values = ", ".join(f"{m.upper()} {entry[m]}" for m in METRICS if entry.get(m) is not None)
            notes.append(
                f"published, test set/scale not stated by the source: {entry.get('group')} {entry.get('row')}: "
                f"{values} ({entry.get('source')})"
            )
    for claim in published.get("claims", []):
        if claim.get("table") == table:
            notes.append(f"published claim: {claim.get('text')} ({claim.get('source')})")
    return notes


def write_table(
    spec: TableSpec,
    root: str | os.PathLike,
    out: str | os.PathLike,
    published: Mapping[str, Any] | None = None,
    short_runs: bool = False,
) -> tuple[RenderedTable, list[Path]]:
    """Collect, render and write ``<out>/<table>.md``, ``.csv`` and ``<table>_<test set>.png`` (first column)."""
    published = published if published is not None else load_published()
    records = collect_table(spec, root, published, short_runs)
    notes = list(spec.notes) + unplaced_published(published, spec.key)
    if any(record.get("short") for record in records):
        notes.append("(short run): trained fewer iterations than the row (--short-runs); not compared, not ranked")
    if any(record["status"] == "reference" for record in records):
        notes.append("reference rows: the published numbers of methods not trained here ('-': nothing measured)")
    table = render_table(records, spec.test_sets, title=spec.title, notes=notes, undiffed=spec.undiffed)
    out = Path(out)
    written = []
    for suffix, text in ((".md", table.markdown), (".csv", table.csv)):
        with atomic_output(out / f"{spec.key}{suffix}") as tmp:
            tmp.write_text(text)
        written.append(out / f"{spec.key}{suffix}")
    if any(r.get("fraction") not in (None, 1.0) for r in records):
        written.append(plot_fraction(records, spec.test_sets[0], out / f"{spec.key}_{spec.test_sets[0]}.png"))
    return table, written
