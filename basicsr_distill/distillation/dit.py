"""DiT + VAE components, DiffFit parameter selection and DiffFit checkpoints (Cho, Jung, Cho, Soh, IEEE SPL 2025,
Sec. II-B).

A class-conditional DiT-XL/2 (Peebles & Xie, ICCV 2023) in the Stable Diffusion VAE's latent space, fine-tuned
DiffFit-style (Xie et al., ICCV 2023: biases, norms, class embeddings and gamma scales ``h + gamma * f(h)`` in the
first blocks) on the CLIP pseudo-classes, with diffusers' classes. Details and deviations: ``docs/design.md``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from basicsr.utils import get_root_logger
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DDPMScheduler,
    DiTTransformer2DModel,
    DPMSolverMultistepScheduler,
)
from diffusers.models.embeddings import LabelEmbedding
from torch import nn

from basicsr_distill.distillation.sources import config_file, load_torch_file, read_json, vae_config_file
from basicsr_distill.utils import atomic_output

#: Latent scaling of the Stable Diffusion VAE used by DiT (``vae.encode(x).latent_dist.sample() * 0.18215``).
LATENT_SCALE = 0.18215

#: DiT's training diffusion (``create_diffusion(timestep_respacing="")``): 1000 steps, linear betas 1e-4..0.02.
TRAIN_SCHEDULER_CONFIG: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_schedule": "linear",
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "prediction_type": "epsilon",
    "variance_type": "learned_range",
    "clip_sample": False,
}

#: Shape of DiT-XL/2 at 512x512 (facebook/DiT-XL-2-512): latent 64x64, patch 2, 28 layers, hidden 1152, 16 heads.
DIT_XL_2_512: dict[str, Any] = {
    "sample_size": 64,
    "patch_size": 2,
    "in_channels": 4,
    "out_channels": 8,
    "num_layers": 28,
    "num_attention_heads": 16,
    "attention_head_dim": 72,
    "num_embeds_ada_norm": 1000,
}

#: Shape of the Stable Diffusion VAE (stabilityai/sd-vae-ft-ema): 8x downsampling, 4 latent channels.
SD_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "block_out_channels": [128, 256, 512, 512],
    "layers_per_block": 2,
    "latent_channels": 4,
    "norm_num_groups": 32,
    "sample_size": 512,
    "scaling_factor": LATENT_SCALE,
}

#: Default random-weight configuration (tests, demo): the same layout, latent 8x8 -> 16x16 images, 2 layers,
#: 2 heads of 8 channels, a 2-level VAE.
TINY_TRANSFORMER: dict[str, Any] = {
    **DIT_XL_2_512,
    "sample_size": 8,
    "num_layers": 2,
    "num_attention_heads": 2,
    "attention_head_dim": 8,
}
TINY_VAE: dict[str, Any] = {
    **SD_VAE,
    "down_block_types": ["DownEncoderBlock2D"] * 2,
    "up_block_types": ["UpDecoderBlock2D"] * 2,
    "block_out_channels": [16, 32],
    "layers_per_block": 1,
    "norm_num_groups": 8,
    "sample_size": 16,
}

#: Sampling schedulers :meth:`DiTComponents.make_sample_scheduler` knows.
SAMPLE_SCHEDULERS = ("ddpm", "ddim", "dpm")

GAMMA_ATTR = "difffit_gamma"
CHECKPOINT_FORMAT = "basicsr-distill/difffit-v1"
_PROBE_VALUES = 8


@dataclasses.dataclass
class DiTComponents:
    """A DiT transformer, its VAE and the diffusion settings of the paper.

    Attributes:
        transformer: the class-conditional DiT (learned sigma: ``out_channels == 2 * in_channels``).
        vae: the frozen latent autoencoder; images in [-1, 1] <-> latents ``* latent_scale``.
        random_weights: True when no pretrained weights were loaded (tests/demo/speed benches only).
        source: the pretrained folder or hub name, or ``"random"``.
        latent_scale: 0.18215 (DiT/Stable Diffusion).
        class_dropout_prob: label dropout for classifier-free guidance training (DiT: 0.1).
        decode_vae: the VAE that decodes samples when it differs from the training one (the authors train with
            ``sd-vae-ft-ema`` and decode with ``sd-vae-ft-mse``); ``None``: ``vae`` decodes too.
    """

    transformer: DiTTransformer2DModel
    vae: AutoencoderKL
    random_weights: bool
    source: str = "random"
    latent_scale: float = LATENT_SCALE
    class_dropout_prob: float = 0.1
    decode_vae: AutoencoderKL | None = None

    @property
    def decoder(self) -> AutoencoderKL:
        """The VAE that turns sampled latents into images: ``decode_vae`` when given, else ``vae``."""
        return self.vae if self.decode_vae is None else self.decode_vae

    @property
    def num_class_embeddings(self) -> int:
        """Number of real classes the DiT embeds (1000 for ImageNet); the null class has this index."""
        return int(self.transformer.config.num_embeds_ada_norm)

    @property
    def null_class(self) -> int:
        """Class id of the classifier-free-guidance null (unconditional) embedding."""
        return self.num_class_embeddings

    @property
    def vae_scale_factor(self) -> int:
        """Spatial downsampling of the VAE (8 for the SD VAE)."""
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def latent_size(self) -> int:
        """Side of the (square) latent the DiT was built for (64 for DiT-XL/2-512)."""
        return int(self.transformer.config.sample_size)

    @property
    def image_size(self) -> int:
        """Side of the images the DiT generates and fine-tunes on (512 for DiT-XL/2-512)."""
        return self.latent_size * self.vae_scale_factor

    def check_num_classes(self, num_classes: int) -> None:
        """Raise ``ValueError`` unless ``1 <= num_classes <= num_class_embeddings``."""
        check_num_classes(self.transformer, num_classes)

    def make_train_scheduler(self) -> DDPMScheduler:
        """DiT's training diffusion: ``DDPMScheduler`` with 1000 steps and linear betas 1e-4..0.02."""
        return DDPMScheduler(**TRAIN_SCHEDULER_CONFIG)

    def make_sample_scheduler(self, kind: str = "ddpm") -> DDPMScheduler | DDIMScheduler | DPMSolverMultistepScheduler:
        """The sampler: ``"ddpm"`` (default, the authors'), ``"ddim"`` or ``"dpm"``.

        The authors sample with DiT's ``sample.py`` (``create_diffusion(str(num_steps))``): ancestral DDPM on
        ``num_steps`` evenly respaced timesteps with the learned-range variance. ``DDPMScheduler`` with
        ``variance_type="learned_range"``, ``timestep_spacing="linspace"`` and no clipping is the same sampler
        (same timesteps ``round(linspace(0, 999, n))``, posterior mean from the predicted x0, log-variance
        interpolated between the respaced posterior variance and beta). ``"ddim"`` is the scheduler the
        diffusers DiT folders ship for ``DiTPipeline``; ``"dpm"`` is ``DPMSolverMultistepScheduler`` as in the
        ``DiTPipeline`` example. The last two use only the eps half of the output (``DiTPipeline``'s split).
        """
        common = {key: TRAIN_SCHEDULER_CONFIG[key] for key in ("num_train_timesteps", "beta_schedule")}
        common.update(beta_start=TRAIN_SCHEDULER_CONFIG["beta_start"], beta_end=TRAIN_SCHEDULER_CONFIG["beta_end"])
        if kind == "ddpm":
            return DDPMScheduler(**TRAIN_SCHEDULER_CONFIG, timestep_spacing="linspace")
        if kind == "ddim":
            return DDIMScheduler(**common, clip_sample=False, set_alpha_to_one=False)
        if kind == "dpm":
            return DPMSolverMultistepScheduler(**common)
        raise ValueError(f"unknown sampling scheduler {kind!r} (choose from {', '.join(SAMPLE_SCHEDULERS)})")


