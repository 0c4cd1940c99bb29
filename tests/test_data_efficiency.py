"""DataEfficientSRModel: InfoBatch (Qin et al., ICLR 2024) and core-set pruning (Moser, Raue, Dengel 2024) inside
BasicSR training, on tiny self-made data with a tiny FSRCNN on CPU."""

from __future__ import annotations

import itertools
import json
import math
import shutil
import sys
from pathlib import Path

import pytest
import torch
import yaml
from basicsr.data import build_dataset
from basicsr.models import build_model
from conftest import write_paired_folder
from test_training_entry import tiny_options

from basicsr_distill.efficiency.options import DataEfficiencyError, DataEfficiencyOptions
from basicsr_distill.efficiency.plans import infobatch_keep_ratio, infobatch_plan
from basicsr_distill.efficiency.stream import PruningStream
from basicsr_distill.training.data import build_train_loader

ROOT = Path(__file__).resolve().parents[1]
COUNT, SIZE = 12, 16  # 12 training images of 16x16 (LR 8x8); gt_size 16 = the whole image: no random crop


def options(name: str, gt: Path, lq: Path, block: dict, total_iter: int = 30, workers: int = 0, lr=1e-3) -> dict:
    """A tiny FSRCNN x2 run with ``data_efficiency: block``: deterministic data (whole images, no flips)."""
    opt = tiny_options(name, gt, lq, total_iter=total_iter)
    opt["model_type"] = "DataEfficientSRModel"
    opt["data_efficiency"] = block
    opt["network_g"] = {"type": "FSRCNN", "num_in_ch": 3, "num_out_ch": 3, "upscale": 2, "d": 8, "s": 4, "m": 1}
    opt["datasets"]["train"] |= {"gt_size": SIZE, "use_hflip": False, "use_rot": False, "num_worker_per_gpu": workers}
    opt["train"]["optim_g"]["lr"] = lr
    opt["logger"] |= {"print_freq": 1000, "save_checkpoint_freq": 4}
    return opt


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_paired_folder(tmp_path_factory.mktemp("de") / "data", count=COUNT, size=SIZE, scale=2)


def built(opt: dict):
    """(model, train loader) as the training entry builds them: the stream is the loader's batch sampler and is
    handed to the model."""
    opt = opt | {"is_train": True, "dist": False}
    opt.setdefault("rank", 0)
    opt.setdefault("world_size", 1)
    dataset_opt = opt["datasets"]["train"] | {"phase": "train", "scale": opt["scale"]}
    opt["datasets"] = {"train": dataset_opt}
    train_set = build_dataset(dataset_opt)
    stream = PruningStream.for_training(opt, train_set)
    train_loader = build_train_loader(train_set, opt, stream)
    torch.manual_seed(0)  # the same random FSRCNN whatever ran before
    model = build_model(opt)
    model.attach_stream(stream)
    return model, train_loader


def train(model, loader) -> list[float]:
    """BasicSR's inner training loop over the whole stream; the learning rate of every iteration."""
    lrs = []
    for current_iter, batch in enumerate(loader, start=1):
        model.update_learning_rate(current_iter)
        lrs.append(model.get_current_learning_rate()[0])
        model.feed_data(batch)
        model.optimize_parameters(current_iter)
    return lrs


# --- per-sample loss ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["MSELoss", "L1Loss", "CharbonnierLoss"])
def test_per_sample_losses_average_to_the_batch_loss(data: tuple[Path, Path], loss: str) -> None:
    opt = options("ps", *data, {"method": "infobatch"})
    opt["train"]["pixel_opt"] = {"type": loss, "loss_weight": 0.7, "reduction": "mean"}
    model, loader = built(opt)
    batch = next(iter(loader))
    model.feed_data(batch)
    with torch.no_grad():
        output = model.net_g(model.lq)
        per_sample = model.per_sample_losses(output, model.gt)
        assert per_sample.shape == (2,)
        torch.testing.assert_close(per_sample.mean(), model.cri_pix(output, model.gt), rtol=1e-6, atol=0)
        for i in range(2):
            alone = model.cri_pix(output[i : i + 1], model.gt[i : i + 1])
            torch.testing.assert_close(per_sample[i], alone, rtol=1e-6, atol=0)


# --- InfoBatch plans --------------------------------------------------------------------------------------------


