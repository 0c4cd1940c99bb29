"""Check the pretrained weights of the distillation before hours of GPU time (Cho, Jung, Cho, Soh, "Dataset
Distillation for Super-Resolution Without Class Labels and Pre-Trained Models", IEEE SPL 2025).

The distillation uses three pretrained networks: CLIP ViT-B/32 for the pseudo-classes (Sec. II-A; OpenAI's
weights, QuickGELU), DiT-XL/2 at 512x512 (Peebles & Xie, ICCV 2023) with the Stable Diffusion VAE for the
fine-tuning and sampling (Sec. II-B/C; the authors train with ``sd-vae-ft-ema`` and decode with
``sd-vae-ft-mse``). A wrong file (another DiT size, a CLIP of another width, a VAE of another latent space, OpenAI
weights in a GELU network) would otherwise fail late or, worse, run silently. :func:`check_weights` loads each
file the options name and compares it with the expected architecture (:data:`PAPER_WEIGHTS`):

* configuration (DiT hidden size, depth, heads, patch, latent size, learned sigma, class count; VAE latent
  channels and levels; CLIP embedding and tower widths, activation) read before the weights, so a mismatch
  fails in seconds with one line naming the file;
* parameter count against the count of the expected architecture built on the ``meta`` device (no memory, no
  time): DiT-XL/2 674,834,720 (its timestep/class embedder shared by the blocks, as DiT; diffusers stores 28
  copies, 749,826,464), SD VAE 83,653,863, CLIP ViT-B/32 151,277,313;
* a tiny deterministic forward on each (fixed seeded input, small spatial size; its output statistics are
  printed and must be finite).

``basicsr-distill distill check-weights`` runs it from a pipeline YAML or explicit paths, and converts the original
facebookresearch checkpoint ``DiT-XL-2-512x512.pt`` into a diffusers folder (:func:`convert_dit_checkpoint`;
diffusers ships its conversion only as a repository script, for its old ``DiT`` class, so the key mapping is
written here). The pipeline (:func:`basicsr_distill.synthesis.methods.srdd.run_pipeline`) runs the check at its
start.

Paths and hub ids are resolved by :mod:`.sources`.
"""

from __future__ import annotations

import math
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from basicsr.utils import get_root_logger

from basicsr_distill.distillation.sources import (
    WeightsCheckError,
    config_file,
    first_line,
    load_torch_file,
    read_json,
    resolve_clip_checkpoint,
    vae_config_file,
)
from basicsr_distill.utils import atomic_output

#: DiT's model table (facebookresearch/DiT ``models.py``): hidden size -> attention heads.
DIT_HEADS = {384: 6, 768: 12, 1024: 16, 1152: 16}


@dataclass(frozen=True)
class ExpectedWeights:
    """The architectures the weights must have: DiT and VAE configuration keys, and the CLIP open_clip config."""

    name: str
    dit: dict[str, Any]
    vae: dict[str, Any]
    clip: dict[str, Any]  # open_clip model config: embed_dim, quick_gelu, vision_cfg, text_cfg
    clip_name: str = ""

    @classmethod
    def paper(cls) -> ExpectedWeights:
        """DiT-XL/2-512, the Stable Diffusion VAE and OpenAI's CLIP ViT-B/32 (QuickGELU): the authors' weights."""
        import open_clip

        from basicsr_distill.distillation.clustering import DEFAULT_CLIP_MODEL
        from basicsr_distill.distillation.dit import DIT_XL_2_512, SD_VAE

        clip = open_clip.get_model_config(DEFAULT_CLIP_MODEL)
        return cls("DiT-XL/2-512, SD VAE, CLIP ViT-B/32 (OpenAI, QuickGELU)", DIT_XL_2_512, SD_VAE, clip, "ViT-B/32")


@dataclass
class WeightsReport:
    """What :func:`check_weights` found: one line per fact, ``ok`` per network."""

    lines: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, line: str) -> None:
        self.lines.append(line)
        get_root_logger().info(f"weights: {line}")


# --------------------------------------------------------------------------------------------- DiT
_DIT_KEYS = ("num_layers", "patch_size", "sample_size", "in_channels", "out_channels", "num_embeds_ada_norm")


