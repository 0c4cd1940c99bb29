"""The one resume rule of every long job (basicsr_distill.jobs.reuse): same arguments -> skip, other arguments ->
refuse in one line naming the output and the changed keys, partial -> resume; and the jobs that follow it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from basicsr_distill.jobs.resume_rule import ArgumentsChangedError, reuse
from basicsr_distill.jobs.stage_dir import StageDir, StageParamsError


def test_the_rule(tmp_path: Path, basicsr_log: list[str]) -> None:
    out = tmp_path / "out"
    args = {"scale": 2, "crop": {"size": 48, "step": 24}, "names": ("a", "b")}
    assert reuse(out, None, args, complete=False) == "start"
    stored = json.loads(json.dumps(args))  # as read back from a manifest: the tuple is a list
    assert reuse(out, stored, args, complete=True) == "skip"
    assert reuse(out, stored, args, complete=False) == "resume"
    other = {"scale": 3, "crop": {"size": 48, "step": 12}, "names": ["a", "b"], "seed": 1}
    with pytest.raises(ArgumentsChangedError) as raised:
        reuse(out, stored, other, complete=True)
    assert str(raised.value) == (
        f"{out}: exists and was made with other arguments (crop.step 24 -> 12; scale 2 -> 3; seed <unset> -> 1); "
        "pass --overwrite to replace it"
    )
    assert isinstance(raised.value, FileExistsError)
    assert reuse(out, stored, other, complete=False, overwrite=True) == "replace"
    assert basicsr_log[-1] == (
        f"{out}: replacing what was made with other arguments (crop.step 24 -> 12; scale 2 -> 3; seed <unset> -> 1)"
    )


def test_a_long_difference_is_cut(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as raised:
        reuse(tmp_path, {f"k{i}": 0 for i in range(9)}, {f"k{i}": 1 for i in range(9)}, True, error=ValueError)
    assert str(raised.value) == (
        f"{tmp_path}: exists and was made with other arguments (k0 0 -> 1; k1 0 -> 1; k2 0 -> 1; k3 0 -> 1; "
        "k4 0 -> 1; k5 0 -> 1; and 3 more); pass --overwrite to replace it"
    )


def test_a_file_recorded_with_its_digest_is_compared_by_the_digest(tmp_path: Path) -> None:
    stored = {"checkpoint": "/old/place/scorer.pth", "checkpoint_sha256": "ab", "teacher": {"checkpoint": None}}
    moved = {"checkpoint": "/new/place/scorer.pth", "checkpoint_sha256": "ab", "teacher": {"checkpoint": None}}
    assert reuse(tmp_path, stored, moved, complete=True) == "skip"
    with pytest.raises(ArgumentsChangedError, match=r"\(checkpoint_sha256 ab -> cd\)"):
        reuse(tmp_path, stored, {**stored, "checkpoint_sha256": "cd"}, complete=True)
    no_digest = {"checkpoint": "/new/place/scorer.pth", "checkpoint_sha256": None}
    with pytest.raises(ArgumentsChangedError, match=r"checkpoint <unset> -> /new/place/scorer.pth"):
        reuse(tmp_path, stored, {**no_digest, "teacher": {"checkpoint": None}}, complete=True)


def test_a_stage_folder_follows_the_rule(tmp_path: Path) -> None:
    stage = StageDir(tmp_path / "patches", "select_patches", {"threshold": 23.0}, {"images": "abc"})
    assert stage.finished() is None
    stage.begin()
    assert stage.finished() is None  # partial: resume
    manifest = stage.finish({"csv": "patches.csv"}, {"kept": 3})
    assert stage.finished() == manifest  # complete: skip
    other = StageDir(tmp_path / "patches", "select_patches", {"threshold": 25.0}, {"images": "abc"})
    with pytest.raises(StageParamsError) as raised:
        other.finished()
    assert str(raised.value) == (
        f"{tmp_path / 'patches'}: exists and was made with other select_patches parameters or inputs "
        "(params.threshold 23.0 -> 25.0); pass --overwrite to replace them or choose another folder"
    )
    replacing = StageDir(tmp_path / "patches", "select_patches", {"threshold": 25.0}, {"images": "abc"}, True)
    assert replacing.finished() is None and not (tmp_path / "patches").exists()


def test_scores_of_other_arguments_in_progress_are_refused(tmp_path: Path) -> None:
    # A stopped scoring run's partial folder follows the rule too: other arguments are refused, not discarded.
    from basicsr_distill.scoring.runner import _prepare_output

    csv_path, json_path, partial = tmp_path / "s" / "scores.csv", tmp_path / "s" / "scores.json", tmp_path / ".p"
    assert _prepare_output(csv_path, json_path, partial, {"scorer": "sobel", "count": 4}, False) == "run"
    assert _prepare_output(csv_path, json_path, partial, {"scorer": "sobel", "count": 4}, False) == "run"
    with pytest.raises(ArgumentsChangedError) as raised:
        _prepare_output(csv_path, json_path, partial, {"scorer": "loss", "count": 4}, False)
    assert str(raised.value) == (
        f"{partial}: exists and was made with other arguments (scorer sobel -> loss); pass --overwrite to replace it"
    )
    assert _prepare_output(csv_path, json_path, partial, {"scorer": "loss", "count": 4}, True) == "run"
    assert json.loads((partial / "fingerprint.json").read_text()) == {"scorer": "loss", "count": 4}