def test_infobatch_expected_gradient_equals_the_full_data_gradient(data: tuple[Path, Path]) -> None:
    """Scores: 4 below the mean, 2 above; prune 0.5 keeps 2 of the 4 with weight 2. Averaged over the C(4, 2)
    equally likely plans, an epoch's gradient (sum over its batches of mean weighted losses) is the full one's."""
    scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 1.0, 2.0], dtype=torch.float64)  # mean 0.667
    low, high = {0, 1, 2, 3}, {4, 5}
    plans, counts = {}, {}
    for seed in range(600):
        plan = infobatch_plan(scores, 0.5, torch.Generator().manual_seed(seed))
        kept = frozenset(plan.order.tolist()) & low
        weights = dict(zip(plan.order.tolist(), plan.weights.tolist()))
        assert len(plan) == 4 and high <= set(plan.order.tolist()) and len(kept) == 2
        assert weights == {index: (2.0 if index in low else 1.0) for index in plan.order.tolist()}
        plans[kept], counts[kept] = weights, counts.get(kept, 0) + 1
    assert set(plans) == {frozenset(pair) for pair in itertools.combinations(sorted(low), 2)}
    assert all(70 <= count <= 130 for count in counts.values())  # uniform: 100 expected each

    model, _ = built(options("grad", *data, {"method": "infobatch"}))
    dataset = model.train_dataset
    lq = torch.stack([dataset[i]["lq"] for i in range(6)])
    gt = torch.stack([dataset[i]["gt"] for i in range(6)])
    params = [p for p in model.net_g.parameters()]
    batch = 2

    def epoch_gradient(weights: dict[int, float]) -> list[torch.Tensor]:
        indices = sorted(weights)
        losses = model.per_sample_losses(model.net_g(lq[indices]), gt[indices])
        weight = torch.tensor([weights[i] for i in indices])
        return torch.autograd.grad((losses * weight).sum() / batch, params)

    full = epoch_gradient({index: 1.0 for index in range(6)})
    expected = [torch.stack(grads).mean(0) for grads in zip(*(epoch_gradient(w) for w in plans.values()))]
    for got, want in zip(expected, full):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-7)
    # without the rescaling the estimate is biased
    biased = [torch.stack(g).mean(0) for g in zip(*(epoch_gradient(dict.fromkeys(w, 1.0)) for w in plans.values()))]
    assert not all(torch.allclose(b, f, rtol=1e-3) for b, f in zip(biased, full))


@pytest.mark.parametrize("prune_ratio", [0.0, 0.3, 0.5, 0.95])
def test_infobatch_keeps_every_high_loss_sample(prune_ratio: float) -> None:
    scores = torch.rand(50, generator=torch.Generator().manual_seed(1), dtype=torch.float64) ** 3
    plan = infobatch_plan(scores, prune_ratio, torch.Generator().manual_seed(2))
    order = plan.order.tolist()
    assert len(set(order)) == len(order)
    high = set(torch.nonzero(scores >= scores.mean()).flatten().tolist())
    low = set(range(50)) - high
    keep = infobatch_keep_ratio(prune_ratio)
    assert keep == (0.1 if prune_ratio == 0.95 else 1 - prune_ratio)  # the authors' clamp
    assert high <= set(order)
    assert len(set(order) & low) == math.floor(keep * len(low))
    for index, weight in zip(order, plan.weights.tolist()):
        assert weight == (1.0 if index in high else 1.0 / keep)