def _dit_config_differences(found: dict, expected: dict) -> list[str]:
    hidden = lambda cfg: int(cfg["num_attention_heads"]) * int(cfg["attention_head_dim"])  # noqa: E731
    differences = []
    if hidden(found) != hidden(expected):
        differences.append(f"hidden size {hidden(found)}, expected {hidden(expected)}")
    if found["num_attention_heads"] != expected["num_attention_heads"]:
        differences.append(f"{found['num_attention_heads']} heads, expected {expected['num_attention_heads']}")
    for key in _DIT_KEYS:
        if found.get(key, expected.get(key)) != expected.get(key):
            differences.append(f"{key} {found.get(key)}, expected {expected.get(key)}")
    return differences


def _meta_count(build: Any) -> int:
    with torch.device("meta"):
        model = build()
    return sum(p.numel() for p in model.parameters())


def reference_dit_count(config: dict) -> int:
    """Parameters of a DiT of ``config`` with one shared timestep/class embedder (DiT's layout), built on meta."""
    from diffusers import DiTTransformer2DModel

    from basicsr_distill.distillation.dit import tie_conditioning_embeddings

    def build() -> Any:
        model = DiTTransformer2DModel(**config)
        tie_conditioning_embeddings(model, force=True)
        return model

    return _meta_count(build)


def reference_vae_count(config: dict) -> int:
    from diffusers import AutoencoderKL

    return _meta_count(lambda: AutoencoderKL(**config))


def reference_clip_count(clip_config: dict) -> int:
    import open_clip

    return _meta_count(lambda: open_clip.CLIP(**clip_config))


