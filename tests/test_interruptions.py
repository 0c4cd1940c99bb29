"""Every stage killed (SIGKILL, no clean-up handler runs) at several points, then rerun with the same
arguments, gives byte-identical outputs and leaves no hidden temp, partial or progress folder.

A forked child runs the stage and kills itself at the N-th ``os.replace`` -- the rename that every file, folder,
LMDB, marker and manifest of every stage goes through (``atomic_output``, ``write_png``, ``mark_done``, the LMDB
pair) -- i.e. with that output complete in its hidden temp but not yet in place. The points are the first, the
middle and the last rename of an uninterrupted run of the same stage (counted in a first child).

The DiT fine-tuning runs BasicSR's ``train_pipeline`` (``--auto_resume``): its checkpoints, training states and
validation grids must come out the same whether the run was stopped and resumed or not (its logs and BasicSR's
time-stamped copy of the options are not compared).
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest
import torch
from conftest import textured_image

REPO = Path(__file__).resolve().parents[1]
#: Outputs whose bytes hold a time or a duration (compared on their other files only).
TIMED = {"manifest.json", "scores.json", "record.json", ".basicsr_distill.json"}


def _in_child(stage: Callable[[], object], kill_at: int | None) -> tuple[int, bool]:
    """Run ``stage`` in a forked child killed at its ``kill_at``-th ``os.replace``; (renames seen, killed)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        # One core, one thread: an OpenMP pool the parent made is unusable after fork (the stages size their
        # thread counts from the cores they may use). The dump ends a child that hangs anyway, with a traceback.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        torch.set_num_threads(1)
        faulthandler.dump_traceback_later(60, exit=True, file=sys.__stderr__)
        real, calls = os.replace, [0]

        def replace(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(*args, **kwargs)

        os.replace = replace
        code = 0
        try:
            stage()
        except BaseException:  # noqa: BLE001 - reported through the exit code (and the traceback on stderr)
            import traceback

            traceback.print_exc()
            code = 3
        os.write(write, str(calls[0]).encode())
        os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    seen = os.read(read, 64).decode()
    os.close(read)
    if os.WIFSIGNALED(status):
        return kill_at or 0, True
    assert os.WEXITSTATUS(status) == 0, f"the stage failed in the child (exit {os.WEXITSTATUS(status)})"
    return int(seen), False


def _timed(path: Path) -> bool:
    """A file whose bytes hold a time: a record, a log, BasicSR's copy of the options (``# GENERATE TIME``)."""
    return path.name in TIMED or path.suffix == ".log" or path.parent.parent.name == "experiments"


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not _timed(path)
    }


def _leftovers(root: Path) -> list[str]:
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob(".*")
        if ".tmp-" in path.name or path.name in (".progress",) or path.name.endswith(".partial")
    )


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """HR images, their x2 sub-images (folder + LMDB pair) and sobel scores, made once for every stage."""
    from basicsr_distill.preparation.lmdb_creation import create_lmdb
    from basicsr_distill.preparation.subimages import extract_subimages
    from basicsr_distill.scoring.runner import ScoreConfig, score_dataset

    root = tmp_path_factory.mktemp("inputs")
    hr = root / "HR"
    hr.mkdir()
    for index in range(3):
        cv2.imwrite(str(hr / f"{index:04d}.png"), textured_image(64, 64, seed=index))
    extract_subimages(hr, root / "HR_sub", scales=(2,), crop_size=32, step=32, workers=1)
    gt = create_lmdb(root / "HR_sub", workers=1)
    lq = create_lmdb(root / "LR_bicubic_X2_sub", workers=1)  # default_lr_output of HR_sub, x2
    score_dataset(ScoreConfig(scorer="sobel", gt=str(gt), out=root / "scores", workers=0, progress=False))
    _clusters({"sub": root / "HR_sub"}, root)
    return {
        "hr": hr,
        "sub": root / "HR_sub",
        "gt": gt,
        "lq": lq,
        "scores": root / "scores" / "scores.csv",
        "labels": root / "clusters" / "labels.csv",
    }


def _extract(inputs: dict[str, Path], out: Path) -> None:
    from basicsr_distill.preparation.subimages import extract_subimages

    extract_subimages(inputs["hr"], out / "HR_sub", scales=(2,), crop_size=32, step=32, workers=1)


def _lmdb(inputs: dict[str, Path], out: Path) -> None:
    from basicsr_distill.preparation.lmdb_creation import create_lmdb

    create_lmdb(inputs["sub"], out / "HR_sub.lmdb", workers=1)


def _score(inputs: dict[str, Path], out: Path) -> None:
    from basicsr_distill.scoring.runner import ScoreConfig, score_dataset

    config = ScoreConfig(
        scorer="sobel", gt=str(inputs["gt"]), out=out / "scores", workers=0, batch_size=2, chunk_size=2, progress=False
    )
    score_dataset(config)


