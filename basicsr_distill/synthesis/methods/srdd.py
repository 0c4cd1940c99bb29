"""The ``srdd`` synthesis method: the whole distillation of Cho, Jung, Cho, Soh, "Dataset Distillation for
Super-Resolution Without Class Labels and Pre-Trained Models" (IEEE SPL 2025, Fig. 2) from one BasicSR-style YAML,
with a record.

Stages, each in its own folder under the YAML's ``root``, each resuming from its own outputs:

1. ``patches/``: high-gradient patches, PSNR_bic < 23 dB (Sec. II-A, Eq. 1;
   :mod:`~basicsr_distill.distillation.patches`);
2. ``clusters/``: CLIP ViT-B/32 embeddings, k-means pseudo-classes (Sec. II-A;
   :mod:`~basicsr_distill.distillation.clustering`);
3. ``finetune/``: DiffFit fine-tuning of DiT-XL/2 with the minimax + SR losses (Sec. II-B, Eqs. 2-5),
   through the training layer (:func:`~basicsr_distill.training.launch.run_training` in this process, so a
   ``torchrun`` rank trains in its group; model ``DiTDiffFitModel``, dataset ``PseudoLabelPatchDataset``) with
   ``--auto_resume``, in that folder (``experiments/{name}_finetune``);
4. ``synthesize_x{s}/``: IPC images per class with 50-step CFG-4.0 sampling, HR + MATLAB-bicubic LR LMDB
   pair (Sec. II-C; :mod:`~basicsr_distill.distillation.synthesize`, written by the shared
   :mod:`~basicsr_distill.distillation.export`); one folder per scale, all from the same fine-tuning.

Before any stage, every pretrained file the requested stages will load (CLIP, DiT folder, decoding VAE) is checked
against the paper's architectures in seconds (:mod:`~basicsr_distill.distillation.weights`; ``check_weights: false``
turns it off), so a wrong file fails at once, not after hours. Under ``torchrun`` rank 0 selects and clusters the
patches while the others wait; every rank fine-tunes (DDP) and samples its share; rank 0 writes the LMDBs and the
record.

A workflow (it starts a training): the stage modules below never import it. What the stages share lives in
:mod:`basicsr_distill.jobs` (:class:`~basicsr_distill.jobs.stage_dir.StageDir`: a stage folder whose
``manifest.json`` records parameters, inputs' sha256 and outputs; a rerun with the same parameters skips a finished
stage or continues an unfinished one, other parameters or inputs are refused unless ``overwrite``). ``record.json``
in the root gathers every stage's manifest, the options (with the YAML's sha256), library versions and
``random_weights``. Heavy imports stay inside the functions: ``distill run --help`` lists the methods without loading
torch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from basicsr_distill.synthesis import (
    SYNTHESIS_METHODS,
    SynthesisMethod,
    build_config,
    check_keys,
    check_stages,
    check_type,
    load_yaml,
    method_logger,
    options_record,
    section,
)
from basicsr_distill.utils import deep_merge

if TYPE_CHECKING:  # imported where used: clustering and synthesis import sklearn, open_clip, diffusers
    from basicsr_distill.distillation.clustering import ClusterConfig
    from basicsr_distill.distillation.patches import PatchSelectionConfig
    from basicsr_distill.distillation.synthesize import SynthesisConfig

RECORD = "record.json"
STAGES = ("patches", "clusters", "finetune", "synthesize")


# ----------------------------------------------------------------------------------------------------------
# The pipeline: one YAML, four stages, one record.
# ----------------------------------------------------------------------------------------------------------

#: Keys of the pipeline YAML and of each stage section (typos are refused).
_TOP_KEYS = {"name", "root", "device", "patches", "clusters", "finetune", "synthesize", "check_weights"}
_FINETUNE_KEYS = {"opt", "force"}


@dataclass(frozen=True)
class DistillConfig:
    """The pipeline YAML, validated: stage configurations and where everything goes."""

    name: str
    root: Path
    device: str
    patches_dir: Path | list[Path]
    patch_config: PatchSelectionConfig
    patch_workers: int
    cluster_config: ClusterConfig
    finetune_opt: Path
    finetune_force: dict
    synthesis_config: SynthesisConfig
    check_weights: bool = True

    @property
    def stage_dirs(self) -> dict[str, Path]:
        """Stage folders; the synthesis one per scale (``synthesize_x4``), so x2/x4 sets share the fine-tuning."""
        dirs = {stage: self.root / stage for stage in STAGES}
        dirs["synthesize"] = self.root / f"synthesize_x{self.synthesis_config.scale}"
        return dirs


def weights_from_options(config: DistillConfig, stages: Any = None) -> dict[str, Any]:
    """The :func:`~basicsr_distill.distillation.weights.check_weights` arguments of a pipeline configuration for
    ``stages`` (here, not in :mod:`.weights`, which would otherwise import this module back).

    ``clusters`` needs the CLIP checkpoint; ``finetune`` the DiT folder (``network_g.pretrained`` of the fine-tuning
    options with ``finetune.force``) and its ``val.vae_decode``; ``synthesize`` the DiT and ``synthesize.vae_decode``.
    Random-weight entries (``~``) are left out.
    """
    wanted = set(stages or STAGES)
    needs_dit = bool(wanted & {"finetune", "synthesize"})
    opt = deep_merge(load_yaml(config.finetune_opt), config.finetune_force) if needs_dit else {}
    kwargs: dict[str, Any] = {"num_classes": config.cluster_config.k}
    if "clusters" in wanted and config.cluster_config.clip_checkpoint is not None:
        kwargs.update(
            clip_checkpoint=config.cluster_config.clip_checkpoint, clip_model=config.cluster_config.clip_model
        )
    if needs_dit:
        kwargs["dit"] = (opt.get("network_g") or {}).get("pretrained")
    decode = {
        "finetune": (opt.get("val") or {}).get("vae_decode"),
        "synthesize": config.synthesis_config.vae_decode,
    }
    paths = [decode[stage] for stage in ("synthesize", "finetune") if stage in wanted and decode[stage] is not None]
    if paths:
        if len(set(map(str, paths))) > 1:
            raise ValueError(
                f"{config.finetune_opt}: val.vae_decode {paths[1]} differs from synthesize.vae_decode {paths[0]}"
            )
        kwargs["vae_decode"] = paths[0]
    return kwargs


def parse_config(options: dict, source: str = "options") -> DistillConfig:
    """Validate a pipeline option dict (see ``options/distill/distill_*.yml``)."""
    from basicsr_distill.distillation.clustering import ClusterConfig
    from basicsr_distill.distillation.patches import PatchSelectionConfig
    from basicsr_distill.distillation.synthesize import SynthesisConfig
    from basicsr_distill.training.validation import OptionsError

    check_keys(options, SRDD, source)
    for key in ("name", "root"):
        if not options.get(key):
            raise OptionsError(source, key, "required")
    top = {"name": str, "root": str, "device": str, "check_weights": bool}
    for key, kind in top.items():
        check_type(options.get(key, kind()), kind, source, key)
    patches = section(options, "patches", source)
    if not patches.get("dataroot"):
        raise OptionsError(source, "patches.dataroot", "required (the HR image folder, or a list of folders)")
    dataroot = check_type(patches.pop("dataroot"), str | list[str], source, "patches.dataroot")
    workers = check_type(patches.pop("num_workers", 1), int, source, "patches.num_workers")
    folders = [Path(folder) for folder in dataroot] if isinstance(dataroot, list) else Path(dataroot)
    finetune = section(options, "finetune", source)
    if set(finetune) - _FINETUNE_KEYS or not finetune.get("opt"):
        raise OptionsError(source, "finetune", "needs 'opt' (a DiTDiffFitModel option file) and optionally 'force'")
    check_type(finetune["opt"], str, source, "finetune.opt")
    check_type(finetune.get("force") or {}, dict, source, "finetune.force")
    clusters = section(options, "clusters", source)
    clusters.setdefault("device", options.get("device", "auto"))
    return DistillConfig(
        name=str(options["name"]),
        root=Path(options["root"]),
        device=str(options.get("device", "auto")),
        patches_dir=folders,
        patch_config=build_config(PatchSelectionConfig, patches, source, "patches"),
        patch_workers=workers,
        cluster_config=build_config(ClusterConfig, clusters, source, "clusters"),
        finetune_opt=Path(finetune["opt"]),
        finetune_force=dict(finetune.get("force") or {}),
        synthesis_config=build_config(SynthesisConfig, section(options, "synthesize", source), source, "synthesize"),
        check_weights=bool(options.get("check_weights", True)),
    )


def finetune_options(config: DistillConfig, patch_dir: Path, labels_csv: Path, num_classes: int) -> dict:
    """The BasicSR option dict of the fine-tuning: ``finetune.opt`` + ``finetune.force``, wired to the stages.

    Every ``PseudoLabelPatchDataset`` phase reads the kept patches and the clustering's labels, the DiT
    gets ``num_classes = k`` and the experiment is named ``{name}_finetune``.
    """
    opt = deep_merge(load_yaml(config.finetune_opt), config.finetune_force)
    if opt.get("model_type") != "DiTDiffFitModel":
        raise ValueError(f"{config.finetune_opt}: model_type must be DiTDiffFitModel, got {opt.get('model_type')!r}")
    opt["name"] = f"{config.name}_finetune"
    for dataset in (opt.get("datasets") or {}).values():
        if dataset.get("type") == "PseudoLabelPatchDataset":
            dataset["dataroot_gt"], dataset["labels_csv"] = str(patch_dir.resolve()), str(labels_csv.resolve())
    opt["network_g"] = {**opt.get("network_g", {}), "num_classes": num_classes}
    return opt


def check_class_count(config: DistillConfig) -> None:
    """Refuse ``k`` larger than the DiT's class embedding, read from the fine-tuning options (no model load)."""
    from basicsr_distill.distillation.dit import TINY_TRANSFORMER

    net_opt = load_yaml(config.finetune_opt).get("network_g") or {}
    net_opt = deep_merge(net_opt, config.finetune_force.get("network_g") or {})
    pretrained = net_opt.get("pretrained")
    if pretrained is None:
        transformer = {**TINY_TRANSFORMER, **((net_opt.get("tiny") or {}).get("transformer") or {})}
    else:
        config_json = Path(pretrained) / "transformer" / "config.json"
        transformer = json.loads(config_json.read_text()) if config_json.is_file() else {}
    available = transformer.get("num_embeds_ada_norm")
    k = config.cluster_config.k
    if available is not None and k > int(available):
        raise ValueError(
            f"clusters.k = {k} classes do not fit the DiT's class embedding ({available} classes, "
            f"{pretrained or 'random weights'}): lower k"
        )


