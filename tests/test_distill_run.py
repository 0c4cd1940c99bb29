"""The synthesis seam of ``basicsr-distill distill run``: ``--help`` names every method, a method registered from
outside the package runs through it, and the distillation YAML is read as the training entry reads its options:
a refused file, key or ``--stages`` is one line naming the file and the key, exit 2, nothing created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import refused_in_one_line

from basicsr_distill.commands import main
from basicsr_distill.preparation.lmdb_io import LmdbReader
from basicsr_distill.synthesis import load_yaml

REPO = Path(__file__).resolve().parents[1]


def run_cli(*argv: str) -> None:
    main(["distill", "run", *argv])


def test_a_third_method_registered_from_outside_runs_through_distill_run(tmp_path: Path) -> None:
    (tmp_path / "flat_method.py").write_text(
        '''"""A toy synthesis method: flat grey HR images, LR made by the shared export."""
import numpy as np

from basicsr_distill.distillation.export import write_lmdb_pair
from basicsr_distill.synthesis import SYNTHESIS_METHODS, SynthesisMethod


@SYNTHESIS_METHODS.register()
class Flat(SynthesisMethod):
    name = "flat"
    summary = "flat grey images"
    stages = ("paint",)
    keys = frozenset({"root", "count", "scale"})
    scale_key = ("scale",)

    def run(self, overwrite=False, stages=None):
        root, scale = self.options["root"], self.options["scale"]
        pairs = ((f"flat{i}", np.full((8, 8, 3), 40 * i, np.uint8), None) for i in range(self.options["count"]))
        return write_lmdb_pair(pairs, f"{root}/flat_HR.lmdb", f"{root}/flat_LR.lmdb", scale, "flat")
'''
    )
    (tmp_path / "flat.yml").write_text(f"method: flat\nroot: {tmp_path / 'out'}\ncount: 3\nscale: 2\n")
    script = (
        "from basicsr_distill.commands import main\n"
        "try:\n    main(['distill', 'run', '--help'])\nexcept SystemExit:\n    pass\n"
        f"main(['distill', 'run', '-opt', {str(tmp_path / 'flat.yml')!r}, '--scale', '4'])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "BASICSR_DISTILL_PLUGINS": "flat_method"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "flat: flat grey images (stages: paint)" in " ".join(done.stdout.split())
    with LmdbReader(tmp_path / "out" / "flat_LR.lmdb") as reader:
        assert reader.keys == ["flat0", "flat1", "flat2"]
        assert reader.get("flat2").shape == (2, 2, 3) and (reader.get("flat2") == 80).all()  # x4 of 8x8, flat


def test_help_names_both_methods(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["distill", "run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "srdd: dataset distillation, Cho et al. 2025" in text
    assert "idc: instance data condensation, Peng et al. 2025" in text and "(stages: condense)" in text


def _bad_srdd(tmp_path: Path, case: str) -> tuple[Path, str]:
    """``distill_tiny.yml`` (SRDD) with one bad entry, and the problem its error line ends with."""
    path = tmp_path / "distill.yml"
    options = load_yaml(REPO / "options" / "distill" / "distill_tiny.yml")
    options["root"] = str(tmp_path / "run")
    if case == "psnr_threshold_abc":
        options["patches"]["psnr_threshold"] = "abc"
        problem = "patches.psnr_threshold: expected a number, got 'abc'"
    elif case == "unknown_method":
        options["method"] = "diffusion"
        problem = "method: unknown synthesis method 'diffusion' (registered: idc, srdd)"
    else:  # keys of another method
        options["condense"] = {"ratio": 0.1}
        problem = "condense: a key of method idc; this file's method is srdd"
    path.write_text(yaml.safe_dump(options))
    return path, problem


@pytest.mark.parametrize(
    "case", ["syntax", "plain_string", "psnr_threshold_abc", "unknown_method", "keys_of_idc", "stages"]
)
def test_bad_yaml_is_one_line_naming_the_file_and_key_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    monkeypatch.chdir(tmp_path)
    argv: list[str] = []
    path = tmp_path / "bad.yml"
    if case == "syntax":
        path.write_text("method: idc\nname: x: y\n")
        problem = "YAML syntax error at line 2, column 8: mapping values are not allowed in this context"
    elif case == "plain_string":
        path.write_text('"just a string: no such option file"\n')
        problem = "not a YAML mapping of BasicSR options (it parses to a str)"
    elif case == "stages":
        options = load_yaml(REPO / "options" / "distill" / "distill_tiny.yml")
        path.write_text(yaml.safe_dump({**options, "root": str(tmp_path / "run")}))
        argv = ["--stages", "condense"]
        problem = "--stages: condense: not a stage of method srdd (patches, clusters, finetune, synthesize)"
    else:
        path, problem = _bad_srdd(tmp_path, case)
    assert (
        refused_in_one_line(lambda: run_cli("-opt", str(path), *argv), tmp_path, capsys) == f"error: {path}: {problem}"
    )
