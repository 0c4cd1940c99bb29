"""The ``idc`` synthesis method: instance data condensation of Peng, Kwan, Jiang, Gao, Zhang, Xu, Liu, Bull, "Instance
Data Condensation for Image Super-Resolution" (arXiv 2505.21099), from one YAML (``options/distill/idc_*.yml``).

Sections: ``data`` (the HR training images: a folder, cut into patches here, or a sub-image LMDB pair whose keys
``<image>_s<NNN>`` group the patches by image), ``teacher`` (a registered BasicSR arch with a checkpoint; without
one, the shipped Y-channel scorer of the arch; default: FSRCNN), ``condense``
(:class:`~basicsr_distill.distillation.idc.condense.CondenseConfig`; defaults: ``idc_div2k.yml``'s). Everything,
the teacher included, is checked before anything is created; the one stage ``condense`` writes
``<root>/condense_x<scale>/`` (resumable per image, :mod:`basicsr_distill.distillation.idc`) and
``<root>/record.json``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from basicsr_distill.synthesis import (
    SYNTHESIS_METHODS,
    SynthesisMethod,
    build_config,
    check_type,
    method_logger,
    section,
    write_record,
)

__all__ = ["IDC", "IDCData", "IDCTeacher"]

STAGE = "condense"


def stage_folder(root: Path, scale: int) -> Path:
    """The condensation's folder under the YAML's ``root``."""
    return root / f"{STAGE}_x{scale}"


@dataclass(frozen=True)
class IDCData:
    """YAML section ``data``: the HR training images and the colour space the teacher and the learner use."""

    dataroot_gt: str
    dataroot_lq: str | None = None  # with an LMDB dataroot_gt: its LR sub-images (same keys); ~: MATLAB bicubic
    scale: int = 2
    color: Literal["y", "rgb"] = "y"
    patch_size: int = 96  # with a folder: HR patches of each image, every `step` pixels (BasicSR's positions)
    step: int = 48

    def __post_init__(self) -> None:
        if self.scale < 1 or self.patch_size < 1 or self.step < 1:
            raise ValueError(
                f"scale, patch_size and step must be >= 1, got {self.scale}, {self.patch_size}, {self.step}"
            )

    @property
    def is_lmdb(self) -> bool:
        return Path(self.dataroot_gt).suffix == ".lmdb"


@dataclass(frozen=True)
class IDCTeacher:
    """YAML section ``teacher``."""

    arch: str = "FSRCNN"
    checkpoint: str | None = None  # ~: the shipped <arch>_Y_x<scale>.pth
    arch_args: dict | None = None  # network options over the checkpoint's recorded network_g
    param_key: str | None = None
    feature_layer: str | None = None  # ~: the input of the network's last layer


@SYNTHESIS_METHODS.register()
class IDC(SynthesisMethod):
    """``method: idc``: condense every training image's patches at ratio ``r`` with a teacher."""

    name = "idc"
    summary = "instance data condensation, Peng et al. 2025: r x N synthetic LR patches per image, HR by a teacher"
    stages = (STAGE,)
    keys = frozenset({"name", "root", "device", "workers", "data", "teacher", "condense"})
    scale_key = ("data", "scale")
    subimage_keys = (("data", "dataroot_gt"), ("data", "dataroot_lq"))

    def __init__(self, options: dict[str, Any], source: str) -> None:
        from basicsr_distill.distillation.idc.condense import CondenseConfig
        from basicsr_distill.training.validation import OptionsError

        super().__init__(options, source)
        for key in ("name", "root"):
            if not options.get(key):
                raise OptionsError(source, key, "required")
            check_type(options[key], str, source, key)
        self.device = check_type(options.get("device", "cpu"), str, source, "device")
        self.workers = check_type(options.get("workers", 1), int, source, "workers")
        if self.workers < 1 or (self.workers > 1 and self.device != "cpu"):
            raise OptionsError(source, "workers", f"{self.workers}: must be >= 1, and 1 unless device: cpu")
        self.data = build_config(IDCData, section(options, "data", source), source, "data")
        teacher = section(options, "teacher", source, required=False)
        self.teacher_options = build_config(IDCTeacher, teacher, source, "teacher")
        condense = section(options, "condense", source, required=False)
        self.config = build_config(CondenseConfig, condense, source, "condense")
        self.root = Path(options["root"])
        self.patches = self._patches()
        self.teacher = self._teacher()

    @property
    def folder(self) -> Path:
        return stage_folder(self.root, self.data.scale)

    @classmethod
    def training_pair(cls, options: dict[str, Any]) -> tuple[Path, Path]:
        from basicsr_distill.distillation.idc.condense import HR_LMDB, lr_lmdb_name

        scale = (options.get("data") or {}).get("scale", IDCData.scale)
        folder = stage_folder(Path(options["root"]), scale)
        return folder / HR_LMDB, folder / lr_lmdb_name(scale)

    def _patches(self) -> Any:
        """The data source, checked: complete, paired, of the data's scale, every image with a patch."""
        from basicsr_distill.distillation.idc.data import FolderPatches, LmdbPatches
        from basicsr_distill.jobs.manifests import require_complete
        from basicsr_distill.preparation.lmdb_io import read_lmdb_meta
        from basicsr_distill.training.validation import OptionsError

        data, source = self.data, self.source
        try:
            require_complete(data.dataroot_gt, "HR training images")
            if not data.is_lmdb:
                if data.dataroot_lq is not None:
                    raise OptionsError(
                        source, "data.dataroot_lq", "only with an LMDB dataroot_gt (a folder's LR is made)"
                    )
                patches = FolderPatches(data.dataroot_gt, data.scale, data.patch_size, data.step)
                if not patches.images:
                    raise OptionsError(source, "data.dataroot_gt", f"{data.dataroot_gt}: no images")
            else:
                if data.dataroot_lq is not None:
                    require_complete(data.dataroot_lq, "LR training sub-images")
                patches = LmdbPatches(data.dataroot_gt, data.dataroot_lq, data.scale)
                if data.dataroot_lq is not None:
                    lr_shapes = {entry.key: entry.shape for entry in read_lmdb_meta(data.dataroot_lq)}
                    for entry in read_lmdb_meta(data.dataroot_gt):
                        low = lr_shapes[entry.key]
                        if (low[0] * data.scale, low[1] * data.scale) != entry.shape[:2]:
                            raise OptionsError(
                                source,
                                "data.scale",
                                f"{entry.key}: HR {entry.shape[1]}x{entry.shape[0]} is not x{data.scale} of LR "
                                f"{low[1]}x{low[0]} in {data.dataroot_lq}",
                            )
        except OptionsError:
            raise
        except (ValueError, FileNotFoundError) as error:
            raise OptionsError(source, "data.dataroot_gt", str(error)) from None
        empty = [image for image, count in patches.patch_counts().items() if count == 0]
        if empty:
            raise OptionsError(
                source,
                "data.patch_size",
                f"{len(empty)} image(s) smaller than the {data.patch_size}x{data.patch_size} patch have no patch, "
                f"e.g. {empty[0]} in {data.dataroot_gt}",
            )
        return patches

    def _teacher(self) -> Any:
        from basicsr_distill.distillation.idc.teacher import load_teacher
        from basicsr_distill.training.validation import OptionsError

        options, source = self.teacher_options, self.source
        key = "teacher.checkpoint" if options.checkpoint is not None else "teacher.arch"
        try:
            teacher = load_teacher(
                options.arch,
                self.data.scale,
                options.checkpoint,
                options.arch_args,
                options.param_key,
                options.feature_layer,
            )
        except (ValueError, FileNotFoundError) as error:
            raise OptionsError(source, key, str(error)) from None
        expected = 1 if self.data.color == "y" else 3
        if teacher.channels != expected:
            seen = {1: "one channel (Y)", 3: "three channels (RGB)"}.get(
                teacher.channels, f"{teacher.channels} channels"
            )
            raise OptionsError(
                source, key, f"the {options.arch} teacher reads {seen}, the data is color: {self.data.color}"
            )
        smallest = self.data.patch_size // self.data.scale
        if self.data.is_lmdb:
            from basicsr_distill.preparation.lmdb_io import read_lmdb_meta

            smallest = min(min(entry.shape[:2]) for entry in read_lmdb_meta(self.data.dataroot_gt)) // self.data.scale
        if smallest < self.config.kernel_size:
            raise OptionsError(
                source, "condense.kernel_size", f"{self.config.kernel_size} exceeds the smallest LR patch ({smallest})"
            )
        return teacher

    def _inputs(self) -> dict[str, Any]:
        """What identifies the data (a rerun on other data is refused)."""
        from basicsr_distill.distillation.export import lmdb_output
        from basicsr_distill.jobs.manifests import sha256_files

        def identity(path: str) -> dict[str, str]:
            if Path(path).suffix == ".lmdb":
                return lmdb_output(path)
            files = sorted(str(file) for file in self.patches.files.values())
            return {"path": path, "sha256": sha256_files(files)}

        inputs = {"dataroot_gt": identity(self.data.dataroot_gt)}
        if self.data.dataroot_lq is not None:
            inputs["dataroot_lq"] = identity(self.data.dataroot_lq)
        return {**inputs, "scale": self.data.scale}

    def run(self, overwrite: bool = False, stages: Sequence[str] | None = None) -> dict[str, Any]:
        from basicsr_distill.distillation.idc.condense import condense
        from basicsr_distill.jobs.devices import resolve_device

        logger = method_logger(self.root, str(self.options["name"]))
        self.teacher.to(resolve_device(self.device))
        manifest = condense(
            self.patches,
            self.teacher,
            self.config,
            self.data.color,
            self.folder,
            self._inputs(),
            overwrite,
            self.workers,
        )
        record = write_record(self.root, self.options, self.source, {STAGE: manifest})
        logger.info(f"distill: {self.options['name']} (idc) done; record -> {self.root / 'record.json'}")
        return record

    def figure(self, out_png: str | os.PathLike, image: str | None = None, columns: int = 4) -> Path:
        """A figure of ``image``'s (default: the first image's) real patches next to its condensed ones, from the
        finished condensation."""
        from basicsr_distill.distillation.idc.condense import WORK_DIR, condensed_patches
        from basicsr_distill.distillation.idc.figure import plot_condensed
        from basicsr_distill.jobs.manifests import require_complete

        require_complete(self.folder / "manifest.json", f"the {STAGE} stage's manifest (run distill run first)")
        images = self.patches.images
        image = image or images[0]
        if image not in images:
            raise ValueError(f"--image {image}: not an image of {self.data.dataroot_gt} (e.g. {', '.join(images[:3])})")
        real = self.patches.read(image)
        lr, hr, _ = condensed_patches(self.folder / WORK_DIR / image)
        return plot_condensed(real, lr, hr, out_png, self.data.color, columns)