def run_finetune(opt: dict, folder: Path, overwrite: bool, inputs: dict) -> dict:
    """Stage 3: DiffFit fine-tuning through the training layer (auto-resumed); returns the manifest."""
    import torch.distributed as dist
    from basicsr.utils import get_root_logger

    from basicsr_distill.jobs.distributed import barrier, from_rank0
    from basicsr_distill.jobs.stage_dir import StageDir
    from basicsr_distill.training.launch import run_training
    from basicsr_distill.utils import sha256_file

    logger = get_root_logger()
    rank = dist.get_rank() if dist.is_initialized() else 0
    with StageDir(folder, "finetune", opt, inputs, overwrite=overwrite and rank == 0) as stage:
        manifest = stage.finished() if rank == 0 else None
        if rank == 0 and manifest is None:
            stage.begin()
        manifest = from_rank0(manifest)
        if manifest is not None:
            logger.info(f"finetune: {stage.path} is complete for these parameters; reusing it")
            return manifest
        barrier()
        run_training(opt, stage.path, option_file=stage.path / "finetune.yml", in_process=True)
        checkpoint = stage.path / "experiments" / opt["name"] / "models" / "net_g_latest.pth"
        if not checkpoint.is_file():
            raise FileNotFoundError(f"{checkpoint}: the fine-tuning finished without its final checkpoint")
        random_weights = opt["network_g"].get("pretrained") is None
        outputs = {"checkpoint": {"path": str(checkpoint), "sha256": sha256_file(checkpoint)}}
        train_opt = opt["train"]
        summary = {  # with total_epochs, the iterations are in the training log
            "total_iter": train_opt.get("total_iter"),
            "total_epochs": train_opt.get("total_epochs"),
            "experiment": str(checkpoint.parents[1]),
        }
        if rank != 0:
            return {"outputs": outputs, "summary": summary, "random_weights": random_weights}
        return stage.finish(outputs, summary, random_weights=random_weights)


