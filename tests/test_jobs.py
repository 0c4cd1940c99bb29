"""The job layer (basicsr_distill.jobs): require_complete on every kind of input, readers refusing a
stopped extraction, the one distributed context (two gloo processes), and no import circle in the distillation."""

from __future__ import annotations

import ast
import json
import multiprocessing
import os
import socket
from pathlib import Path

import pytest

from basicsr_distill.jobs.distributed import distributed_context, from_rank0
from basicsr_distill.jobs.manifests import MANIFEST, PROGRESS, STAGE_MANIFEST, IncompleteInputError, require_complete
from basicsr_distill.jobs.stage_dir import StageDir

REPO = Path(__file__).resolve().parents[1]


def test_require_complete_names_the_folder_and_what_is_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"^.*nowhere: scores file not found$"):
        require_complete(tmp_path / "nowhere", "scores file")

    stopped = tmp_path / "HR_sub"
    stopped.mkdir()
    (stopped / MANIFEST).write_text(json.dumps({"tool": "extract_subimages", "complete": False, "counts": {"a": 2}}))
    (stopped / PROGRESS).mkdir()
    for stem in ("a", "b", "c"):
        (stopped / PROGRESS / stem).write_text("2")
    with pytest.raises(IncompleteInputError) as error:
        require_complete(stopped, "GT sub-images")
    assert str(error.value) == (
        f"{stopped}: GT sub-images incomplete (extract_subimages stopped after 3 input image(s); its manifest says "
        "complete: false); rerun extract_subimages with the same arguments to finish it"
    )

    stage = StageDir(tmp_path / "patches", "select_patches", {"k": 1}, {})
    stage.begin()
    with pytest.raises(IncompleteInputError, match=r"patches: patch folder incomplete \(the select_patches stage"):
        require_complete(stage.path, "patch folder")
    stage.finish({}, {})
    assert (stage.path / STAGE_MANIFEST).is_file() and require_complete(stage.path) == stage.path

    lmdb = tmp_path / "x.lmdb"
    lmdb.mkdir()
    (lmdb / "data.mdb").write_bytes(b"")
    with pytest.raises(IncompleteInputError, match=r"x\.lmdb: dataset is not a complete LMDB \(no meta_info\.txt\)$"):
        require_complete(lmdb, "dataset")

    done = tmp_path / "done"
    done.mkdir()
    (done / MANIFEST).write_text(json.dumps({"tool": "extract_subimages", "complete": True}))
    foreign = tmp_path / "foreign"  # made by another tool: nothing to check
    foreign.mkdir()
    assert require_complete(done) == done and require_complete(foreign) == foreign
    assert require_complete(tmp_path / "x.lmdb" / "data.mdb") == lmdb / "data.mdb"


def test_readers_refuse_a_stopped_extraction(tmp_path: Path, stopped_extraction: Path) -> None:
    # Before the job layer, create_lmdb built a short LMDB and score_dataset wrote a short scores file from it.
    from basicsr_distill.preparation.lmdb_creation import create_lmdb
    from basicsr_distill.scoring.runner import ScoreConfig, score_dataset
    from basicsr_distill.selection.dataset_index import DatasetIndex

    hr_sub = stopped_extraction
    assert json.loads((hr_sub / MANIFEST).read_text())["complete"] is False
    assert any(hr_sub.glob("*.png"))  # half-filled: the first images' sub-images are there
    message = rf"^{hr_sub}: .* incomplete \(extract_subimages stopped after 2 input image\(s\)"
    with pytest.raises(IncompleteInputError, match=message):
        create_lmdb(hr_sub, workers=1)
    assert not (tmp_path / "HR_sub.lmdb").exists()
    with pytest.raises(IncompleteInputError, match=message):
        score_dataset(ScoreConfig(scorer="sobel", gt=str(hr_sub), out=tmp_path / "scores", progress=False))
    assert not (tmp_path / "scores").exists()
    with pytest.raises(IncompleteInputError, match=message):
        DatasetIndex(hr_sub)


def test_no_distillation_stage_imports_the_pipeline() -> None:
    # patches/clustering/synthesize imported the SRDD pipeline (for StageDir, hashes, the distributed helpers)
    # while the pipeline imported them: a circle. They now import basicsr_distill.jobs; jobs imports no stage.
    def imports(path: Path) -> set[str]:
        tree = ast.parse(path.read_text())
        return {
            node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module is not None
        } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}

    for name in ("patches", "clustering", "synthesize", "sampling", "dit", "losses", "weights"):  # lazy ones too
        assert "basicsr_distill.synthesis.methods.srdd" not in imports(
            REPO / "basicsr_distill/distillation" / f"{name}.py"
        )
    below = set().union(*(imports(path) for path in (REPO / "basicsr_distill/jobs").glob("*.py")))
    assert {module for module in below if module.startswith("basicsr_distill")} - {
        "basicsr_distill.utils",
        "basicsr_distill.version",
    } <= {f"basicsr_distill.jobs.{path.stem}" for path in (REPO / "basicsr_distill/jobs").glob("*.py")}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rank_main(rank: int, port: int, queue: multiprocessing.Queue) -> None:
    os.environ.update(
        WORLD_SIZE="2", RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    context = distributed_context("cpu", timeout_hours=0.02)
    value = from_rank0({"from": rank})
    context.barrier()
    queue.put((context.rank, context.world, context.owned, value))
    context.close()


def test_distributed_context_two_gloo_processes_and_single_process() -> None:
    single = distributed_context("cpu")
    assert (single.rank, single.world, single.active, single.owned) == (0, 1, False, False)
    assert from_rank0(["mine"]) == ["mine"]
    single.barrier()  # a no-op without a process group

    ctx = multiprocessing.get_context("fork")
    queue, port = ctx.Queue(), _free_port()
    processes = [ctx.Process(target=_rank_main, args=(rank, port, queue)) for rank in range(2)]
    for process in processes:
        process.start()
    results = sorted(queue.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    assert results == [(0, 2, True, {"from": 0}), (1, 2, True, {"from": 0})]


_ORPHAN_DRIVER = """
import sys, threading, time
import torch.utils.data as tud
from basicsr_distill.preparation.folder_jobs import pool_map

def slow(x):  # a task: one image's work (short), then the next task
    time.sleep(0.5)
    return x

class Slow(tud.Dataset):
    def __len__(self):
        return 10000
    def __getitem__(self, index):
        time.sleep(0.5)
        return index

loader = iter(tud.DataLoader(Slow(), num_workers=2))  # scoring's DataLoader workers
threading.Thread(target=lambda: list(pool_map(slow, list(range(10000)), workers=2)), daemon=True).start()  # a pool
time.sleep(3)
print("ready", flush=True)
time.sleep(120)
"""


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_pool_and_dataloader_workers_end_when_their_parent_is_killed() -> None:
    # a killed stage must not leave worker processes behind (they exit within ~5 s on their own).
    import subprocess
    import sys
    import time

    driver = subprocess.Popen([sys.executable, "-c", _ORPHAN_DRIVER], stdout=subprocess.PIPE, text=True)
    try:
        assert driver.stdout.readline().strip() == "ready"
        workers = _children(driver.pid)
        assert len(workers) >= 4, workers  # 2 DataLoader workers + 2 pool workers
        driver.kill()
        driver.wait(timeout=30)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        driver.kill()