def _fixed(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


def _stats(tensor: torch.Tensor, what: str) -> str:
    tensor = tensor.detach().float()
    if not torch.isfinite(tensor).all():
        raise WeightsCheckError(f"{what}: the test forward gives non-finite values (corrupt weights?)")
    return f"mean {tensor.mean().item():+.6f}, std {tensor.std().item():.6f}"


def check_dit(folder: str | os.PathLike, expected: ExpectedWeights, num_classes: int | None, report: WeightsReport):
    """Check a diffusers DiT folder or hub id (``transformer/`` + ``vae/``); return its loaded components."""
    from basicsr_distill.distillation.dit import load_dit_components

    what = "diffusers DiT (transformer/ + vae/)"
    config_path = config_file(folder, "transformer", what)
    if not config_path.is_file():
        raise WeightsCheckError(f"{folder}: no transformer/config.json (expected a diffusers DiT folder)")
    config = read_json(config_path, integers=("num_attention_heads", "attention_head_dim"))
    if differences := _dit_config_differences(config, expected.dit):
        raise WeightsCheckError(f"{config_path}: not {expected.name.split(',')[0]}: {'; '.join(differences)}")
    vae_config = config_file(folder, "vae", what)
    if not vae_config.is_file():
        raise WeightsCheckError(f"{folder}: no vae/config.json (expected a diffusers DiT folder with its VAE)")
    _check_vae_config(vae_config, expected)
    try:
        components = load_dit_components(folder)
    except (OSError, RuntimeError, ValueError) as error:
        raise WeightsCheckError(f"{folder}: the weights do not load ({first_line(error)})") from None
    transformer = components.transformer
    count, reference = sum(p.numel() for p in transformer.parameters()), reference_dit_count(expected.dit)
    if count != reference:
        raise WeightsCheckError(f"{folder}/transformer: {count:,} parameters, expected {reference:,}")
    report.counts["dit"] = count
    classes = int(transformer.config.num_embeds_ada_norm)
    if num_classes is not None and not 1 <= num_classes <= classes:
        raise WeightsCheckError(f"{folder}: k = {num_classes} pseudo-classes do not fit the DiT's {classes} classes")
    hidden = transformer.inner_dim
    report.add(
        f"DiT {folder}: {count:,} parameters (expected {reference:,}), hidden {hidden}, "
        f"{transformer.config.num_layers} blocks, {classes} classes + null"
        + (f", k = {num_classes} pseudo-classes" if num_classes is not None else "")
    )
    side = 2 * int(transformer.config.patch_size)
    latents = _fixed((1, int(transformer.config.in_channels), side, side))
    with torch.no_grad():
        output = transformer(latents, timestep=torch.tensor([500]), class_labels=torch.tensor([0])).sample
    report.add(f"DiT forward ({side}x{side} latent, t = 500, class 0): {_stats(output, str(folder))}")
    _check_vae_model(components.vae, f"{folder}/vae", expected, report, "vae")
    return components


def _check_vae_config(config_path: Path, expected: ExpectedWeights) -> None:
    config = read_json(config_path)
    for key in ("latent_channels", "block_out_channels", "layers_per_block"):
        if config.get(key) != expected.vae.get(key):
            found = config.get(key, "missing")
            raise WeightsCheckError(
                f"{config_path}: {key}: {found}, expected {expected.vae.get(key)} (the SD VAE of DiT)"
            )


def _check_vae_model(vae: Any, where: str, expected: ExpectedWeights, report: WeightsReport, key: str) -> None:
    count, reference = sum(p.numel() for p in vae.parameters()), reference_vae_count(expected.vae)
    if count != reference:
        raise WeightsCheckError(f"{where}: {count:,} parameters, expected {reference:,}")
    report.counts[key] = count
    factor = 2 ** (len(vae.config.block_out_channels) - 1)
    report.add(
        f"VAE {where}: {count:,} parameters (expected {reference:,}), {vae.config.latent_channels} latent "
        f"channels, x{factor}, scaling factor {vae.config.scaling_factor}"
    )
    with torch.no_grad():
        decoded = vae.decode(_fixed((1, int(vae.config.latent_channels), 4, 4), seed=1)).sample
    report.add(f"VAE decode (4x4 latent -> {decoded.shape[-1]}x{decoded.shape[-2]}): {_stats(decoded, where)}")


def check_decode_vae_folder(path: str | os.PathLike, expected: ExpectedWeights, report: WeightsReport) -> None:
    """Check a separate decoding VAE folder or hub id (``config.json`` + weights, or ``vae/``)."""
    from basicsr_distill.distillation.dit import load_vae

    config = vae_config_file(path)[0]
    if not config.is_file():
        raise WeightsCheckError(f"{path}: no VAE (expected config.json and weights, or a vae/ subfolder with them)")
    _check_vae_config(config, expected)
    try:
        vae = load_vae(path).eval()
    except (OSError, RuntimeError, ValueError) as error:
        raise WeightsCheckError(f"{path}: the VAE weights do not load ({first_line(error)})") from None
    _check_vae_model(vae, str(path), expected, report, "vae_decode")


# --------------------------------------------------------------------------------------------- CLIP
def check_clip(
    checkpoint: str | os.PathLike, model_name: str, expected: ExpectedWeights, report: WeightsReport
) -> None:
    """Check a CLIP weights file (for the open_clip model ``model_name``) or an open_clip folder."""
    import open_clip
    from open_clip.factory import load_state_dict

    from basicsr_distill.distillation.clustering import clip_activation, clip_weights_file, load_clip

    path = resolve_clip_checkpoint(checkpoint, model_name)
    if path.is_dir():
        config_path = path / "open_clip_config.json"
        config = read_json(config_path).get("model_cfg") if config_path.is_file() else None
        where = str(config_path)
    else:
        config, where = open_clip.get_model_config(model_name), f"clip_model {model_name}"
    if config is None:
        raise WeightsCheckError(f"{path}: unknown open_clip model {model_name!r} (and no open_clip_config.json)")
    want = expected.clip
    if bool(config.get("quick_gelu", False)) != bool(want.get("quick_gelu", False)):
        acts = {True: "QuickGELU", False: "GELU"}
        built, needed = acts[bool(config.get("quick_gelu", False))], acts[bool(want.get("quick_gelu", False))]
        raise WeightsCheckError(
            f"{where}: builds {built}, the expected {expected.clip_name or 'CLIP'} weights need {needed} "
            "(OpenAI's CLIP: clip_model ViT-B-32-quickgelu)"
        )
    weights = clip_weights_file(path)
    if weights.stat().st_size == 0:
        raise WeightsCheckError(f"{weights}: empty file, not a CLIP checkpoint")
    try:
        state = load_state_dict(str(weights))
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError):
        raise WeightsCheckError(
            f"{weights}: not a CLIP checkpoint (not a PyTorch or safetensors file, or truncated)"
        ) from None
    projection = state.get("visual.proj")
    if projection is None:
        raise WeightsCheckError(f"{weights}: no visual.proj tensor (not an open_clip CLIP ViT state dict)")
    width, embed = (int(size) for size in projection.shape)
    want_width, want_embed = int(want["vision_cfg"]["width"]), int(want["embed_dim"])
    if (width, embed) != (want_width, want_embed):
        raise WeightsCheckError(
            f"{weights}: CLIP embedding width {embed} (image tower {width}), expected {want_embed} ({want_width}) "
            f"for {expected.clip_name or 'the expected CLIP'}"
        )
    try:
        encoder = load_clip(path, model_name, "cpu", sha256="not computed")
    except (OSError, RuntimeError, ValueError) as error:
        raise WeightsCheckError(
            f"{path}: the CLIP weights do not load into {model_name} ({first_line(error)})"
        ) from None
    count, reference = sum(p.numel() for p in encoder.model.parameters()), reference_clip_count(want)
    if count != reference:
        raise WeightsCheckError(f"{path}: {count:,} CLIP parameters, expected {reference:,}")
    report.counts["clip"] = count
    report.add(
        f"CLIP {path}: {count:,} parameters (expected {reference:,}), embedding {embed}, "
        f"activation {clip_activation(encoder.model)}"
    )
    size = encoder.model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    with torch.no_grad():
        embedding = encoder.model.encode_image(_fixed((1, 3, size, size), seed=2))
    stats = _stats(embedding, str(path))
    report.add(f"CLIP image forward ({size}x{size}): embedding norm {embedding.norm().item():.6f}, {stats}")