def set_tf32(enabled: bool = True) -> None:
    """Allow TF32 in CUDA matmuls and cuDNN convolutions, as the authors' ``train_diff.py`` and ``sample.py``."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def check_num_classes(transformer: DiTTransformer2DModel, num_classes: int) -> None:
    """Raise ``ValueError`` if ``num_classes`` pseudo-classes do not fit the DiT's class embedding."""
    available = int(transformer.config.num_embeds_ada_norm)
    if not 1 <= int(num_classes) <= available:
        raise ValueError(
            f"{num_classes} classes do not fit the DiT's class embedding ({available} classes plus the null class; "
            f"pseudo-classes reuse the first k ImageNet embeddings, so k must be in 1..{available})"
        )


def load_dit_components(
    pretrained: str | os.PathLike | None,
    tiny: dict[str, Any] | None = None,
    num_classes: int | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
    vae_decode: str | os.PathLike | None = None,
) -> DiTComponents:
    """Load a diffusers-format DiT folder (``transformer/`` + ``vae/``), or build a random-weight DiT + VAE.

    Args:
        pretrained: a local folder laid out like ``facebook/DiT-XL-2-512`` (``transformer/``, ``vae/``), a hub
            name (works through diffusers' own loading when the network is there), or ``None`` for random
            weights (logged as ``RANDOM WEIGHTS``).
        tiny: with ``pretrained=None``, overrides ``{"transformer": {...}, "vae": {...}}`` merged over
            :data:`TINY_TRANSFORMER` / :data:`TINY_VAE` (e.g. ``{"transformer": DIT_XL_2_512, "vae": SD_VAE}``
            for the full shape with random weights). Ignored (with a warning) when ``pretrained`` is given.
        num_classes: if given, checked against the class embedding (``ValueError`` if larger).
        device, dtype: where and in which dtype the weights live (fine-tuning keeps float32 weights and runs
            under bf16 autocast).
        seed: seed of the random initialisation (random weights are reproducible, so a DiffFit checkpoint of a
            random-weight run can be resumed).
        vae_decode: a separate decoding VAE (:func:`load_vae`), e.g. ``sd-vae-ft-mse`` as the authors' sampling;
            ``None`` decodes with the DiT folder's own ``vae/``.

    Raises:
        FileNotFoundError: a local folder lacks ``transformer/`` or ``vae/``, or the path does not exist.
        ValueError: bad ``tiny`` keys, mismatched latent channels, or too many classes.
    """
    logger = get_root_logger()
    if pretrained is None:
        transformer, vae = _random_models(tiny or {}, seed)
        if dtype != torch.float32:
            transformer, vae = transformer.to(dtype=dtype), vae.to(dtype=dtype)
        logger.warning(
            "RANDOM WEIGHTS: DiT and VAE are randomly initialised (no pretrained folder given); "
            "use only for tests, the demo and speed benches"
        )
        source, random_weights = "random", True
    else:
        if tiny:
            logger.warning(f"network_g.tiny is ignored: pretrained weights are loaded from {pretrained}")
        transformer, vae = _pretrained_models(str(pretrained), dtype)
        source, random_weights = str(pretrained), False
    if vae.config.latent_channels != transformer.config.in_channels:
        raise ValueError(
            f"{source}: VAE latent channels ({vae.config.latent_channels}) differ from the DiT's input channels "
            f"({transformer.config.in_channels})"
        )
    if not tie_conditioning_embeddings(transformer, force=random_weights):
        logger.warning(f"{source}: per-block timestep/class embeddings differ; they stay untied")
    for module in transformer.modules():
        if isinstance(module, LabelEmbedding):
            module.dropout_prob = 0.0  # label dropout happens once per sample in the fine-tuning model
    vae.requires_grad_(False).eval()
    decode_vae = None
    if vae_decode is not None:
        decode_vae = load_vae(vae_decode, dtype).requires_grad_(False).eval().to(device)
        check_decode_vae(vae, decode_vae, str(vae_decode))
        logger.info(f"decoding samples with the VAE {vae_decode} (training VAE: {source})")
    components = DiTComponents(
        transformer=transformer.to(device),
        vae=vae.to(device),
        random_weights=random_weights,
        source=source,
        decode_vae=decode_vae,
    )
    if num_classes is not None:
        components.check_num_classes(num_classes)
    return components


