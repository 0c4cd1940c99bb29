"""``DataEfficientSRModel``: BasicSR's ``SRModel`` with dynamic data pruning, saving training compute.

Methods (``data_efficiency: {method: ...}``, see :mod:`basicsr_distill.efficiency.options`):

* ``infobatch``: InfoBatch (Qin et al., ICLR 2024, "InfoBatch: Lossless Training Speed Up by Unbiased Dynamic
  Data Pruning", Sec. 3, as the authors' ``infobatch.py``): every epoch prunes a random ``prune_ratio`` of the
  samples whose last training loss is below the mean, scales the kept ones' loss by ``1 / (1 - prune_ratio)``,
  and trains on all data for the last ``anneal`` of the epochs (:mod:`basicsr_distill.efficiency.plans`).
* ``static``: a core-set of Moser, Raue, Dengel 2024 ("A Study in Dataset Pruning for Image Super-Resolution";
  ``coreset:`` as ``CoreSetPairedImageDataset``'s, selected by :mod:`basicsr_distill.selection`) trained for the
  full run's epochs, so the iterations scale with the kept fraction (the study's Table 1 "half the steps" rows).
* ``self_scored``: every ``rescore_every`` iterations the model being trained scores every training sub-image
  (whole sub-images, no grad; the cost is counted), and the following epochs visit the study's refined
  hardest-first core-set of ``1 - prune_ratio`` (skipping the hardest ``offset``) of those scores; all data
  before the first scoring pass and for the last ``anneal`` of the epochs.

The per-sample loss is the training loss itself: ``pixel_opt`` is built a second time with ``reduction: none``
and averaged per sample, so the batch mean of the per-sample losses is exactly BasicSR's loss (no extra
forward). Under DDP each step all-gathers (index, loss) pairs so every rank keeps the same scores (the authors'
``concat_all_gather``). How the iteration-based schedule is adapted (budget, progress-driven LR schedule,
plan timing): :mod:`basicsr_distill.efficiency.stream`.

The stream reaches the model explicitly: ``python -m basicsr_distill.train`` builds the
:class:`~basicsr_distill.efficiency.stream.PruningStream` as the train loader's batch sampler and hands it over
with :meth:`attach_stream` before any resume; each batch carries its dataset indices and weights. BasicSR's own
``train.py`` cannot hand the stream over, so there the model refuses to train (one line naming the option).

Cost accounting: every checkpoint and the end of training log and write ``experiments/<name>/data_efficiency.json``
(rank 0): training sample-passes (forward + backward) and LR pixels, scoring forwards and LR pixels, wall time,
and the full-data run with the same options (``total_iter`` iterations of the same global batch).
"""

from __future__ import annotations

import json
import sys
import time
from collections import OrderedDict
from os import path as osp
from typing import Any

import torch
from basicsr.losses import build_loss
from basicsr.models.sr_model import SRModel
from basicsr.models.swinir_model import SwinIRModel
from basicsr.utils import get_root_logger
from basicsr.utils.dist_util import get_dist_info, master_only
from basicsr.utils.registry import MODEL_REGISTRY
from torch.utils.data import DataLoader

from basicsr_distill.efficiency.options import KEY, DataEfficiencyError, DataEfficiencyOptions
from basicsr_distill.efficiency.stream import PruningStream, sample_names
from basicsr_distill.models.checkpoints import save_training_state_with
from basicsr_distill.utils import atomic_output, train_loader_workers

COST_FILE = "data_efficiency.json"
#: The cost fields recorded at every checkpoint (``history`` in the JSON), to put validation PSNRs on a compute axis.
HISTORY_KEYS = (
    "iterations",
    "epochs",
    "train_sample_passes",
    "scoring_sample_forwards",
    "sample_pass_ratio",
    "compute_ratio",
    "wall_time_s",
)
#: A backward pass costs about two forward passes, so one training sample-pass counts as three scoring forwards.
TRAIN_PASS_IN_FORWARDS = 3