# --------------------------------------------------------------------------------------------- all
def check_weights(
    dit: str | os.PathLike | None = None,
    vae_decode: str | os.PathLike | None = None,
    clip_checkpoint: str | os.PathLike | None = None,
    clip_model: str | None = None,
    num_classes: int | None = None,
    expected: ExpectedWeights | None = None,
) -> WeightsReport:
    """Check every weights file given (``None`` skips it); raise :class:`WeightsCheckError` (one line) on the
    first mismatch. Returns the report lines (parameter counts, activation, class count, test forwards)."""
    from basicsr_distill.distillation.clustering import DEFAULT_CLIP_MODEL

    expected = expected or ExpectedWeights.paper()
    report = WeightsReport()
    report.add(f"expected: {expected.name}")
    if clip_checkpoint is not None:
        check_clip(clip_checkpoint, clip_model or DEFAULT_CLIP_MODEL, expected, report)
    if dit is not None:
        check_dit(dit, expected, num_classes, report)
    if vae_decode is not None:
        check_decode_vae_folder(vae_decode, expected, report)
    return report


# --------------------------------------------------------------------------------------------- conversion
def convert_dit_checkpoint(
    checkpoint: str | os.PathLike, vae: str | os.PathLike, out_dir: str | os.PathLike, num_heads: int | None = None
) -> Path:
    """Convert a facebookresearch DiT checkpoint (``DiT-XL-2-512x512.pt``, or a training checkpoint holding
    ``ema``) into a diffusers DiT folder ``out_dir`` with ``transformer/`` and ``vae/`` (from the VAE folder ``vae``).

    The configuration is read from the tensor shapes (hidden size, depth, patch, latent size, classes, learned
    sigma); the heads (not in the weights) from DiT's model table (:data:`DIT_HEADS`) unless ``num_heads`` is
    given. Keys are renamed to diffusers'
    ``DiTTransformer2DModel`` (the q/k/v projection is split, the timestep/class embedder copied into every
    block, as diffusers stores it); DiT's fixed sin-cos ``pos_embed`` is recomputed by diffusers. LayerNorm eps is
    DiT's 1e-6. Written atomically; the result loads with strict key checking.
    """
    from diffusers import DiTTransformer2DModel

    from basicsr_distill.distillation.dit import load_vae

    state = load_torch_file(checkpoint, "DiT checkpoint")
    if isinstance(state, dict) and "ema" in state:
        state = state["ema"]  # DiT's find_model: training checkpoints keep the EMA weights under "ema"
    if not isinstance(state, dict) or "x_embedder.proj.weight" not in state:
        raise WeightsCheckError(f"{checkpoint}: not a facebookresearch DiT state dict (no x_embedder.proj.weight)")
    proj = state["x_embedder.proj.weight"]
    hidden, in_channels, patch = int(proj.shape[0]), int(proj.shape[1]), int(proj.shape[2])
    if num_heads is None and hidden not in DIT_HEADS:
        raise WeightsCheckError(f"{checkpoint}: hidden size {hidden} is none of DiT's models ({sorted(DIT_HEADS)})")
    depth = 1 + max(int(key.split(".")[1]) for key in state if key.startswith("blocks."))
    tokens = int(state["pos_embed"].shape[1]) if "pos_embed" in state else None
    if tokens is None or math.isqrt(tokens) ** 2 != tokens:
        raise WeightsCheckError(f"{checkpoint}: no square pos_embed to read the latent size from")
    heads = int(num_heads or DIT_HEADS[hidden])
    config = {
        "num_attention_heads": heads,
        "attention_head_dim": hidden // heads,
        "in_channels": in_channels,
        "out_channels": int(state["final_layer.linear.weight"].shape[0]) // (patch * patch),
        "num_layers": depth,
        "sample_size": math.isqrt(tokens) * patch,
        "patch_size": patch,
        "num_embeds_ada_norm": int(state["y_embedder.embedding_table.weight"].shape[0]) - 1,  # last row: null
        "norm_eps": 1e-6,  # DiT's LayerNorm(eps=1e-6)
    }
    converted = _dit_to_diffusers_keys(state, depth)
    transformer = DiTTransformer2DModel(**config)
    missing, unexpected = transformer.load_state_dict(converted, strict=False)
    if missing or unexpected:
        raise WeightsCheckError(
            f"{checkpoint}: conversion left {len(missing)} missing and {len(unexpected)} unexpected keys "
            f"(e.g. {(missing or unexpected)[0]})"
        )
    vae_model = load_vae(vae)
    with atomic_output(out_dir) as tmp:
        transformer.save_pretrained(str(tmp / "transformer"))
        vae_model.save_pretrained(str(tmp / "vae"))
    get_root_logger().info(f"converted {checkpoint} ({hidden} hidden, {depth} blocks) + VAE {vae} -> {out_dir}")
    return Path(out_dir)