def load_vae(path: str | os.PathLike, dtype: torch.dtype = torch.float32) -> AutoencoderKL:
    """A diffusers ``AutoencoderKL``: a folder (``config.json`` + weights, or a pipeline folder with ``vae/``) or a hub
    id (``stabilityai/sd-vae-ft-mse``) through diffusers' own loading. Raises ``FileNotFoundError`` naming what was
    tried, ``ValueError`` naming a malformed ``config.json``."""
    config, subfolder = vae_config_file(path)
    if not config.is_file():
        raise FileNotFoundError(f"{path}: no VAE (expected config.json and weights, or a vae/ subfolder with them)")
    read_json(config)  # a malformed config is one line naming the file
    return AutoencoderKL.from_pretrained(str(path), subfolder=subfolder, torch_dtype=dtype)


def check_decode_vae(vae: AutoencoderKL, decode_vae: AutoencoderKL, where: str) -> None:
    """Refuse a decoding VAE whose latent space cannot be the training VAE's (channels, downsampling factor)."""
    expected = (vae.config.latent_channels, len(vae.config.block_out_channels))
    found = (decode_vae.config.latent_channels, len(decode_vae.config.block_out_channels))
    if expected != found:
        raise ValueError(
            f"{where}: decoding VAE has {found[0]} latent channels and {found[1]} levels, the training VAE "
            f"{expected[0]} and {expected[1]}: it cannot decode these latents"
        )