def _select(inputs: dict[str, Path], out: Path) -> None:
    from basicsr_distill.selection.coreset import save_coreset, select_coreset
    from basicsr_distill.selection.dataset_index import DatasetIndex
    from basicsr_distill.selection.strategies.random_subset import Random

    with DatasetIndex(inputs["gt"]) as gt, DatasetIndex(inputs["lq"]) as lq:
        coreset = select_coreset(inputs["scores"], Random(0.5, seed=3), gt.names)
        save_coreset(coreset, out / "coreset", gt, lq)


def _patches(inputs: dict[str, Path], out: Path) -> None:
    from basicsr_distill.distillation.patches import PatchSelectionConfig, select_patches

    config = PatchSelectionConfig(patch_size=16, stride=16, psnr_threshold=40.0, scale=4, resize="matlab")
    select_patches(inputs["hr"], out / "patches", config, workers=1)


def _clusters(inputs: dict[str, Path], out: Path) -> None:
    from basicsr_distill.distillation.clustering import ClusterConfig, cluster_patches

    cluster_patches(inputs["sub"], out / "clusters", ClusterConfig(k=2, seed=7, n_init=2, batch_size=4, device="cpu"))


def _finetune(inputs: dict[str, Path], out: Path) -> None:
    """The tiny DiT on the 12 sub-images (2 classes), batch 2: 6 iterations an epoch, 8 in all, a checkpoint and a
    validation every 3, so runs resume inside an epoch (3) and at an epoch's end (6)."""
    from basicsr_distill.synthesis import load_yaml
    from basicsr_distill.synthesis.methods.srdd import run_finetune

    opt = load_yaml(REPO / "options" / "distill" / "finetune_dit_tiny.yml")
    opt["name"] = "tiny_finetune"
    for dataset in opt["datasets"].values():
        dataset["dataroot_gt"], dataset["labels_csv"] = str(inputs["sub"]), str(inputs["labels"])
    opt["network_g"]["num_classes"] = 2
    opt["train"]["total_iter"] = 8
    opt["val"]["val_freq"] = opt["logger"]["save_checkpoint_freq"] = 3
    run_finetune(opt, out / "finetune", overwrite=False, inputs={"labels": str(inputs["labels"])})


def _synthesize(inputs: dict, out: Path) -> None:
    from basicsr_distill.distillation.dit import load_dit_components
    from basicsr_distill.distillation.synthesize import SynthesisConfig, synthesize

    components = load_dit_components(None, tiny={"transformer": {"num_embeds_ada_norm": 2}}, device="cpu")
    synthesize(components, 2, out / "distilled", SynthesisConfig(ipc=2, scale=4, num_steps=2, seed=3, batch_size=1))


STAGES = {
    "extract_subimages": _extract,
    "create_lmdb": _lmdb,
    "score_dataset": _score,
    "select_coreset_materialize": _select,
    "distill_patches": _patches,
    "distill_clusters": _clusters,
    "distill_finetune": _finetune,
    "distill_synthesize": _synthesize,
}

#: Further kill points: the fine-tuning's renames are the stage record (1), its options (2), then per checkpoint
#: ``net_g_{i}``, ``{i}.state`` and one grid per class (3-6 at iteration 3, 7-10 at 6), the final net (11) and
#: grids, the manifest (14). At 5 the resumed run must redo the validation of iteration 3; at 7 it resumes inside
#: epoch 0 (3 of its 6 batches done), at 9 at the epoch's end.
MORE_KILLS = {"distill_finetune": (5, 9)}


@pytest.mark.parametrize("stage", list(STAGES))
def test_killed_stage_reruns_to_identical_outputs(stage: str, inputs: dict[str, Path], tmp_path: Path) -> None:
    def run() -> None:
        STAGES[stage](inputs, out)

    out = tmp_path / "out"
    renames, killed = _in_child(run, None)
    assert not killed and renames >= 1, renames
    reference = _snapshot(out)
    assert reference and not _leftovers(out)
    for kill_at in sorted({1, max(1, renames // 2), renames, *MORE_KILLS.get(stage, ())}):
        shutil.rmtree(out)
        assert _in_child(run, kill_at) == (kill_at, True)
        _, killed = _in_child(run, None)  # the rerun, same arguments
        assert not killed
        assert _leftovers(out) == [], (stage, kill_at)
        assert _snapshot(out) == reference, (stage, kill_at)


def test_materialize_killed_at_any_rename_never_leaves_lq_without_gt(inputs: dict[str, Path], tmp_path: Path) -> None:
    # killed while the pair was written, the LQ LMDB stood without its GT partner (and a full-size
    # hidden GT temp stayed for good). Both are now staged and renamed back to back, GT first.
    out = tmp_path / "out"

    def run() -> None:
        _select(inputs, out)

    renames, _ = _in_child(run, None)
    for kill_at in range(1, renames + 1):
        shutil.rmtree(out)
        _in_child(run, kill_at)
        pair = [(out / "coreset" / name).exists() for name in ("HR_sub.lmdb", "LR_bicubic_X2_sub.lmdb")]
        assert pair != [False, True], kill_at
        if pair == [True, False]:  # only a kill between the two renames; no record, so the rerun rebuilds
            assert not (out / "coreset" / "selection.json").exists()