def test_stream_budget_annealing_and_rank_partition() -> None:
    """12 samples, global batch 4 (2 ranks x 2), total_iter 15: E = 5 epochs, anneal 0.4 -> epochs 3, 4 full."""
    names = [f"{i:04d}" for i in range(12)]
    opts = DataEfficiencyOptions.from_options({"method": "infobatch", "prune_ratio": 0.5, "anneal": 0.4})
    streams = [PruningStream(names, 2, 2, rank, 15, opts) for rank in range(2)]
    losses = torch.linspace(0.01, 0.12, 12, dtype=torch.float64)  # fixed per-sample losses
    iterators = [iter(stream) for stream in streams]
    by_epoch: dict[int, list[int]] = {}
    for parts in zip(*iterators):  # one batch of each rank: one global batch
        batches = {extras["batch"] for part in parts for _, extras in part}
        assert len(batches) == 1
        batch = batches.pop()
        indices = torch.tensor([index for part in parts for index, _ in part])  # rank 0's half, then rank 1's
        for offset, index in enumerate(indices.tolist()):
            by_epoch.setdefault(streams[0].locate(batch * 4 + offset)[0], []).append(index)
        for stream in streams:
            stream.consume(batch, indices, losses[indices])
    assert streams[0].epochs == 5 and all(stream.finished for stream in streams)
    assert streams[0].scores.tolist() == streams[1].scores.tolist() == losses.tolist()  # every sample seen
    assert streams[0].consumed_progress >= 5 * 12
    assert [streams[0].pruned_epoch(e) for e in range(5)] == [True, True, True, False, False]
    # epoch 0: all unseen (score 3.0 each, none below the mean): every sample; epochs 1, 2: the 6 above the mean
    # losses' mean plus floor(0.5 * 6) = 3 of the others; epochs 3, 4 (annealing): every sample, once each
    assert sorted(by_epoch[0]) == list(range(12))
    for epoch in (1, 2):
        assert set(range(6, 12)) <= set(by_epoch[epoch]) and len(by_epoch[epoch]) == 9
    for epoch in (3, 4):
        assert sorted(by_epoch[epoch]) == list(range(12))
    # the last global batch starts inside epoch 4 and runs 2 samples into the next: ceil(54 / 4) = 14 < 15
    assert streams[0].consumed_batches == math.ceil((12 + 9 + 9 + 12 + 12) / 4) == 14


# --- through the model ----------------------------------------------------------------------------------------


def test_without_pruning_the_run_is_the_full_run(data: tuple[Path, Path]) -> None:
    opt = options("full", *data, {"method": "infobatch", "prune_ratio": 0.0, "anneal": 0.0}, total_iter=12)
    opt["train"]["scheduler"] = {"type": "MultiStepLR", "milestones": [6], "gamma": 0.5}
    model, loader = built(opt)
    lrs = train(model, loader)
    assert len(lrs) == 12 and model.stream.consumed_batches == 12
    assert lrs == [1e-3] * 6 + [5e-4] * 6  # BasicSR's schedule: the milestone at iteration 6 acts from iteration 7
    assert model.cost_record()["sample_pass_ratio"] == 1.0


def test_infobatch_run_scales_the_lr_schedule_and_anneals(data: tuple[Path, Path]) -> None:
    opt = options("ib", *data, {"method": "infobatch", "prune_ratio": 0.5, "anneal": 0.25}, total_iter=36)
    opt["train"]["scheduler"] = {"type": "MultiStepLR", "milestones": [18], "gamma": 0.5}
    model, loader = built(opt)
    progress = []
    original = model.stream.consume

    def consume(batch, indices, losses):
        original(batch, indices, losses)
        progress.append((model.stream.consumed_progress, model.stream.kept_fraction()))

    model.stream.consume = consume
    lrs = train(model, loader)
    record = model.cost_record()
    assert record["finished"] and 6.0 <= record["epochs"] < 6.0 + 2 / COUNT  # the last batch may run past
    assert len(lrs) == record["iterations"] < 36 and record["sample_pass_ratio"] == len(lrs) * 2 / 72
    # the LR halves once half the full run's samples are covered (the milestone scales with the run)
    for lr, (covered, _) in zip(lrs[1:], progress):
        assert lr == (5e-4 if covered >= 18 * 2 else 1e-3)
    # the last quarter of the epochs (4.5 .. 6 -> epochs 5) is full data; pruned epochs before it
    kept_after = [kept for covered, kept in progress if 5 * COUNT < covered < 6 * COUNT]
    assert kept_after and set(kept_after) == {1.0}
    assert min(kept for _, kept in progress) < 1.0


def test_static_coreset_runs_its_epochs(data: tuple[Path, Path], tmp_path: Path) -> None:
    scores = tmp_path / "scores.csv"
    scores.write_text("name,score\n" + "".join(f"{i:04d},{i}\n" for i in range(COUNT)))
    coreset = {"scores": str(scores), "strategy": "descending", "ratio": 0.5, "offset": 0.0}
    model, loader = built(options("static", *data, {"method": "static", "coreset": coreset}, total_iter=12))
    seen = []
    original = model.feed_data

    def feed(batch):
        original(batch)
        seen.extend(model._indices.tolist())

    model.feed_data = feed
    train(model, loader)
    names = {model.stream.names[index] for index in seen}  # dataset indices follow BasicSR's (unsorted) listing
    assert names == {f"{i:04d}" for i in range(6, 12)} and len(seen) == 12  # 2 epochs of the hardest half
    assert model.cost_record()["sample_pass_ratio"] == 0.5