def _random_models(tiny: dict[str, Any], seed: int) -> tuple[DiTTransformer2DModel, AutoencoderKL]:
    unknown = set(tiny) - {"transformer", "vae"}
    if unknown:
        raise ValueError(f"network_g.tiny: unknown keys {sorted(unknown)} (expected 'transformer' and/or 'vae')")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        transformer = DiTTransformer2DModel(**{**TINY_TRANSFORMER, **(tiny.get("transformer") or {})})
        vae = AutoencoderKL(**{**TINY_VAE, **(tiny.get("vae") or {})})
    return transformer, vae


def _pretrained_models(pretrained: str, dtype: torch.dtype) -> tuple[DiTTransformer2DModel, AutoencoderKL]:
    """A diffusers DiT folder or hub id (``facebook/DiT-XL-2-512``: ``transformer/`` + ``vae/``), diffusers' loading."""
    what = "diffusers DiT (transformer/ + vae/, like facebook/DiT-XL-2-512)"
    for sub in ("transformer", "vae") if Path(pretrained).is_dir() else ():
        if not (Path(pretrained) / sub).is_dir():
            raise FileNotFoundError(f"{pretrained}: no {sub}/ subfolder (expected a {what})")
    for sub in ("transformer", "vae"):
        config = config_file(pretrained, sub, what)  # a hub id's from the Hugging Face cache (or the hub)
        if not config.is_file():
            raise FileNotFoundError(f"{pretrained}: no {sub}/config.json (expected a {what})")
        read_json(config)  # a malformed config is one line naming the file
    return (
        DiTTransformer2DModel.from_pretrained(pretrained, subfolder="transformer", torch_dtype=dtype),
        AutoencoderKL.from_pretrained(pretrained, subfolder="vae", torch_dtype=dtype),
    )


def tie_conditioning_embeddings(transformer: DiTTransformer2DModel, force: bool = False) -> bool:
    """Make every block use block 0's timestep/class embedder, as DiT shares one; return whether tied.

    Ties only when all copies are equal (converted DiT checkpoints), unless ``force`` (random weights).
    """
    blocks = transformer.transformer_blocks
    first = blocks[0].norm1.emb
    if not force:
        reference = first.state_dict()
        for block in blocks[1:]:
            if block.norm1.emb is first:
                continue
            other = block.norm1.emb.state_dict()
            if reference.keys() != other.keys() or any(not torch.equal(reference[k], other[k]) for k in reference):
                return False
    for block in blocks[1:]:
        block.norm1.emb = first
    return True


