"""DiffFit fine-tuning of DiT on pseudo-labelled patches as a BasicSR model (registered ``DiTDiffFitModel``).

Stage 3 of Cho, Jung, Cho, Soh, "Dataset Distillation for Super-Resolution Without Class Labels and Pre-Trained
Models" (IEEE SPL 2025, Sec. II-B, Eqs. (2)-(5)): DiT-XL/2-512 (Peebles & Xie, ICCV 2023) fine-tuned with DiffFit
(Xie et al., ICCV 2023) on the CLIP pseudo-classes, with the minimax memory losses (Gu et al., CVPR 2024) and an
optional SR loss. Like BasicSR's own ``StyleGAN2Model`` it is a ``BaseModel`` driven by BasicSR's
``train_pipeline`` (logging, tensorboard, checkpoints, ``--auto_resume``, ``--launcher pytorch`` DDP through
``model_to_device``/``get_bare_model``).

One training step (the authors' ``train_dit.py``): images in [0, 1] (each flipped horizontally with p = 0.5 when
``train.hflip``, the authors' ``RandomHorizontalFlip``) -> [-1, 1] -> frozen VAE, latents
``x0 = sample * 0.18215`` (no grad); ``t ~ U{0..999}``, ``eps ~ N(0, I)``, ``x_t`` by the 1000-step linear
``DDPMScheduler``; the class id is replaced by the null class with p = 0.1 (once per sample, CFG training);
loss = ``MSE(eps_theta, eps)`` + ``vlb_weight * L_vlb`` (learned sigma, DiT's hybrid loss: the variance channels
ARE trained, as by the authors) + ``L_pos + L_neg`` on the predicted clean latent ``x0_hat`` against the
per-class memories of 64 + optionally ``- sr_weight * MSE(x, bicubic_down_up(x))`` on the decoded ``x0_hat``
(see :mod:`basicsr_distill.distillation.losses`). AdamW (lr 1e-3, weight decay 0; set up here because BasicSR
1.4.2's factory knows only Adam), EMA 0.9999 (BasicSR's ``model_ema``, applied to the DiffFit-trainable
tensors only: the frozen ones are identical in both nets). Precision: float32 with TF32 matmuls and
convolutions on CUDA by default, as the authors' ``train_diff.py`` (``train.mixed_precision: fp32``,
``train.tf32: true``); ``train.mixed_precision: bf16`` runs forward passes (VAE encoding included) under bf16
autocast on CUDA, a speed option that is not the authors' numerics (weights, optimizer and losses stay
float32; ignored on CPU).

Options (besides BasicSR's)::

    network_g: {pretrained: folder | hub name | null, tiny: {transformer: {...}, vae: {...}}, seed: 0,
                num_classes: k, gamma_blocks: null (first half), finetune: difffit | full, class_dropout_prob: 0.1}
    train: {optim_g: {type: AdamW, lr: 1e-3, weight_decay: 0}, ema_decay: 0.9999, hflip: true,
            mixed_precision: fp32 | bf16,
            tf32: true, total_epochs: 700 (or total_iter; see basicsr_distill.train),
            vlb_weight: 1.0, memory: {size: 64, lambda_pos: 0.002, lambda_neg: 0.008},
            sr_loss: {weight: 0, scale: 4, space: pixel | latent}, scheduler: optional (constant lr without)}
    val: {val_freq, save_img: true, samples_per_class: 4, num_steps: 50, guidance_scale: 4.0, seed: 0,
          batch_size: 8, scheduler: ddpm, cfg_channels: 3 (DiT's; null = all latent channels),
          vae_decode: null | VAE folder (decodes samples; the authors: ft-mse)}

Checkpoints: ``models/net_g_{iter}.pth`` holds only the DiffFit-trainable tensors (``params``, ``params_ema``)
plus the configuration fingerprint (:func:`~basicsr_distill.distillation.dit.save_difffit_checkpoint`);
``training_states/{iter}.state`` adds to BasicSR's (epoch, iter, optimizers, schedulers) the fingerprint, both
memories and the model's random generator (every draw of a step: flip, VAE posterior, noise, timestep, class
drop-out), so resuming through ``basicsr_distill.train`` (which also continues the epoch's batches) gives the
uninterrupted run's weights bit for bit (``tests/test_interruptions.py``); a run stopped during the validation of
its checkpoint's iteration redoes that validation on resume, so no class grid is missing. Under DDP every rank
keeps its own memories and generator (as the authors' code); the state stores rank 0's, which every rank gets on
resume (so a DDP resume is not bit-exact).
``validation`` samples ``samples_per_class`` images per class with the EMA net and writes one grid PNG per class
to ``visualization/class_XXX/{name}_{iter}.png`` (and to tensorboard).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import math
import os
import types
from collections import OrderedDict
from os import path as osp
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from basicsr.models.base_model import BaseModel
from basicsr.utils import get_root_logger
from basicsr.utils.dist_util import master_only
from basicsr.utils.registry import MODEL_REGISTRY
from torchvision.utils import make_grid

from basicsr_distill.distillation.losses import (
    LAMBDA_NEG,
    LAMBDA_POS,
    MEMORY_SIZE,
    MemoryBank,
    dit_variational_bound,
    memory_losses,
    predict_clean_latent,
    sr_loss,
)
from basicsr_distill.models.checkpoints import save_training_state_with
from basicsr_distill.preparation.image_io import write_png


def _dit() -> types.ModuleType:
    """:mod:`basicsr_distill.distillation.dit`, imported on first use: it imports diffusers (about 1.2 s), and this
    module is imported by every ``import basicsr`` (registration), most of which never build a DiT."""
    return importlib.import_module("basicsr_distill.distillation.dit")


def _sampling() -> types.ModuleType:
    """:mod:`basicsr_distill.distillation.sampling`, imported on first use (it imports diffusers too)."""
    return importlib.import_module("basicsr_distill.distillation.sampling")


_MIXED_PRECISION = {None: None, "no": None, "fp32": None, "bf16": torch.bfloat16}


@MODEL_REGISTRY.register()
class DiTDiffFitModel(BaseModel):
    """DiffFit fine-tuning of a class-conditional DiT with the minimax memory losses (module docstring)."""

    def __init__(self, opt: dict) -> None:
        super().__init__(opt)
        net_opt = opt["network_g"]
        if "num_classes" not in net_opt:
            raise KeyError("network_g.num_classes (the number of pseudo-classes k) is required")
        self.num_classes = int(net_opt["num_classes"])
        self.components = _dit().load_dit_components(
            net_opt.get("pretrained"),
            tiny=net_opt.get("tiny"),
            num_classes=self.num_classes,
            device=self.device,
            seed=int(net_opt.get("seed", 0)),
            vae_decode=(opt.get("val") or {}).get("vae_decode"),  # decodes the validation samples only
        )
        self.components.class_dropout_prob = float(net_opt.get("class_dropout_prob", 0.1))
        transformer = self.components.transformer
        mode = net_opt.get("finetune", "difffit")
        if mode == "difffit":
            self.parameter_counts = _dit().mark_difffit_trainable(transformer, net_opt.get("gamma_blocks"))
        elif mode == "full":
            self.parameter_counts = _dit().mark_all_trainable(transformer)
        else:
            raise ValueError(f"network_g.finetune must be 'difffit' or 'full', got {mode!r}")
        counts = ", ".join(f"{key} {value:,d}" for key, value in self.parameter_counts.items())
        get_root_logger().info(f"DiT {mode} parameters ({self.components.source}): {counts}")
        self.vae = self.components.vae
        self.net_g = self.model_to_device(transformer)
        self.load_path = self.opt["path"].get("pretrain_network_g")
        if self.load_path:
            use_ema = self.opt["path"].get("param_key_g", "params") == "params_ema"
            _dit().load_difffit_checkpoint(self.get_bare_model(self.net_g), self.load_path, use_ema=use_ema)
        precision = (self.opt.get("train") or {}).get("mixed_precision")
        if precision not in _MIXED_PRECISION:
            raise ValueError(f"train.mixed_precision must be one of {list(_MIXED_PRECISION)}, got {precision!r}")
        self.amp_dtype = _MIXED_PRECISION[precision] if self.device.type == "cuda" else None
        if self.device.type == "cuda":
            _dit().set_tf32(bool((self.opt.get("train") or {}).get("tf32", True)))
        self.current_iter = 0
        if self.is_train:
            self.init_training_settings()
        else:  # testing: validation samples with net_g (load params_ema through path.param_key_g)
            self.net_g_ema = self.get_bare_model(self.net_g).eval()

    # ------------------------------------------------------------------ set-up
    def init_training_settings(self) -> None:
        """EMA copy, diffusion schedule, losses, memories, random generator, AdamW (and optional lr scheduler)."""
        train_opt = self.opt["train"]
        bare = self.get_bare_model(self.net_g)
        self.ema_decay = float(train_opt.get("ema_decay", 0.9999))
        self.net_g_ema = _dit().copy_frozen(bare).eval()
        if self.load_path:
            _dit().load_difffit_checkpoint(self.net_g_ema, self.load_path, use_ema=True)
        else:
            self.model_ema(0)
        self.net_g.train()

        self.train_scheduler = self.components.make_train_scheduler()
        self.betas = self.train_scheduler.betas.to(self.device)
        self.alphas_cumprod = torch.cumprod(1.0 - self.train_scheduler.betas.double(), dim=0).to(self.device)
        self.vlb_weight = float(train_opt.get("vlb_weight", 1.0))
        memory_opt = train_opt.get("memory") or {}
        self.lambda_pos = float(memory_opt.get("lambda_pos", LAMBDA_POS))
        self.lambda_neg = float(memory_opt.get("lambda_neg", LAMBDA_NEG))
        self.real_memory = MemoryBank(int(memory_opt.get("size", MEMORY_SIZE)))
        self.generated_memory = MemoryBank(self.real_memory.size)
        sr_opt = train_opt.get("sr_loss") or {}
        self.hflip = bool(train_opt.get("hflip", True))
        self.sr_weight = float(sr_opt.get("weight", 0.0))
        self.sr_scale = int(sr_opt.get("scale", 4))
        self.sr_space = sr_opt.get("space", "pixel")
        if self.sr_space not in ("pixel", "latent"):
            raise ValueError(f"train.sr_loss.space must be 'pixel' or 'latent', got {self.sr_space!r}")
        seed = self.opt.get("manual_seed") or 0
        self.rng = torch.Generator().manual_seed(int(seed) + int(self.opt.get("rank", 0)))

        self.setup_optimizers()
        if train_opt.get("scheduler"):
            self.setup_schedulers()
        self.log_dict = OrderedDict()

    def get_optimizer(self, optim_type: str, params: list, lr: float, **kwargs: Any) -> torch.optim.Optimizer:
        """BasicSR's factory plus ``AdamW`` (the authors' optimizer)."""
        if optim_type == "AdamW":
            return torch.optim.AdamW(params, lr, **kwargs)
        return super().get_optimizer(optim_type, params, lr, **kwargs)

    def setup_optimizers(self) -> None:
        """One optimizer over the trainable tensors (default AdamW, lr 1e-3, weight decay 0)."""
        optim_opt = dict(self.opt["train"].get("optim_g") or {"type": "AdamW", "lr": 1e-3, "weight_decay": 0.0})
        optim_type = optim_opt.pop("type", "AdamW")
        lr = float(optim_opt.pop("lr", 1e-3))
        params = [p for p in self.get_bare_model(self.net_g).parameters() if p.requires_grad]
        self.optimizer_g = self.get_optimizer(optim_type, params, lr, **optim_opt)
        self.optimizers.append(self.optimizer_g)

    def model_ema(self, decay: float = 0.999) -> None:
        """BasicSR's EMA update restricted to the trainable tensors (frozen ones are equal in both nets)."""
        net_g = self.get_bare_model(self.net_g)
        source = dict(net_g.named_parameters())
        target = dict(self.net_g_ema.named_parameters())
        with torch.no_grad():
            for name in _dit().trainable_names(net_g):
                target[name].mul_(decay).add_(source[name], alpha=1 - decay)

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    # ------------------------------------------------------------------ training
    def feed_data(self, data: dict) -> None:
        """Take a batch of ``PseudoLabelPatchDataset``: ``gt`` in [0, 1] and ``label``."""
        self.gt = data["gt"].to(self.device)
        self.labels = torch.as_tensor(data["label"]).to(self.device).long()
        if int(self.labels.max()) >= self.num_classes or int(self.labels.min()) < 0:
            raise ValueError(
                f"batch labels {sorted(set(self.labels.tolist()))} outside 0..{self.num_classes - 1} "
                f"(network_g.num_classes = {self.num_classes})"
            )

    def _random(self, kind: str, shape: tuple, **kwargs: Any) -> torch.Tensor:
        """Draw from the model's own CPU generator (saved in the training state), then move to the device."""
        draw = {"randn": torch.randn, "rand": torch.rand}.get(kind)
        values = draw(shape, generator=self.rng) if draw else torch.randint(generator=self.rng, size=shape, **kwargs)
        return values.to(self.device)

    def optimize_parameters(self, current_iter: int) -> None:
        """One fine-tuning step (module docstring); logs ``l_mse, l_vlb, l_pos, l_neg, l_sr, l_total``."""
        components = self.components
        images = self.gt
        if self.hflip:
            flipped = self._random("rand", (images.shape[0],)) < 0.5
            images = torch.where(flipped[:, None, None, None], images.flip(-1), images)
        with torch.no_grad(), self._autocast():
            posterior = self.vae.encode((images * 2 - 1).to(self.vae.dtype)).latent_dist
            latents = posterior.sample(generator=self.rng).float() * components.latent_scale
        batch, channels = latents.shape[:2]
        noise = self._random("randn", tuple(latents.shape))
        timesteps = self._random("randint", (batch,), low=0, high=self.train_scheduler.config.num_train_timesteps)
        dropped = self._random("rand", (batch,)) < components.class_dropout_prob
        class_input = torch.where(dropped, torch.full_like(self.labels, components.null_class), self.labels)
        noisy = self.train_scheduler.add_noise(latents, noise, timesteps)
        with self._autocast():
            output = self.net_g(noisy, timestep=timesteps, class_labels=class_input).sample.float()
        eps = output[:, :channels]
        losses = OrderedDict(l_mse=F.mse_loss(eps, noise))
        if output.shape[1] == 2 * channels and self.vlb_weight:
            vlb = dit_variational_bound(self.betas, latents, noisy, timesteps, eps, output[:, channels:]).mean()
            losses["l_vlb"] = self.vlb_weight * vlb
        prediction = predict_clean_latent(self.alphas_cumprod, noisy, timesteps, eps)
        if self.lambda_pos or self.lambda_neg:
            losses["l_pos"], losses["l_neg"] = memory_losses(
                prediction,
                latents,
                self.labels,
                self.real_memory,
                self.generated_memory,
                self.lambda_pos,
                self.lambda_neg,
            )
        if self.sr_weight:
            losses["l_sr"] = -self.sr_weight * sr_loss(self._sr_input(prediction), self.sr_scale)
        total = sum(losses.values())
        losses["l_total"] = total
        self.optimizer_g.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer_g.step()
        self.model_ema(decay=self.ema_decay)
        self.current_iter = current_iter
        self.log_dict = self.reduce_loss_dict({name: value.detach() for name, value in losses.items()})

    def _sr_input(self, prediction: torch.Tensor) -> torch.Tensor:
        """The predicted clean sample the SR loss acts on: decoded to [0, 1] (pixel) or the latent itself."""
        if self.sr_space == "latent":
            return prediction
        with self._autocast():
            decoded = self.vae.decode((prediction / self.components.latent_scale).to(self.vae.dtype)).sample
        return decoded.float() / 2 + 0.5

    # ------------------------------------------------------------------ saving and resuming
    def save(self, epoch: int, current_iter: int) -> None:
        """``models/net_g_{iter}.pth`` (DiffFit tensors + fingerprint) and ``training_states/{iter}.state``."""
        self.save_difffit_network(current_iter)
        self.save_training_state(epoch, current_iter)

    @master_only
    def save_difffit_network(self, current_iter: int) -> None:
        """BasicSR's ``save_network`` path and keys (``params``, ``params_ema``), DiffFit tensors only."""
        label = "latest" if current_iter == -1 else current_iter
        path = osp.join(self.opt["path"]["models"], f"net_g_{label}.pth")
        _dit().save_difffit_checkpoint(path, self.get_bare_model(self.net_g), self.net_g_ema)

    @master_only
    def save_training_state(self, epoch: int, current_iter: int) -> None:
        """BasicSR's training state plus the fingerprint, both memories and the model's random generator."""
        if current_iter == -1:
            return
        extra = {
            "difffit": _dit().difffit_metadata(self.get_bare_model(self.net_g)),
            "memories": {"real": self.real_memory.state_dict(), "generated": self.generated_memory.state_dict()},
            "rng": self.rng.get_state(),
        }
        save_training_state_with(self, epoch, current_iter, extra)

    def resume_training(self, resume_state: dict) -> None:
        """Restore optimizers, schedulers, memories, generator and step; refuse another configuration's state."""
        what = f"training state of iter {resume_state.get('iter')}"
        _dit().check_difffit_metadata(self.get_bare_model(self.net_g), resume_state.get("difffit"), what)
        super().resume_training(resume_state)
        memories = resume_state["memories"]
        if int(memories["real"]["size"]) != self.real_memory.size:
            raise ValueError(f"{what}: memory size {memories['real']['size']} differs from train.memory.size")
        self.real_memory.load_state_dict(memories["real"], self.device)
        self.generated_memory.load_state_dict(memories["generated"], self.device)
        self.rng.set_state(resume_state["rng"].cpu())
        self.current_iter = int(resume_state["iter"])
        self._redo_interrupted_validation()

    def _redo_interrupted_validation(self) -> None:
        """Sample the resumed iteration's class grids again when the stop came before all were written.

        BasicSR saves a checkpoint before validating at the same iteration and does not validate on resume; the
        grids are seeded, so the redone ones equal those an uninterrupted run writes."""
        val_opt = self.opt.get("val") or {}
        if not val_opt.get("save_img") or not val_opt.get("val_freq") or self.current_iter % val_opt["val_freq"]:
            return
        grids = [self._grid_path(label, self.current_iter) for label in range(self.num_classes)]
        if not all(osp.isfile(grid) for grid in grids):
            get_root_logger().info(f"resume: redoing the validation of iter {self.current_iter} (interrupted)")
            self.validation(None, self.current_iter, None, save_img=True)

    def _grid_path(self, label: int, current_iter: int) -> str:
        folder = osp.join(self.opt["path"]["visualization"], f"class_{label:03d}")
        return osp.join(folder, f"{self.opt['name']}_{current_iter}.png")

    # ------------------------------------------------------------------ validation
    def validation(self, dataloader: Any, current_iter: int, tb_logger: Any, save_img: bool = False) -> None:
        """Sample ``samples_per_class`` images per class with the EMA net; one grid PNG per class (rank 0)."""
        if self.opt.get("rank", 0) != 0:
            return
        val_opt = self.opt.get("val") or {}
        per_class = int(val_opt.get("samples_per_class", 4))
        labels = [label for label in range(self.num_classes) for _ in range(per_class)]
        images = _sampling().sample_images(
            dataclasses.replace(self.components, transformer=self.net_g_ema),
            labels,
            num_steps=int(val_opt.get("num_steps", 50)),
            guidance_scale=float(val_opt.get("guidance_scale", 4.0)),
            seed=int(val_opt.get("seed", 0)),
            batch_size=int(val_opt.get("batch_size", 8)),
            dtype=self.amp_dtype,
            scheduler=val_opt.get("scheduler", "ddpm"),
            cfg_channels=val_opt.get("cfg_channels", _sampling().DIT_CFG_CHANNELS),
        )
        for label in range(self.num_classes):
            grid = class_grid(images[label * per_class : (label + 1) * per_class])
            if save_img:
                path = self._grid_path(label, current_iter)
                os.makedirs(osp.dirname(path), exist_ok=True)
                write_png(path, np.ascontiguousarray(grid[:, :, ::-1]))
            if tb_logger:
                tb_logger.add_image(f"samples/class_{label:03d}", grid, current_iter, dataformats="HWC")


def class_grid(images: np.ndarray) -> np.ndarray:
    """Tile ``(n, H, W, 3)`` uint8 RGB images into a near-square grid (2-pixel padding), uint8 RGB."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
    grid = make_grid(tensor, nrow=math.ceil(math.sqrt(len(images))), padding=2)
    return np.ascontiguousarray(grid.permute(1, 2, 0).numpy())
