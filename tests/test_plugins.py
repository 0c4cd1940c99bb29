"""Extension by registration: a toy strategy, scorer and data-efficiency method registered by a module outside the
package (``toy_plugin``) work through ``basicsr-distill --plugin``, ``select``, ``score``, a YAML ``coreset:`` block
and a ``data_efficiency:`` block; unknown names are refused in one line that lists the registered ones; the package
holds no comparison against those names and its registries import nothing heavy."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import write_paired_folder

from basicsr_distill.commands import main
from basicsr_distill.efficiency.options import METHODS, DataEfficiencyOptions
from basicsr_distill.registry import PLUGINS_ENV
from basicsr_distill.scoring.scorer import SCORERS
from basicsr_distill.selection.strategy import STRATEGIES

PACKAGE = Path(__file__).resolve().parents[1] / "basicsr_distill"
REGISTRIES = (STRATEGIES, SCORERS, METHODS)


@pytest.fixture
def plugin(monkeypatch: pytest.MonkeyPatch) -> str:
    """The toy plugin's name; what it registers and the environment it sets are undone after the test."""
    for registry in REGISTRIES:
        registry.names()  # built-ins loaded, so that the copy below holds them
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))
    monkeypatch.delitem(sys.modules, "toy_plugin", raising=False)
    monkeypatch.setenv(PLUGINS_ENV, "")  # recorded, so that what --plugin adds is undone
    return "toy_plugin"


@pytest.fixture
def folder(tmp_path: Path) -> tuple[Path, Path]:
    """Eight 16x16 HR images, their x2 LR, and scores 0..7 by name: ``(gt_dir, scores.csv)``."""
    gt_dir, _ = write_paired_folder(tmp_path / "data", count=8, size=16, scale=2)
    scores = tmp_path / "scores.csv"
    scores.write_text("name,score\n" + "".join(f"{index:04d},{float(index)!r}\n" for index in range(8)))
    return gt_dir, scores


#: ``middle`` at ratio 0.5, shift 1 of the scores 0..7: the descending ranks 1..4 (8 - 4) // 2 - 1 = 1.
MIDDLE = ["0003", "0004", "0005", "0006"]


def test_toy_strategy_through_select(plugin: str, folder: tuple[Path, Path], tmp_path: Path) -> None:
    gt_dir, scores = folder
    out = tmp_path / "out"
    args = ["--scores", str(scores), "--gt", str(gt_dir), "--strategy", "middle", "--ratio", "0.5", "--shift", "1"]
    assert main(["--plugin", plugin, "select", *args, "--out", str(out)]) == 0
    assert (out / "meta_info_coreset.txt").read_text().split() == [f"{name}.png" for name in MIDDLE]
    record = json.loads((out / "selection.json").read_text())
    assert (record["strategy"], record["parameters"], record["seed"]) == ("middle", {"ratio": 0.5, "shift": 1}, 0)
    assert sys.modules[plugin].Middle is STRATEGIES.get("middle")
    assert PLUGINS_ENV in __import__("os").environ and plugin in __import__("os").environ[PLUGINS_ENV].split(",")


def test_toy_strategy_through_a_yaml_coreset_block(plugin: str, folder: tuple[Path, Path]) -> None:
    from basicsr.data import build_dataset

    from basicsr_distill.registry import add_plugins

    gt_dir, scores = folder
    add_plugins([plugin])  # what --plugin does; a training started from here inherits it in the environment
    options = {
        "name": "toy",
        "type": "CoreSetPairedImageDataset",
        "dataroot_gt": str(gt_dir),
        "dataroot_lq": str(gt_dir.parent / "lq"),
        "io_backend": {"type": "disk"},
        "coreset": {"scores": str(scores), "strategy": "middle", "ratio": 0.5, "shift": 1},
        "phase": "val",
        "scale": 2,
    }
    dataset = build_dataset(options)
    assert sorted(Path(entry["gt_path"]).stem for entry in dataset.paths) == MIDDLE
    assert dataset.coreset.record["parameters"] == {"ratio": 0.5, "shift": 1}


def test_toy_scorer_through_score(plugin: str, folder: tuple[Path, Path], tmp_path: Path) -> None:
    gt_dir, _ = folder
    out = tmp_path / "bright.csv"
    args = ["--scorer", "brightness", "--gain", "2", "--gt", str(gt_dir), "--out", str(out)]
    assert main(["--plugin", plugin, "score", *args, "--workers", "0", "--no-progress"]) == 0
    rows = [line.split(",") for line in out.read_text().splitlines()[1:]]
    for name, value in rows:
        pixels = cv2.imread(str(gt_dir / f"{name}.png")).astype(np.float32) / np.float32(255)
        assert float(value) == pytest.approx(2 * pixels.astype(np.float64).mean(), rel=1e-9)
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert (manifest["scorer"], manifest["gain"], manifest["higher_is_harder"]) == ("brightness", 2.0, True)