def run_pipeline(
    options: dict | str | os.PathLike,
    overwrite: bool = False,
    stages: Iterable[str] | None = None,
    source: str | os.PathLike | None = None,
) -> dict:
    """Run the stages (all by default, in order) of a pipeline YAML; write and return ``record.json``.

    ``options`` is the YAML's path or its (possibly edited) dict; ``source`` names the file it came from
    (recorded with its sha256).

    Each stage skips when its folder holds its finished outputs for the same parameters and inputs,
    continues an interrupted run, and refuses outputs of other parameters unless ``overwrite``. Under
    ``torchrun``, rank 0 selects and clusters the patches while the others wait; all ranks fine-tune (DDP)
    and sample (sharded); rank 0 writes the LMDBs and the record.
    """
    from basicsr_distill.jobs.distributed import distributed_context
    from basicsr_distill.jobs.manifests import normalised_json, write_json

    source = str(source or (options if not isinstance(options, dict) else "options"))
    raw = load_yaml(options) if not isinstance(options, dict) else normalised_json(options)
    config = parse_config(raw, source)
    wanted = check_stages(SRDD, stages, source)
    _check_before_the_stages(config, wanted)
    rank = distributed_context().rank
    config.root.mkdir(parents=True, exist_ok=True)
    logger = method_logger(config.root, config.name)
    record = _load_record(config.root, raw, source)
    for stage in STAGES:  # in the pipeline's order, whatever the order asked
        if stage in wanted:
            record["stages"][stage] = _STAGE_RUNNERS[stage](config, overwrite, rank)
            record["random_weights"] = any(m.get("random_weights", False) for m in record["stages"].values())
            if rank == 0:
                write_json(config.root / RECORD, record)
    if record["random_weights"]:
        logger.warning(f"RANDOM WEIGHTS: some stages of {config.name} ran without pretrained weights (see {RECORD})")
    logger.info(f"distill: {config.name} done; record -> {config.root / RECORD}")
    return record


