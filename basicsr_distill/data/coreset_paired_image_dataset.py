"""``CoreSetPairedImageDataset``: BasicSR's paired dataset restricted to a core-set chosen in the YAML.

Trains on a core-set (Moser, Raue, Dengel 2024) of a full LMDB or folder dataset without copying it: a
``coreset:`` block with the keys of ``scripts/select_coreset.py`` (``scores`` + ``strategy``/``ratio``/...
or ``keep_list``), selected by :func:`basicsr_distill.selection.coreset.coreset_from_options`. Example and
details: ``docs/design.md``.
"""

from __future__ import annotations

import os

from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.utils import get_root_logger
from basicsr.utils.registry import DATASET_REGISTRY

from basicsr_distill.jobs.manifests import require_complete
from basicsr_distill.selection.coreset import CoreSet, coreset_from_options


def _name(gt_path: str) -> str:
    """The sub-image name of a BasicSR path entry: an LMDB key, or a file name without extension."""
    return os.path.splitext(os.path.basename(gt_path))[0]


@DATASET_REGISTRY.register()
class CoreSetPairedImageDataset(PairedImageDataset):
    """A :class:`~basicsr.data.paired_image_dataset.PairedImageDataset` keeping only a core-set.

    Args:
        opt (dict): ``PairedImageDataset``'s options plus ``coreset`` (a mapping; see the module
            docstring). Works with the ``lmdb`` and ``disk`` backends, and with ``meta_info_file``.
    """

    def __init__(self, opt: dict) -> None:
        for key in ("dataroot_gt", "dataroot_lq"):  # a stopped extraction or LMDB build is refused by name
            if opt.get(key):
                require_complete(opt[key], key)
        super().__init__(opt)
        if not opt.get("coreset"):
            raise ValueError(f"{type(self).__name__} '{opt.get('name')}': the 'coreset' option is missing or empty")
        by_name = {_name(entry["gt_path"]): entry for entry in self.paths}
        try:
            self.coreset: CoreSet = coreset_from_options(
                opt["coreset"], by_name, image_root=self.gt_folder, scale=opt.get("scale")
            )
        except (ValueError, FileNotFoundError) as error:  # one line naming the YAML block
            raise type(error)(f"coreset: {error}") from error
        self.paths = [by_name[name] for name in self.coreset.names]
        get_root_logger().info(f"{type(self).__name__} '{opt.get('name')}': {self.coreset.summary()}")