def test_self_scored_rescoring_counts_its_passes(data: tuple[Path, Path]) -> None:
    block = {"method": "self_scored", "prune_ratio": 0.5, "anneal": 0.0, "rescore_every": 6, "offset": 0.0}
    model, loader = built(options("self", *data, block, total_iter=24))
    train(model, loader)
    record = model.cost_record()
    # epoch 0: full (no scores yet): 6 iterations, then a scoring pass; then 3 epochs of the hardest 6
    # (3 iterations each), re-scored at iterations 12 (and not again before the end at 6 + 9 = 15)
    assert record["iterations"] == 15 and record["scoring_passes"] == 2
    assert record["scoring_sample_forwards"] == 2 * COUNT and record["scoring_lq_pixels"] == 2 * COUNT * 64
    assert record["compute_ratio"] == pytest.approx((3 * 30 * 64 + 2 * COUNT * 64) / (3 * 48 * 64))
    with torch.no_grad():
        model.net_g.eval()
        dataset = model._scoring_dataset
        expected = [model.per_sample_losses(model.net_g(d["lq"][None]), d["gt"][None]) for d in dataset]
    hardest = set(torch.tensor([float(e) for e in expected]).argsort(descending=True)[:6].tolist())
    chosen = model.data_efficiency.hardest_first(model.stream.names, torch.tensor([float(e) for e in expected]))
    assert set(chosen.tolist()) == hardest


# --- workers and ranks --------------------------------------------------------------------------------------------