def test_toy_method_through_a_data_efficiency_block(plugin: str) -> None:
    from basicsr_distill.efficiency.stream import PruningStream
    from basicsr_distill.registry import add_plugins

    add_plugins([plugin])
    options = DataEfficiencyOptions.from_options({"method": "even_only", "anneal": 0.0}, default_seed=3)
    assert options.as_dict() == {"method": "even_only", "anneal": 0.0, "seed": 3}
    stream = PruningStream([f"{index:04d}" for index in range(6)], 1, 1, 0, 12, options)  # budget: 2 epochs
    indices = [index for batch in stream for index, _ in batch]
    assert sorted(indices) == [0, 0, 2, 2, 4, 4]  # 2 pruned epochs of the 3 even indices


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["select", "--strategy", "midle"],
            "argument --strategy: unknown selection strategy 'midle' (registered: ascending, ccs, descending, hdc, "
            "random, middle); did you mean 'middle'?",
        ),
        (
            ["score", "--scorer", "brightnes"],
            "argument --scorer: unknown scorer 'brightnes' (registered: bicubic_psnr, loss, random, sobel, "
            "brightness); did you mean 'brightness'?",
        ),
        (["select", "--strategy", "descending", "--ratio", "0.5", "--clusters", "3"], "error: --clusters is not a"),
        (["select", "--strategy", "middle", "--ratio", "2"], "error: --ratio must be in (0, 1], got 2.0"),
    ],
)
def test_unknown_names_and_foreign_flags_are_one_line(
    plugin: str, folder: tuple[Path, Path], tmp_path: Path, capsys, command: list, message: str
) -> None:
    gt_dir, scores = folder
    paths = {"select": ["--scores", str(scores)], "score": []}[command[0]] + ["--gt", str(gt_dir)]
    with pytest.raises(SystemExit) as exit_info:
        main(["--plugin", plugin, *command, *paths, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_unknown_plugin_and_names_in_tables_and_studies(capsys) -> None:
    from basicsr_distill.runners.study.config import StudyRow
    from basicsr_distill.tables.rows import Selection

    with pytest.raises(SystemExit) as exit_info:
        main(["--plugin", "no_such_plugin", "select", "--help"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: --plugin: plugin module 'no_such_plugin' not found\n"
    with pytest.raises(ValueError, match=r"^strategy: unknown selection strategy 'hardest' \(registered: "):
        Selection("hardest50", "hardest", 0.5)
    with pytest.raises(ValueError, match=r"^study row x: strategy: unknown selection strategy 'hardest'"):
        StudyRow("x", {"scores": "loss", "strategy": "hardest", "ratio": 0.5})
    with pytest.raises(ValueError, match=r"^study row y: data_efficiency:method: unknown data-efficiency method"):
        StudyRow("y", train_options={"data_efficiency": {"method": "infobach"}})


def test_help_lists_the_registered_names_with_the_plugins(plugin: str, capsys) -> None:
    for command, names in (("select", ("hdc", "ccs", "middle", "--shift")), ("score", ("sobel", "brightness"))):
        with pytest.raises(SystemExit) as exit_info:
            main(["--plugin", plugin, command, "--help"])
        text = capsys.readouterr().out
        assert exit_info.value.code == 0 and all(name in text for name in names), text


def test_no_comparison_with_a_registered_name_in_the_package() -> None:
    """Adding a strategy, scorer or method edits no chain: no ``==``/``in`` of a strategy, scorer or method against
    their names (``config.strategy == "hdc"``, ``method in ("infobatch", ...)``); strings in messages and docs, and
    other things that share a name (the tables' ``scores == "sobel"`` file), are fine."""
    names = {name for registry in REGISTRIES for name in registry.names()}
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Compare):
                continue
            operands = [node.left, *node.comparators]
            constants = {
                leaf.value for operand in operands for leaf in ast.walk(operand) if isinstance(leaf, ast.Constant)
            }
            subjects = " ".join(ast.unparse(operand) for operand in operands if not isinstance(operand, ast.Constant))
            if constants & names and re.search(r"strateg|scorer|method", subjects):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not found, found


def test_registries_import_nothing_heavy() -> None:
    """``--help`` reads every registered class: the modules that define and register them import no heavy library
    at module level (heavy imports live inside the functions that compute)."""
    heavy = {"torch", "torchvision", "cv2", "basicsr", "sklearn", "scipy", "lmdb", "diffusers", "open_clip"}
    modules = [PACKAGE / "registry.py", PACKAGE / "parameters.py", PACKAGE / "selection" / "strategy.py"]
    modules += [
        PACKAGE / "scoring" / "scorer.py",
        PACKAGE / "scoring" / "__init__.py",
        PACKAGE / "selection" / "__init__.py",
    ]
    modules += sorted((PACKAGE / "selection" / "strategies").glob("*.py"))
    modules += sorted((PACKAGE / "scoring" / "scorers").glob("*.py"))
    for path in modules:
        for node in ast.parse(path.read_text()).body:  # module level only
            imported = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            imported += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not {name.split(".")[0] for name in imported} & heavy, f"{path}: imports {imported} at start"


def test_contributing_shows_the_tested_toy_classes() -> None:
    """The examples of CONTRIBUTING.md's "Adding a strategy, a scorer, a data-efficiency method" are the classes this
    file runs (``toy_plugin.py``), line for line from the decorator on."""
    text = (PACKAGE.parent / "CONTRIBUTING.md").read_text()
    section = text.split("## Adding a strategy, a scorer, a data-efficiency method")[1].split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    plugin = [
        line.split("  # noqa")[0].rstrip()
        for line in (Path(__file__).parent / "toy_plugin.py").read_text().splitlines()
    ]
    plugin = [line for line in plugin if line.strip()]
    assert len(blocks) == 3
    for block in blocks:
        lines = [line for line in block.splitlines() if line.strip()]
        start = next(index for index, line in enumerate(lines) if line.startswith("@"))
        body = lines[start:]
        first = plugin.index(body[0])
        assert plugin[first : first + len(body)] == body, block