def _check_before_the_stages(config: DistillConfig, wanted: list[str]) -> None:
    """What can be checked in seconds before hours of work: the class count, every pretrained file to load."""
    if "finetune" in wanted:
        check_class_count(config)  # before hours of patch selection, not after
    if config.check_weights:  # every pretrained file the stages will load, before the GPU hours
        from basicsr_distill.distillation.weights import check_weights

        arguments = weights_from_options(config, wanted)
        if any(arguments.get(key) is not None for key in ("dit", "clip_checkpoint", "vae_decode")):
            check_weights(**arguments)


def _patches_stage(config: DistillConfig, overwrite: bool, rank: int) -> dict:
    """Rank 0 selects the high-gradient patches while the others wait."""
    from basicsr_distill.distillation.patches import select_patches
    from basicsr_distill.jobs.distributed import barrier

    folder = config.stage_dirs["patches"]
    if rank == 0:
        select_patches(config.patches_dir, folder, config.patch_config, config.patch_workers, overwrite)
    barrier()
    return _manifest(folder, "patches")


def _clusters_stage(config: DistillConfig, overwrite: bool, rank: int) -> dict:
    """Rank 0 clusters the patches' CLIP embeddings into pseudo-classes while the others wait."""
    from basicsr_distill.distillation.clustering import cluster_patches
    from basicsr_distill.jobs.distributed import barrier

    dirs = config.stage_dirs
    if rank == 0:
        cluster_patches(dirs["patches"], dirs["clusters"], config.cluster_config, overwrite)
    barrier()
    return _manifest(dirs["clusters"], "clusters")