def frozen_scores(opt: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Train with lr 0 (every sample's loss is fixed); return (tracked scores, each sample's loss computed alone)."""
    model, loader = built(opt)
    train(model, loader)
    assert model.stream.finished
    with torch.no_grad():
        alone = [float(model.per_sample_losses(model.net_g(d["lq"][None]), d["gt"][None])) for d in model.train_dataset]
    return model.stream.scores.clone(), torch.tensor(alone, dtype=torch.float64)


def _rank_worker(rank: int, opt: dict, init_file: str, results: dict) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        scores, _ = frozen_scores(opt | {"rank": rank, "world_size": 2})
        results[rank] = scores
    finally:
        torch.distributed.destroy_process_group()


def test_workers_and_two_gloo_ranks_track_the_same_scores(data: tuple[Path, Path], tmp_path: Path) -> None:
    block = {"method": "infobatch", "prune_ratio": 0.5, "anneal": 0.125}
    torch.manual_seed(0)
    single, alone = frozen_scores(options("w0", *data, block, total_iter=18, lr=0.0))
    torch.testing.assert_close(single, alone, rtol=1e-5, atol=0)  # each index got its own sample's loss
    torch.manual_seed(0)
    workers, _ = frozen_scores(options("w2", *data, block, total_iter=18, workers=2, lr=0.0))
    torch.testing.assert_close(workers, single, rtol=1e-6, atol=0)

    ctx = torch.multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        results = manager.dict()
        torch.multiprocessing.start_processes(
            _rank_worker,
            args=(options("ddp", *data, block, total_iter=9, lr=0.0), str(tmp_path / "init"), results),
            nprocs=2,
            start_method="spawn",
        )
        ranks = [results[0], results[1]]
    assert torch.equal(ranks[0], ranks[1])  # the gathered scores are identical on both ranks
    torch.testing.assert_close(ranks[0], single, rtol=1e-6, atol=0)


# --- resume and the training entry ------------------------------------------------------------------------------


def run_entry(monkeypatch: pytest.MonkeyPatch, cwd: Path, option_file: Path, *extra: str) -> None:
    """``python -m basicsr_distill.train -opt option_file ...`` in ``cwd``, in this process (imports are slow)."""
    from basicsr_distill.cli import one_line_errors
    from basicsr_distill.train import main

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["train.py", "-opt", str(option_file), *extra])
    one_line_errors(main)()


def test_scores_survive_auto_resume_exactly(
    data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    block = {"method": "infobatch", "prune_ratio": 0.5, "anneal": 0.125}
    opt = options("resume", *data, block, total_iter=30)
    first = tmp_path / "a"
    first.mkdir()
    option_file = first / "o.yml"
    option_file.write_text(yaml.safe_dump(opt, sort_keys=False))
    run_entry(monkeypatch, first, option_file)
    experiment = first / "experiments" / "resume"
    record = json.loads((experiment / "data_efficiency.json").read_text())
    assert record["finished"] and record["iterations"] < 30 and record["full_data"]["sample_passes"] == 60
    assert set(record) >= {"train_sample_passes", "scoring_sample_forwards", "wall_time_s", "compute_ratio"}
    history = record["history"]  # checkpoints every 4 iterations, then the end
    expected_points = sorted({*range(4, record["iterations"] + 1, 4), record["iterations"]})
    assert [point["iterations"] for point in history] == expected_points
    assert [point["train_sample_passes"] for point in history] == [2 * point["iterations"] for point in history]

    # interrupt after iteration 8: keep only its states, resume, and compare with the uninterrupted run
    second = tmp_path / "b"
    shutil.copytree(first, second)
    resumed_experiment = second / "experiments" / "resume"
    for path in [*resumed_experiment.glob("training_states/*.state"), *resumed_experiment.glob("models/net_g_*.pth")]:
        if path.stem.split("_")[-1] not in ("4", "8"):
            path.unlink()
    (resumed_experiment / "data_efficiency.json").unlink()
    run_entry(monkeypatch, second, second / "o.yml", "--auto_resume")
    # resumed, not restarted: a fresh start would have archived the experiment folder (BasicSR's mkdir_and_rename)
    assert [path.name for path in (second / "experiments").iterdir()] == ["resume"]
    saved = torch.load(experiment / "training_states" / "8.state", map_location="cpu")["data_efficiency"]
    for label in ("12", "16"):
        want = torch.load(experiment / "training_states" / f"{label}.state", map_location="cpu")["data_efficiency"]
        got = torch.load(resumed_experiment / "training_states" / f"{label}.state", map_location="cpu")
        got = got["data_efficiency"]
        assert torch.equal(got["stream"]["scores"], want["stream"]["scores"])
        assert got["stream"]["consumed_batches"] == want["stream"]["consumed_batches"]
        assert got["lr_iter"] == want["lr_iter"] and got["costs"] == want["costs"]
        assert got["stream"]["plans"].keys() == want["stream"]["plans"].keys()
        for epoch, plan in want["stream"]["plans"].items():
            assert torch.equal(got["stream"]["plans"][epoch]["order"], plan["order"])
    assert not torch.equal(saved["stream"]["scores"], want["stream"]["scores"])  # the scores moved on after 8
    resumed_record = json.loads((resumed_experiment / "data_efficiency.json").read_text())
    assert resumed_record["iterations"] == record["iterations"]
    assert resumed_record["train_sample_passes"] == record["train_sample_passes"]
    strip = [{key: value for key, value in point.items() if key != "wall_time_s"} for point in record["history"]]
    assert [{k: v for k, v in p.items() if k != "wall_time_s"} for p in resumed_record["history"]] == strip


def test_auto_resume_with_augmentation_gives_the_uninterrupted_weights(
    data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, basicsr_log: list[str]
) -> None:
    # Random crops, flips and rotations draw from Python's random: the entry saves the generators beside each
    # training state and restores them, so a run stopped after iteration 8 and resumed ends with the same weights.
    opt = options("augmented", *data, {"method": "infobatch", "prune_ratio": 0.5, "anneal": 0.125}, total_iter=20)
    opt["datasets"]["train"] |= {"gt_size": 12, "use_hflip": True, "use_rot": True}
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    (first / "o.yml").write_text(yaml.safe_dump(opt, sort_keys=False))
    run_entry(monkeypatch, first, first / "o.yml")
    shutil.copytree(first, second)
    experiment, resumed = first / "experiments" / "augmented", second / "experiments" / "augmented"
    for path in [*resumed.glob("training_states/*"), *resumed.glob("models/net_g_*.pth")]:
        if path.name.split(".")[0].split("_")[-1] not in ("4", "8"):
            path.unlink()
    basicsr_log.clear()
    run_entry(monkeypatch, second, second / "o.yml", "--auto_resume")
    assert "Resuming training from epoch: 0, iter: 8." in basicsr_log
    assert not [message for message in basicsr_log if "restarts from its first batch" in message]
    names = sorted(path.name for path in experiment.glob("models/*.pth"))
    assert names == sorted(path.name for path in resumed.glob("models/*.pth")) and "net_g_12.pth" in names
    for name in names:
        want = torch.load(experiment / "models" / name, map_location="cpu")["params"]
        got = torch.load(resumed / "models" / name, map_location="cpu")["params"]
        assert all(torch.equal(got[key], value) for key, value in want.items()), name


def test_bad_prune_ratio_is_one_line_naming_the_key(
    data: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    option_file = tmp_path / "o.yml"
    opt = options("bad", *data, {"method": "infobatch", "prune_ratio": 1.0})
    option_file.write_text(yaml.safe_dump(opt, sort_keys=False))
    with pytest.raises(SystemExit) as exit_info:
        run_entry(monkeypatch, tmp_path, option_file)
    assert exit_info.value.code == 2
    stderr = capsys.readouterr().err
    assert (
        stderr.strip().splitlines()[-1]
        == f"error: {option_file}: data_efficiency:prune_ratio must be in [0, 1), got 1.0"
    )
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ({"method": "infobatch", "prune_ratio": -0.1}, r"data_efficiency:prune_ratio must be in \[0, 1\), got -0.1"),
        ({"method": "infobatch", "anneal": 1.5}, r"data_efficiency:anneal must be in \[0, 1\], got 1.5"),
        ({"method": "self_scored", "anneal": -1}, r"data_efficiency:anneal must be in \[0, 1\]"),
        (
            {"method": "prune"},
            r"data_efficiency:method: unknown data-efficiency method 'prune' "
            r"\(registered: infobatch, self_scored, static\)",
        ),
        ({"method": "static"}, "data_efficiency:coreset is required for method static"),
        ({"method": "infobatch", "ratio": 0.5}, "data_efficiency: unknown key"),
        (None, "data_efficiency: missing"),
    ],
)
def test_bad_data_efficiency_options(block: dict | None, message: str) -> None:
    with pytest.raises(DataEfficiencyError, match=message):
        DataEfficiencyOptions.from_options(block)


@pytest.mark.parametrize(
    ("train_changes", "message"),
    [
        ({"pixel_opt": {"type": "MSELoss", "loss_weight": 1.0, "reduction": "sum"}}, r"train:pixel_opt:reduction"),
        (
            {"perceptual_opt": {"type": "PerceptualLoss", "layer_weights": {"conv5_4": 1}}},
            "train:perceptual_opt: method infobatch needs a per-sample loss",
        ),
    ],
)
def test_batch_reducing_loss_is_refused(data: tuple[Path, Path], train_changes: dict, message: str) -> None:
    opt = options("loss", *data, {"method": "infobatch"})
    opt["train"] |= train_changes
    with pytest.raises(DataEfficiencyError, match=message):
        build_model(opt | {"is_train": True, "dist": False, "rank": 0, "world_size": 1})


def test_testing_needs_no_data_efficiency_block(data: tuple[Path, Path]) -> None:
    opt = options("test", *data, {"method": "infobatch"})
    opt.pop("data_efficiency")
    opt.pop("train")
    model = build_model(opt | {"is_train": False, "dist": False, "rank": 0, "world_size": 1})
    assert type(model).__name__ == "DataEfficientSRModel" and model.stream is None


def test_dataset_without_stable_indices_is_refused(data: tuple[Path, Path]) -> None:
    opt = options("idx", *data, {"method": "infobatch"}) | {"is_train": True, "dist": False, "rank": 0, "world_size": 1}
    tensors = torch.utils.data.TensorDataset(torch.zeros(4, 3, 8, 8), torch.zeros(4, 3, 16, 16))
    with pytest.raises(DataEfficiencyError, match="datasets:train:type: PairedImageDataset has no stable sample"):
        PruningStream.for_training(opt, tensors)


@pytest.mark.parametrize(
    "path", sorted((ROOT / "options" / "train" / "data_efficient").glob("*.yml")), ids=lambda p: p.name
)
def test_option_files_parse(path: Path) -> None:
    opt = yaml.safe_load(path.read_text())
    assert opt["model_type"] == "DataEfficientSRModel" and opt["train"]["pixel_opt"]["type"] == "L1Loss"
    parsed = DataEfficiencyOptions.from_options(opt["data_efficiency"])
    assert parsed.method in path.stem and parsed.prune_ratio == 0.5 and parsed.anneal_fraction == 0.125