def all_gather_rows(rows: torch.Tensor) -> torch.Tensor:
    """``rows`` (k, n) of every rank, concatenated along dim 1 (in rank order); itself without DDP."""
    _, world_size = get_dist_info()
    if world_size == 1:
        return rows
    gathered = [torch.empty_like(rows) for _ in range(world_size)]
    torch.distributed.all_gather(gathered, rows)
    return torch.cat(gathered, dim=1)


def refuse_without_stream(method: str) -> None:
    """Stop a training that has no pruning stream (BasicSR's own ``train.py``) with one line naming the option."""
    message = (
        f"error: data_efficiency.method: {method} needs the pruning stream as the train loader's batch sampler, "
        "which BasicSR's own train.py cannot hand over: train with python -m basicsr_distill.train"
    )
    get_root_logger().error(message)
    print(message, file=sys.stderr)
    raise SystemExit(2)


@MODEL_REGISTRY.register()
class DataEfficientSRModel(SRModel):
    """``SRModel`` plus ``data_efficiency`` (any arch, any loss with per-sample reduction for infobatch/self_scored)."""

    #: Top-level options only this model reads: what it does with each, and what another model would do instead
    #: (the training entry refuses them under another ``model_type``).
    OPTION_KEYS = {KEY: ("prunes data during training", "would train on every sample")}

    @classmethod
    def check_options(cls, opt: dict) -> None:
        """This model's options, checked by the training entry before anything is built: ``data_efficiency``
        parses, and a method that needs per-sample losses has a ``pixel_opt`` that gives them (testing needs
        neither). Raises :class:`DataEfficiencyError` naming the key."""
        if not opt.get("is_train", True):
            return
        options = DataEfficiencyOptions.from_options(opt.get(KEY), int(opt.get("manual_seed") or 0))
        problem = cls.per_sample_problem(options.method, opt.get("train") or {})
        if problem and options.needs_per_sample_loss:
            raise DataEfficiencyError(problem)

    @classmethod
    def batch_sampler_for(cls, opt: dict, dataset: Any, batch_sampler: Any) -> PruningStream:
        """The train loader's batch sampler the training entry builds for this model (and hands over with
        :meth:`attach_stream`): the pruning stream over ``dataset`` in ``batch_sampler``'s batch size."""
        return PruningStream.for_training(opt, dataset, batch_sampler.batch_size)

    def __init__(self, opt: dict) -> None:
        # testing (is_train false) needs no data_efficiency block: the model is then SRModel
        self.data_efficiency = (
            DataEfficiencyOptions.from_options(opt.get("data_efficiency"), int(opt.get("manual_seed") or 0))
            if opt.get("is_train")
            else None
        )
        self.stream: PruningStream | None = None
        self.per_sample_loss_fn = None
        self._validating = False
        super().__init__(opt)
        if not self.is_train:
            return
        self._lr_iter = 0
        self._wall_start, self._wall_before = time.time(), 0.0
        self.costs = {
            "train_sample_passes": 0,
            "train_lq_pixels": 0,
            "scoring_passes": 0,
            "scoring_sample_forwards": 0,
            "scoring_lq_pixels": 0,
            "lq_pixels_per_sample": 0,
        }
        self.cost_history: list[dict] = []

    # ------------------------------------------------------------------ set-up
    def init_training_settings(self) -> None:
        """SRModel's, plus the per-sample form of ``pixel_opt`` (checked first) where the method needs it."""
        train_opt = self.opt["train"]
        problem = self.per_sample_problem(self.data_efficiency.method, train_opt)
        if problem and self.data_efficiency.needs_per_sample_loss:
            raise DataEfficiencyError(problem)
        super().init_training_settings()
        self.per_sample_loss_fn = None
        if problem is None:
            try:
                self.per_sample_loss_fn = self._build_per_sample_loss(train_opt["pixel_opt"])
            except DataEfficiencyError:
                if self.data_efficiency.needs_per_sample_loss:
                    raise  # static trains with SRModel's loss and tracks no scores

    @staticmethod
    def per_sample_problem(method: str, train_opt: dict) -> str | None:
        """Why the training loss of ``method`` has no per-sample form (checked before any loss is built), or None."""
        if train_opt.get("perceptual_opt"):
            return (
                f"train:perceptual_opt: method {method} needs a per-sample loss; the perceptual loss reduces over "
                "the batch (use pixel_opt only)"
            )
        pixel_opt = train_opt.get("pixel_opt")
        if not pixel_opt:
            return f"train:pixel_opt: method {method} needs a pixel loss for per-sample losses"
        if pixel_opt.get("reduction", "mean") != "mean":
            return (
                f"train:pixel_opt:reduction must be 'mean' for method {method} (per-sample means average to the "
                f"batch loss), got {pixel_opt.get('reduction')!r}"
            )
        return None

    def _build_per_sample_loss(self, pixel_opt: dict) -> torch.nn.Module:
        """``pixel_opt`` with ``reduction: none``, probed to return one value per sample."""
        try:
            loss = build_loss({**pixel_opt, "reduction": "none"}).to(self.device)
        except (TypeError, ValueError) as error:
            raise DataEfficiencyError(
                f"train:pixel_opt: {pixel_opt.get('type')} has no per-sample form (reduction: none): {error}"
            ) from error
        probe = torch.rand(2, 1, 4, 4, device=self.device)
        with torch.no_grad():
            value = loss(probe, torch.zeros_like(probe))
        if not isinstance(value, torch.Tensor) or value.dim() == 0 or value.shape[0] != 2:
            raise DataEfficiencyError(
                f"train:pixel_opt: {pixel_opt.get('type')} reduces over the batch even with reduction: none; "
                f"method {self.data_efficiency.method} needs a per-sample loss"
            )
        return loss

    def attach_stream(self, stream: PruningStream) -> None:
        """Train from ``stream``, the train loader's batch sampler (call before :meth:`resume_training`)."""
        if stream.options != self.data_efficiency:
            raise DataEfficiencyError(f"data_efficiency: the stream's {stream.options} differs from the model's")
        self.stream = stream
        self.train_dataset = stream.dataset
        self._num_workers = train_loader_workers(self.opt)

    # ------------------------------------------------------------------ training
    def feed_data(self, data: dict) -> None:
        super().feed_data(data)
        if not self.is_train or self._validating:
            return
        if self.stream is None:
            refuse_without_stream(self.data_efficiency.method)
        if "batch" not in data:
            raise RuntimeError(
                "DataEfficientSRModel: the batch carries no stream indices (train loader not drawn from the stream)"
            )
        batches = data["batch"].unique()
        if batches.numel() != 1:
            raise RuntimeError(f"DataEfficientSRModel: a fed batch mixes global batches {batches.tolist()}")
        self._batch, self._indices = int(batches[0]), data["index"].long()
        self._weights = data["weight"].to(self.device, torch.float32)

    def per_sample_losses(self, output: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """``pixel_opt`` per sample: its mean over everything but the batch dimension, shape (B,)."""
        return self.per_sample_loss_fn(output, gt).flatten(1).mean(dim=1)

    def optimize_parameters(self, current_iter: int) -> None:
        if self.per_sample_loss_fn is None:
            super().optimize_parameters(current_iter)
            losses = None
        else:
            self.optimizer_g.zero_grad()
            self.output = self.net_g(self.lq)
            losses = self.per_sample_losses(self.output, self.gt)
            l_pix = (losses * self._weights).mean()
            l_pix.backward()
            self.optimizer_g.step()
            self.log_dict = self.reduce_loss_dict(OrderedDict(l_pix=l_pix))
            if self.ema_decay > 0:
                self.model_ema(decay=self.ema_decay)
            losses = losses.detach()
        self._account_step(losses)
        self.log_dict["kept"] = self.stream.kept_fraction()
        self.data_efficiency.after_step(self, current_iter)  # self_scored: rescore when due

    def _account_step(self, losses: torch.Tensor | None) -> None:
        """Gather (index, loss) of all ranks into the scores; count the step's sample-passes."""
        rows = [self._indices.to(self.device, torch.float64)]
        if losses is not None:
            rows.append(losses.to(torch.float64))
        gathered = all_gather_rows(torch.stack(rows))
        indices = gathered[0].round().long().cpu()
        self.stream.consume(self._batch, indices, gathered[1] if losses is not None else None)
        pixels = self.lq.shape[-2] * self.lq.shape[-1]
        self.costs["lq_pixels_per_sample"] = pixels
        self.costs["train_sample_passes"] += indices.numel()
        self.costs["train_lq_pixels"] += indices.numel() * pixels

    def full_epoch_iters(self) -> int:
        """Iterations of one full-data epoch (self_scored's default ``rescore_every``)."""
        return max(1, self.stream.count // self.stream.global_batch)

    def update_learning_rate(self, current_iter: int, warmup_iter: int = -1) -> None:
        """Step BasicSR's schedulers (and warm-up) to the full-data iteration the pruned run has reached."""
        if self.stream is None:
            return super().update_learning_rate(current_iter, warmup_iter)
        target = int(self.stream.consumed_progress / self.stream.global_batch + 1e-6) + 1
        while self._lr_iter < target:
            self._lr_iter += 1
            super().update_learning_rate(self._lr_iter, warmup_iter)

    @torch.no_grad()
    def rescore(self) -> None:
        """self_scored: the model being trained scores every training sub-image (whole, no grad) for the plans."""
        from basicsr.data import build_dataset

        if not hasattr(self, "_scoring_dataset"):
            self._scoring_dataset = build_dataset({**self.opt["datasets"]["train"], "phase": "val"})
            sample_names(self._scoring_dataset, str(self.opt["datasets"]["train"].get("type")))
        if self._num_workers == 0:
            # Same process as the training set: share its opened LMDB environments (LMDB refuses a second open).
            self._scoring_dataset.file_client = getattr(self.train_dataset, "file_client", None)
        rank, world_size = get_dist_info()
        count = self.stream.count
        shard = list(range(rank, count, world_size))
        per_rank = -(-count // world_size)
        loader = DataLoader(self._scoring_dataset, batch_size=1, sampler=shard, num_workers=self._num_workers)
        rows = torch.full((3, per_rank), -1.0, dtype=torch.float64, device=self.device)
        for slot, (index, data) in enumerate(zip(shard, loader)):
            if data["gt_path"][0] != self._scoring_dataset.paths[index]["gt_path"]:
                raise RuntimeError(f"rescore: index {index} loaded {data['gt_path'][0]}")
            self.lq, gt = data["lq"].to(self.device), data["gt"].to(self.device)
            self.test()  # the validation's inference: EMA weights if ema_decay > 0, SwinIR window padding
            loss = float(self.per_sample_losses(self.output, gt)[0])
            pixels = self.lq.shape[-2] * self.lq.shape[-1]
            rows[:, slot] = torch.tensor([index, loss, pixels], dtype=torch.float64)
        gathered = all_gather_rows(rows)
        valid = gathered[0] >= 0
        scores = torch.empty(count, dtype=torch.float64)
        scores[gathered[0][valid].long().cpu()] = gathered[1][valid].cpu()
        self.stream.pass_scores = scores
        self.costs["scoring_passes"] += 1
        self.costs["scoring_sample_forwards"] += int(valid.sum())
        self.costs["scoring_lq_pixels"] += int(gathered[2][valid].sum())

    def test(self) -> None:
        """SRModel's inference; for archs with a ``window_size`` (SwinIR) BasicSR's ``SwinIRModel`` padding."""
        if "window_size" in self.opt["network_g"]:
            SwinIRModel.test(self)
        else:
            super().test()

    def validation(self, dataloader: Any, current_iter: int, tb_logger: Any, save_img: bool = False) -> None:
        self._validating = True
        try:
            super().validation(dataloader, current_iter, tb_logger, save_img)
        finally:
            self._validating = False

    # ------------------------------------------------------------------ costs, checkpoints, resume
    def cost_record(self) -> dict:
        """The run's compute against the full-data run with the same options (JSON-ready)."""
        stream, costs = self.stream, dict(self.costs)
        total_iter = int(self.opt["train"]["total_iter"])
        full_passes = total_iter * stream.global_batch
        full_pixels = full_passes * costs["lq_pixels_per_sample"]
        work = TRAIN_PASS_IN_FORWARDS * costs["train_lq_pixels"] + costs["scoring_lq_pixels"]
        return {
            "method": self.data_efficiency.method,
            "options": self.data_efficiency.as_dict(),
            "dataset_size": stream.count,
            "world_size": stream.world_size,
            "global_batch": stream.global_batch,
            "iterations": stream.consumed_batches,
            "epochs": stream.consumed_progress / stream.count,
            "finished": stream.finished,
            **costs,
            "wall_time_s": self._wall_before + time.time() - self._wall_start,
            "full_data": {"iterations": total_iter, "sample_passes": full_passes, "lq_pixels": full_pixels},
            "sample_pass_ratio": costs["train_sample_passes"] / full_passes,
            "compute_ratio": work / (TRAIN_PASS_IN_FORWARDS * full_pixels) if full_pixels else None,
            "compute_ratio_unit": "LR-input pixels forwarded; a training pass (forward + backward) = 3 forwards",
            "history": list(self.cost_history),  # one point per checkpoint (and the end): a compute axis for curves
        }

    def save(self, epoch: int, current_iter: int) -> None:
        if self.is_train and self.stream is not None:
            record = self.cost_record()
            point = {key: record[key] for key in HISTORY_KEYS}
            if self.cost_history and self.cost_history[-1]["iterations"] == point["iterations"]:
                self.cost_history[-1] = point  # the final save right after a checkpoint
            else:
                self.cost_history.append(point)
        super().save(epoch, current_iter)
        if self.is_train and self.stream is not None:
            self.write_costs()

    @master_only
    def write_costs(self) -> None:
        record = self.cost_record()
        with atomic_output(osp.join(self.opt["path"]["experiments_root"], COST_FILE)) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
        get_root_logger().info(
            f"data efficiency ({record['method']}): {record['iterations']} iterations, {record['epochs']:.3f} epochs, "
            f"{record['train_sample_passes']} sample-passes + {record['scoring_sample_forwards']} scoring forwards "
            f"= {100 * (record['compute_ratio'] or 0):.1f}% of the full run's compute "
            f"({record['full_data']['sample_passes']} sample-passes), {record['wall_time_s']:.1f} s"
        )

    def data_efficiency_state(self) -> dict:
        return {
            "stream": self.stream.state_dict(),
            "lr_iter": self._lr_iter,
            "costs": dict(self.costs),
            "history": list(self.cost_history),
            "wall_time_s": self._wall_before + time.time() - self._wall_start,
            "options": self.data_efficiency.as_dict(),
        }

    @master_only
    def save_training_state(self, epoch: int, current_iter: int) -> None:
        """BasicSR's training state plus the stream (scores, plans, position), LR position and costs."""
        if current_iter != -1:
            save_training_state_with(self, epoch, current_iter, {"data_efficiency": self.data_efficiency_state()})

    def resume_training(self, resume_state: dict) -> None:
        super().resume_training(resume_state)
        state = resume_state.get("data_efficiency")
        if state is None:
            raise DataEfficiencyError(
                f"path:resume_state: the state of iter {resume_state.get('iter')} was not saved by "
                "DataEfficientSRModel (no data_efficiency scores)"
            )
        if state["options"] != self.data_efficiency.as_dict():
            raise DataEfficiencyError(
                f"data_efficiency: {self.data_efficiency.as_dict()} differs from the resumed state's {state['options']}"
            )
        if self.stream is None:
            refuse_without_stream(self.data_efficiency.method)
        self.stream.load_state_dict(state["stream"])
        self._lr_iter = int(state["lr_iter"])
        self.costs = dict(state["costs"])
        self.cost_history = list(state["history"])
        self._wall_before, self._wall_start = float(state["wall_time_s"]), time.time()