def _finetune_stage(config: DistillConfig, overwrite: bool, rank: int) -> dict:
    """Every rank fine-tunes the DiT with DiffFit on the labelled patches (DDP under torchrun)."""
    from basicsr_distill.distillation.clustering import LABELS_CSV
    from basicsr_distill.utils import sha256_file

    dirs = config.stage_dirs
    labels = dirs["clusters"] / LABELS_CSV
    _manifest(dirs["clusters"], "clusters")
    opt = finetune_options(config, dirs["patches"], labels, config.cluster_config.k)
    inputs = {"labels_csv_sha256": sha256_file(labels), "base_options": str(config.finetune_opt)}
    return run_finetune(opt, dirs["finetune"], overwrite, inputs)


def _synthesize_stage(config: DistillConfig, overwrite: bool, rank: int) -> dict:
    """Every rank samples its share of the class-conditional images from the fine-tuned DiT."""
    import torch

    from basicsr_distill.distillation.synthesize import finetuned_generator, synthesize
    from basicsr_distill.jobs.devices import resolve_device
    from basicsr_distill.jobs.distributed import barrier
    from basicsr_distill.jobs.manifests import STAGE_MANIFEST

    dirs, k = config.stage_dirs, config.cluster_config.k
    finetuned = _manifest(dirs["finetune"], "finetune")
    checkpoint = finetuned["outputs"]["checkpoint"]
    network_opt, device = finetuned["params"]["network_g"], resolve_device(config.device)
    load, generator = finetuned_generator(
        network_opt,
        checkpoint["path"],
        k,
        device,
        checkpoint["sha256"],
        vae_decode=config.synthesis_config.vae_decode,
        source=f"{dirs['finetune'] / STAGE_MANIFEST}",
    )
    with torch.no_grad():
        synthesize(load, k, dirs["synthesize"], config.synthesis_config, generator, overwrite)
    barrier()
    return _manifest(dirs["synthesize"], "synthesize")


#: Each stage's runner, by the stage's name (:data:`STAGES`).
_STAGE_RUNNERS = {
    "patches": _patches_stage,
    "clusters": _clusters_stage,
    "finetune": _finetune_stage,
    "synthesize": _synthesize_stage,
}


def _manifest(folder: Path, stage: str) -> dict:
    from basicsr_distill.jobs.manifests import STAGE_MANIFEST, require_complete

    require_complete(folder, f"{stage} stage folder")  # names a started-but-unfinished stage as such
    path = folder / STAGE_MANIFEST
    if not path.is_file():
        raise FileNotFoundError(f"{folder}: the {stage} stage has not finished (no {STAGE_MANIFEST}); run it first")
    return json.loads(path.read_text())


def _load_record(root: Path, raw: dict, source: str) -> dict:
    """The existing record (stages of earlier runs are kept), refreshed with this run's options."""
    import basicsr
    import diffusers
    import open_clip
    import sklearn
    import torch

    path = root / RECORD
    record = json.loads(path.read_text()) if path.is_file() else {"stages": {}}
    record.update(
        options=options_record(raw, source),
        versions={
            "torch": torch.__version__,
            "basicsr": basicsr.__version__,
            "diffusers": diffusers.__version__,
            "open_clip": open_clip.__version__,
            "sklearn": sklearn.__version__,
        },
        random_weights=any(m.get("random_weights", False) for m in record["stages"].values()),
    )
    return record


@SYNTHESIS_METHODS.register()
class SRDD(SynthesisMethod):
    """``method: srdd`` (the default): :func:`run_pipeline` on the YAML, validated by :func:`parse_config`."""

    name = "srdd"
    summary = "dataset distillation, Cho et al. 2025: patches -> CLIP clusters -> DiT fine-tuning -> sampling"
    stages = STAGES
    keys = frozenset(_TOP_KEYS)
    scale_key = ("synthesize", "scale")

    def __init__(self, options: dict[str, Any], source: str) -> None:
        super().__init__(options, source)
        self.config = parse_config(options, source)

    def run(self, overwrite: bool = False, stages: Sequence[str] | None = None) -> dict[str, Any]:
        return run_pipeline(self.options, overwrite, stages, self.source)
