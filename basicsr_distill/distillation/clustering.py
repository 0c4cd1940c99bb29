"""Step 2 of Cho, Jung, Cho, Soh (IEEE SPL 2025, Sec. II-A): CLIP pseudo-classes for the high-gradient patches.

Each patch is embedded with CLIP ViT-B/32 (Radford et al. 2021) and the embeddings are clustered with k-means
(k = 7 on OST, 14 on DIV2K); the cluster id is the patch's class for the class-conditional DiT. Outputs:
``labels.csv``, ``clusters.json``, ``embeddings.npy``, ``manifest.json``. Deviations: ``docs/design.md``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from basicsr.utils import get_root_logger
from PIL import Image
from sklearn.cluster import KMeans
from tqdm import tqdm

from basicsr_distill.distillation.configs import DEFAULT_CLIP_MODEL, ClusterConfig
from basicsr_distill.distillation.patches import PATCHES_CSV, read_patch_csv
from basicsr_distill.jobs.devices import resolve_device
from basicsr_distill.jobs.manifests import require_complete, write_json
from basicsr_distill.jobs.stage_dir import StageDir
from basicsr_distill.preparation.image_io import list_images, read_image
from basicsr_distill.utils import atomic_output, sha256_file

LABELS_CSV = "labels.csv"
CLUSTERS_JSON = "clusters.json"
EMBEDDINGS = "embeddings.npy"

#: A small open_clip model configuration (ViT, 32x32 input) for runs without pretrained weights.
TINY_CLIP_CONFIG: dict[str, Any] = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 8, "vocab_size": 1000, "width": 32, "heads": 2, "layers": 1},
}


class TooFewPatchesError(ValueError):
    """Fewer patches (or distinct embeddings) than clusters."""


@dataclass
class ClipEncoder:
    """An open_clip model in eval mode, its evaluation transform, and what the record says about it."""

    model: torch.nn.Module
    preprocess: Any
    info: dict[str, Any]


@dataclass
class ClusterResult:
    out_dir: Path
    labels_csv: Path
    names: list[str]
    labels: np.ndarray
    counts: list[int]
    inertia: float
    random_weights: bool


def clip_weights_file(checkpoint: str | os.PathLike) -> Path:
    """The weights file of a CLIP ``checkpoint`` (a file, or an open_clip folder), with clear errors."""
    path = Path(checkpoint)
    if path.is_file():
        return path
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such CLIP checkpoint file or open_clip folder")
    if not (path / "open_clip_config.json").is_file():
        raise FileNotFoundError(f"{path}: an open_clip folder needs open_clip_config.json")
    from open_clip.factory import _find_checkpoint_in_dir

    weights = _find_checkpoint_in_dir(path)
    if weights is None:
        raise FileNotFoundError(f"{path}: no weights file (*.safetensors, *.bin, *.pth) in the open_clip folder")
    return Path(weights)


def load_clip(
    checkpoint: str | os.PathLike | None,
    model_name: str = DEFAULT_CLIP_MODEL,
    device: str = "cpu",
    seed: int = 0,
    sha256: str | None = None,
) -> ClipEncoder:
    """Build the CLIP image encoder.

    ``checkpoint`` is a weights file for the open_clip model ``model_name`` (``ViT-B-32-quickgelu`` for
    OpenAI's weights, as the authors'; ``ViT-B-32`` for GELU-trained ones such as LAION's), an open_clip
    folder (``open_clip_config.json`` plus weights), a hub id (``hf-hub:org/name``) or a pretrained tag of
    ``model_name`` (``openai``), found by open_clip in the Hugging Face cache
    (:func:`~basicsr_distill.distillation.sources.resolve_clip_checkpoint`). ``None`` gives the tiny
    random :data:`TINY_CLIP_CONFIG` model, initialised from ``seed``, with a ``RANDOM WEIGHTS`` warning.
    """
    import open_clip

    logger = get_root_logger()
    if checkpoint is None:
        logger.warning(
            "RANDOM WEIGHTS: no CLIP checkpoint given; using a tiny randomly initialised open_clip ViT "
            "(its pseudo-classes are meaningless; pass a ViT-B/32 checkpoint for real runs)"
        )
        with tempfile.TemporaryDirectory() as folder, torch.random.fork_rng(devices=[]):
            Path(folder, "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP_CONFIG}))
            torch.manual_seed(seed)
            model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{folder}", device=device)
        info = {"model": "tiny-random", "config": TINY_CLIP_CONFIG, "checkpoint": None, "sha256": None}
        info["random_weights"] = True
    else:
        from basicsr_distill.distillation.sources import resolve_clip_checkpoint

        checkpoint = resolve_clip_checkpoint(checkpoint, model_name)  # a local path, a hub id or a pretrained tag
        weights = clip_weights_file(checkpoint)
        name, pretrained = (
            (f"local-dir:{checkpoint}", None) if Path(checkpoint).is_dir() else (model_name, str(weights))
        )
        model, _, preprocess = open_clip.create_model_and_transforms(
            name, pretrained=pretrained, device=device, require_pretrained=True
        )
        info = {"model": name, "checkpoint": str(weights), "sha256": sha256 or sha256_file(weights)}
        info["random_weights"] = False
    model.eval()
    info["embed_dim"] = int(model.visual.output_dim)
    info["activation"] = clip_activation(model)
    logger.info(f"CLIP {info['model']}: embedding width {info['embed_dim']}, activation {info['activation']}")
    return ClipEncoder(model, preprocess, info)


def clip_activation(model: torch.nn.Module) -> str:
    """Class name of the activation in the image tower's first MLP (``QuickGELU`` or ``GELU``)."""
    return type(model.visual.transformer.resblocks[0].mlp.gelu).__name__


@torch.no_grad()
def embed_images(encoder: ClipEncoder, paths: list[Path], batch_size: int = 64, normalize: bool = False) -> np.ndarray:
    """CLIP image embeddings ``(N, D)`` (float32) of the images at ``paths``, L2-normalised if ``normalize``."""
    device = next(encoder.model.parameters()).device
    chunks = []
    for start in tqdm(range(0, len(paths), batch_size), desc="clip", unit="batch"):
        images = [Image.fromarray(read_image(path)[:, :, ::-1]) for path in paths[start : start + batch_size]]
        batch = torch.stack([encoder.preprocess(image) for image in images]).to(device)
        features = encoder.model.encode_image(batch).float()
        chunks.append((F.normalize(features, dim=-1) if normalize else features).cpu())
    return torch.cat(chunks).numpy()


def kmeans(embeddings: np.ndarray, k: int, seed: int, n_init: int | str) -> tuple[np.ndarray, float]:
    """scikit-learn k-means (float64): ``(labels, inertia)``; refuses when fewer distinct points than ``k``."""
    data = np.asarray(embeddings, dtype=np.float64)
    if len(data) < k:
        raise TooFewPatchesError(f"{len(data)} patches for k = {k} clusters: need at least k patches")
    distinct = len(np.unique(data, axis=0))
    if distinct < k:
        raise TooFewPatchesError(f"only {distinct} distinct embeddings among {len(data)} patches for k = {k} clusters")
    model = KMeans(n_clusters=k, random_state=seed, n_init=n_init).fit(data)
    return model.labels_.astype(np.int64), float(model.inertia_)


def patch_files(patch_dir: str | os.PathLike) -> list[Path]:
    """The patches to cluster: the rows of ``patches.csv`` when there is one, else every image in the folder."""
    patch_dir = require_complete(patch_dir, "patch folder")
    if (patch_dir / PATCHES_CSV).is_file():
        paths = [patch_dir / row["name"] for row in read_patch_csv(patch_dir / PATCHES_CSV)]
        missing = [path.name for path in paths if not path.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{patch_dir}: {len(missing)} patches listed in {PATCHES_CSV} are missing, e.g. {missing[0]}"
            )
        return paths
    return list_images(patch_dir)


def write_labels(path: Path, names: list[str], labels: np.ndarray) -> None:
    """Write ``labels.csv`` (``name,label``) atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["name", "label"])
    writer.writerows(zip(names, labels.tolist()))
    with atomic_output(path) as tmp:
        tmp.write_text(buffer.getvalue())


def read_labels(path: str | os.PathLike) -> dict[str, int]:
    """``labels.csv`` as ``{name: label}``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no labels file (run the clustering first)")
    with open(path, newline="") as handle:
        return {row["name"]: int(row["label"]) for row in csv.DictReader(handle)}


def cluster_patches(
    patch_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    config: ClusterConfig | None = None,
    overwrite: bool = False,
) -> ClusterResult:
    """Embed the patches of ``patch_dir`` with CLIP, k-means them and write the labels to ``out_dir``.

    Returns at once when ``out_dir`` holds the finished result of the same parameters and inputs.

    Raises:
        TooFewPatchesError: fewer patches (or distinct embeddings) than ``config.k``.
        StageParamsError: ``out_dir`` holds outputs of other parameters (pass ``overwrite=True``).
    """
    config = config or ClusterConfig()
    logger = get_root_logger()
    paths = patch_files(patch_dir)
    names = [path.name for path in paths]
    if len(paths) < config.k:
        raise TooFewPatchesError(
            f"{patch_dir}: {len(paths)} kept patches for k = {config.k} clusters; need at least k "
            "(lower k, or raise the PSNR threshold / add images in the patch selection)"
        )
    csv_path = Path(patch_dir) / PATCHES_CSV
    source = {"path": str(csv_path), "sha256": sha256_file(csv_path)} if csv_path.is_file() else {"names": names}
    weights_sha = sha256_file(clip_weights_file(config.clip_checkpoint)) if config.clip_checkpoint else None
    inputs = {"patches": source, "clip_checkpoint_sha256": weights_sha}
    with StageDir(out_dir, "cluster", asdict(config), inputs, overwrite) as stage:
        if (manifest := stage.finished()) is not None:
            logger.info(f"cluster: {stage.path} is complete for these parameters; reusing it")
            labels_csv = stage.path / LABELS_CSV
            labels = read_labels(labels_csv)
            summary = manifest["summary"]
            return ClusterResult(
                stage.path,
                labels_csv,
                list(labels),
                np.array(list(labels.values())),
                summary["counts"],
                summary["inertia"],
                manifest["random_weights"],
            )
        stage.begin()
        device = resolve_device(config.device)
        encoder = load_clip(config.clip_checkpoint, config.clip_model, str(device), config.seed, weights_sha)
        logger.info(f"cluster: embedding {len(paths)} patches with CLIP {encoder.info['model']} on {device}")
        embeddings = embed_images(encoder, paths, config.batch_size, config.normalize)
        labels, inertia = kmeans(embeddings, config.k, config.seed, config.n_init)
        counts = np.bincount(labels, minlength=config.k).tolist()
        labels_csv = stage.path / LABELS_CSV
        write_labels(labels_csv, names, labels)
        with atomic_output(stage.path / EMBEDDINGS) as tmp, open(tmp, "wb") as handle:
            np.save(handle, embeddings)
        clusters = {
            "k": config.k,
            "seed": config.seed,
            "n_init": config.n_init,
            "patches": len(names),
            "counts": counts,
            "inertia": inertia,
            "embeddings": "CLIP image embeddings, " + ("L2-normalised" if config.normalize else "raw"),
            "clip": encoder.info,
            "random_weights": encoder.info["random_weights"],
            "sklearn": sklearn.__version__,
        }
        write_json(stage.path / CLUSTERS_JSON, clusters)
        outputs = {
            name: {"path": str(stage.path / name), "sha256": sha256_file(stage.path / name)}
            for name in (LABELS_CSV, CLUSTERS_JSON)
        }
        summary = {"patches": len(names), "counts": counts, "inertia": inertia}
        stage.finish(outputs, summary, random_weights=encoder.info["random_weights"], clip=encoder.info)
        logger.info(f"cluster: k = {config.k}, patches per class {counts}, inertia {inertia:.4f} -> {labels_csv}")
        return ClusterResult(stage.path, labels_csv, names, labels, counts, inertia, encoder.info["random_weights"])


__all__ = [
    "DEFAULT_CLIP_MODEL",
    "TINY_CLIP_CONFIG",
    "ClipEncoder",
    "ClusterConfig",
    "ClusterResult",
    "TooFewPatchesError",
    "clip_activation",
    "cluster_patches",
    "embed_images",
    "kmeans",
    "load_clip",
    "read_labels",
]