def _scale_output_by_gamma(module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
    """Forward hook: DiffFit's ``gamma * f(x)`` (gamma cast to the output dtype, e.g. under bf16 autocast)."""
    return output * getattr(module, GAMMA_ATTR).to(output.dtype)


def _insert_gamma(module: nn.Module, size: int, reference: torch.Tensor) -> None:
    if hasattr(module, GAMMA_ATTR):
        return
    module.register_parameter(
        GAMMA_ATTR, nn.Parameter(torch.ones(size, device=reference.device, dtype=reference.dtype))
    )
    module.register_forward_hook(_scale_output_by_gamma)


def insert_difffit_gammas(transformer: DiTTransformer2DModel, gamma_blocks: int | None = None) -> int:
    """Insert DiffFit's gammas (ones) into the first ``gamma_blocks`` blocks (default half); return that count."""
    blocks = transformer.transformer_blocks
    count = len(blocks) // 2 if gamma_blocks is None else int(gamma_blocks)
    if not 0 <= count <= len(blocks):
        raise ValueError(f"gamma_blocks must be in 0..{len(blocks)}, got {gamma_blocks}")
    existing = getattr(transformer, "_difffit_gamma_blocks", None)
    if existing is not None and existing != count:
        raise ValueError(f"DiffFit gammas already inserted into {existing} blocks, cannot change to {count}")
    dim = transformer.inner_dim
    for block in blocks[:count]:
        reference = block.attn1.to_q.weight
        for module in (block.attn1.to_q, block.attn1.to_k, block.attn1.to_v, block.attn1.to_out[0]):
            _insert_gamma(module, dim, reference)
        _insert_gamma(block.attn1, dim, reference)  # attention branch (block gamma1)
        _insert_gamma(block.ff, dim, reference)  # MLP branch (block gamma2)
    transformer._difffit_gamma_blocks = count
    return count


def _difffit_groups(transformer: nn.Module) -> dict[str, str]:
    """``{parameter name: group}`` with groups class_embedding, gamma, norm, bias or frozen."""
    embedding_ids = {id(m.embedding_table.weight) for m in transformer.modules() if isinstance(m, LabelEmbedding)}
    norm_ids = {
        id(p)
        for m in transformer.modules()
        if isinstance(m, (nn.LayerNorm, nn.GroupNorm))
        for p in m.parameters(recurse=False)
    }
    groups = {}
    for name, param in transformer.named_parameters():
        if id(param) in embedding_ids:
            groups[name] = "class_embedding"
        elif name.endswith(GAMMA_ATTR):
            groups[name] = "gamma"
        elif id(param) in norm_ids:
            groups[name] = "norm"
        elif name.endswith(".bias") or name == "bias":
            groups[name] = "bias"
        else:
            groups[name] = "frozen"
    return groups


def mark_difffit_trainable(transformer: DiTTransformer2DModel, gamma_blocks: int | None = None) -> dict[str, int]:
    """Insert DiffFit's gammas and make only bias, norm, gamma and class-embedding parameters trainable.

    Args:
        transformer: the DiT (after loading its pretrained weights: gammas are new parameters).
        gamma_blocks: number of leading blocks with gammas; ``None`` = the first half (DiffFit, authors' code).

    Returns:
        Parameter counts (elements): ``trainable``, ``total``, ``frozen`` and per group ``bias``, ``norm``,
        ``gamma``, ``class_embedding`` (a normalisation layer's bias counts as ``norm``).
    """
    insert_difffit_gammas(transformer, gamma_blocks)
    groups = _difffit_groups(transformer)
    counts = dict.fromkeys(("bias", "norm", "gamma", "class_embedding", "frozen"), 0)
    trainable = []
    for name, param in transformer.named_parameters():
        group = groups[name]
        param.requires_grad_(group != "frozen")
        counts[group] += param.numel()
        if group != "frozen":
            trainable.append(name)
    transformer._difffit_trainable = tuple(trainable)
    transformer._difffit_mode = "difffit"
    counts["total"] = sum(counts.values())
    counts["trainable"] = counts["total"] - counts["frozen"]
    return counts


def mark_all_trainable(transformer: DiTTransformer2DModel) -> dict[str, int]:
    """Full fine-tuning baseline (no gammas): every parameter trains. Returns ``trainable``/``total`` counts."""
    names = []
    for name, param in transformer.named_parameters():
        param.requires_grad_(True)
        names.append(name)
    transformer._difffit_trainable = tuple(names)
    transformer._difffit_mode = "full"
    total = sum(p.numel() for p in transformer.parameters())
    return {"trainable": total, "total": total, "frozen": 0}


def trainable_names(transformer: nn.Module) -> tuple[str, ...]:
    """Names of the tensors :func:`mark_difffit_trainable` selected (also on a frozen EMA copy of the model)."""
    names = getattr(transformer, "_difffit_trainable", None)
    if names is None:
        raise ValueError("the transformer has no DiffFit selection: call mark_difffit_trainable first")
    return names


def difffit_metadata(transformer: DiTTransformer2DModel) -> dict[str, Any]:
    """The configuration fingerprint stored in (and checked against) DiffFit checkpoints and training states."""
    names = trainable_names(transformer)
    params = dict(transformer.named_parameters())
    config = {key: value for key, value in dict(transformer.config).items() if not key.startswith("_")}
    structure = {
        "config": config,
        "mode": getattr(transformer, "_difffit_mode", "difffit"),
        "gamma_blocks": getattr(transformer, "_difffit_gamma_blocks", 0),
        "trainable": {name: list(params[name].shape) for name in names},
    }
    encoded = json.dumps(structure, sort_keys=True, default=list).encode()
    frozen = [name for name in params if name not in set(names)]
    probe = [params[name].detach().flatten()[:_PROBE_VALUES].float().cpu() for name in sorted(frozen)]
    return {
        "format": CHECKPOINT_FORMAT,
        "fingerprint": hashlib.sha256(encoded).hexdigest(),
        **structure,
        "base_probe": torch.cat(probe) if probe else torch.zeros(0),
    }


def check_difffit_metadata(transformer: DiTTransformer2DModel, saved: dict[str, Any], what: str) -> None:
    """Raise ``ValueError`` (naming ``what``) if ``saved`` metadata was made for another configuration or base."""
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{what}: not a DiffFit checkpoint/state of this package (no {CHECKPOINT_FORMAT} metadata)")
    current = difffit_metadata(transformer)
    if saved["fingerprint"] != current["fingerprint"]:
        differences = [
            key
            for key in sorted(set(saved["config"]) | set(current["config"]))
            if saved["config"].get(key) != current["config"].get(key)
        ]
        for key in ("mode", "gamma_blocks", "trainable"):
            if saved.get(key) != current[key]:
                differences.append(key)
        raise ValueError(
            f"{what}: made for a different configuration (differs in: {', '.join(differences) or 'fingerprint'}); "
            "refusing to load it"
        )
    probe = saved["base_probe"]
    if probe.shape != current["base_probe"].shape or not torch.allclose(
        probe.float(), current["base_probe"], rtol=1e-2, atol=1e-3
    ):
        raise ValueError(f"{what}: made on different frozen base weights (another pretrained model or seed)")


def difffit_state_dict(transformer: nn.Module, names: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
    """The DiffFit-trainable tensors of ``transformer`` (CPU copies), by name."""
    names = trainable_names(transformer) if names is None else names
    params = dict(transformer.named_parameters())
    return {name: params[name].detach().cpu().clone() for name in names}


def save_difffit_checkpoint(path: str | os.PathLike, transformer: nn.Module, ema: nn.Module | None = None) -> None:
    """Write a DiffFit checkpoint: ``{'params', 'params_ema', 'difffit'}`` with only the trainable tensors.

    ``ema`` (an EMA copy, possibly frozen) defaults to ``transformer`` itself. Written atomically.
    """
    names = trainable_names(transformer)
    checkpoint = {
        "params": difffit_state_dict(transformer, names),
        "params_ema": difffit_state_dict(transformer if ema is None else ema, names),
        "difffit": difffit_metadata(transformer),
    }
    with atomic_output(path) as tmp:
        torch.save(checkpoint, tmp)


def load_difffit_checkpoint(
    transformer: DiTTransformer2DModel, path: str | os.PathLike, use_ema: bool = True
) -> dict[str, Any]:
    """Load a DiffFit checkpoint's trainable tensors into ``transformer`` (in place); return its metadata.

    A transformer without DiffFit gammas gets them first (with the checkpoint's placement). ``use_ema``
    loads ``params_ema`` (falls back to ``params`` when absent), else ``params``.

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        ValueError: not a DiffFit checkpoint, or made for another configuration / base weights.
    """
    checkpoint = load_torch_file(path, "DiffFit checkpoint")
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("params"), dict):
        raise ValueError(f"{path}: not a DiffFit checkpoint (no 'params'; expected the fine-tuning's net_g_*.pth)")
    saved = checkpoint.get("difffit")
    if not hasattr(transformer, "_difffit_trainable") and isinstance(saved, dict):
        if saved.get("mode") == "full":
            mark_all_trainable(transformer)
        else:
            mark_difffit_trainable(transformer, gamma_blocks=saved.get("gamma_blocks"))
    check_difffit_metadata(transformer, saved, str(path))
    key = "params_ema" if use_ema and "params_ema" in checkpoint else "params"
    params = dict(transformer.named_parameters())
    with torch.no_grad():
        for name, tensor in checkpoint[key].items():
            params[name].copy_(tensor)
    return saved


def copy_frozen(transformer: nn.Module) -> nn.Module:
    """A deep copy with every parameter frozen (BasicSR's ``net_g_ema``); DiffFit selection and hooks are kept."""
    clone = copy.deepcopy(transformer)
    clone.requires_grad_(False)
    return clone