def _dit_to_diffusers_keys(state: dict[str, torch.Tensor], depth: int) -> dict[str, torch.Tensor]:
    """facebookresearch DiT key names -> diffusers ``DiTTransformer2DModel`` key names."""
    out = {
        "pos_embed.proj.weight": state["x_embedder.proj.weight"],
        "pos_embed.proj.bias": state["x_embedder.proj.bias"],
        "proj_out_1.weight": state["final_layer.adaLN_modulation.1.weight"],
        "proj_out_1.bias": state["final_layer.adaLN_modulation.1.bias"],
        "proj_out_2.weight": state["final_layer.linear.weight"],
        "proj_out_2.bias": state["final_layer.linear.bias"],
    }
    for i in range(depth):
        block, src = f"transformer_blocks.{i}", f"blocks.{i}"
        for part in ("weight", "bias"):
            emb = f"{block}.norm1.emb"
            out[f"{emb}.timestep_embedder.linear_1.{part}"] = state[f"t_embedder.mlp.0.{part}"]
            out[f"{emb}.timestep_embedder.linear_2.{part}"] = state[f"t_embedder.mlp.2.{part}"]
            out[f"{block}.norm1.linear.{part}"] = state[f"{src}.adaLN_modulation.1.{part}"]
            q, k, v = state[f"{src}.attn.qkv.{part}"].chunk(3, dim=0)
            out[f"{block}.attn1.to_q.{part}"], out[f"{block}.attn1.to_k.{part}"] = q, k
            out[f"{block}.attn1.to_v.{part}"] = v
            out[f"{block}.attn1.to_out.0.{part}"] = state[f"{src}.attn.proj.{part}"]
            out[f"{block}.ff.net.0.proj.{part}"] = state[f"{src}.mlp.fc1.{part}"]
            out[f"{block}.ff.net.2.{part}"] = state[f"{src}.mlp.fc2.{part}"]
        out[f"{block}.norm1.emb.class_embedder.embedding_table.weight"] = state["y_embedder.embedding_table.weight"]
    return {key: value.clone() for key, value in out.items()}


__all__ = [
    "ExpectedWeights",
    "WeightsCheckError",
    "WeightsReport",
    "check_weights",
    "convert_dit_checkpoint",
]
