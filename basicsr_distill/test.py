"""Testing entry point: BasicSR's test pipeline with this package registered (HAT/Real-ESRGAN form).

Same command line as BasicSR's ``basicsr/test.py``; ``results/`` is rooted at the directory the
command runs in. Metrics (e.g. PSNR/SSIM on the Y channel with ``crop_border = scale`` as the
option files set them) are logged per test set by BasicSR's ``SRModel.validation``.

Differences from BasicSR 1.4.2's ``test_pipeline``:

* a test set whose folder is absent is skipped with one warning naming the folder, where BasicSR builds every
  test loader before it evaluates and so fails the whole run (a table row without Manga109 would get no number at
  all); all test sets absent: one line ``error: <options>: datasets: ...``, exit 2;
* the training entry's options contract (:mod:`basicsr_distill.training.pipeline`): the option file read,
  ``--force_yml`` applied, the options checked, the test sets and the model built before BasicSR prints its
  banner or creates ``results/<name>``, so a bad file or option is one line and leaves no folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from os import path as osp

import torch
from basicsr.data import build_dataloader
from basicsr.models import build_model
from basicsr.utils import get_root_logger, make_exp_dirs
from basicsr.utils.options import parse_options

import basicsr_distill.register  # noqa: F401  (registers archs, datasets and models)
from basicsr_distill.cli import USER_ERRORS, one_line_errors
from basicsr_distill.training.data import named_build_dataset
from basicsr_distill.training.pipeline import HeldOutput, command_line, located_message, read_options
from basicsr_distill.training.validation import OptionsError, validate_options


def absent_test_sets(opt: Mapping) -> dict[str, str]:
    """``{dataset key: its first absent dataroot_gt / dataroot_lq folder}`` of the test sets in ``opt['datasets']``."""
    absent = {}
    for key, dataset_opt in opt["datasets"].items():
        if not isinstance(dataset_opt, Mapping):
            continue
        for folder in (dataset_opt.get("dataroot_gt"), dataset_opt.get("dataroot_lq")):
            if isinstance(folder, str) and folder and not osp.exists(osp.expanduser(folder)):
                absent[key] = folder
                break
    return absent


def check_test_options(options: dict, opt_path: str) -> dict[str, str]:
    """The test options checked as the training entry checks its own (``val.save_img`` too, which BasicSR's test
    reads), the test sets whose folder is absent left out; returns those."""
    datasets = options.get("datasets")
    absent = absent_test_sets(options) if isinstance(datasets, Mapping) else {}
    if absent and len(absent) == len(datasets):
        raise FileNotFoundError(f"{opt_path}: datasets: no test set folder exists ({', '.join(absent.values())})")
    present = {key: value for key, value in datasets.items() if key not in absent} if absent else datasets
    validate_options({**options, "datasets": present, "is_train": False}, opt_path)
    if not isinstance(options.get("val"), Mapping) or "save_img" not in options["val"]:
        raise OptionsError(opt_path, "val", "must be a mapping with save_img (and the metrics) for testing")
    return absent


def test_pipeline(root_path: str, argv: list[str] | None = None) -> None:
    """BasicSR 1.4.2's ``test_pipeline`` with the command line ``argv`` (default ``sys.argv``), skipping (one warning
    each) the test sets whose folder is absent; nothing printed or created before the options, test sets and model
    are checked and built."""
    with command_line(argv):
        held = HeldOutput()
        with held.holding():
            opt_path, options = read_options(is_train=False)
            absent = check_test_options(options, opt_path)
            opt, _ = parse_options(root_path, is_train=False)
            torch.backends.cudnn.benchmark = True
            try:
                test_loaders = build_test_loaders(opt, absent)
                model = build_model(opt)
            except USER_ERRORS as error:
                raise ValueError(located_message(error, opt_path)) from None
        make_exp_dirs(opt)
        logger = held.start_log(opt, "test")
        for test_loader in test_loaders:
            logger.info(f"Testing {test_loader.dataset.opt['name']}...")
            model.validation(test_loader, current_iter=opt["name"], tb_logger=None, save_img=opt["val"]["save_img"])


def build_test_loaders(opt: dict, absent: dict[str, str]) -> list:
    """BasicSR's test loaders of the present test sets (a bad dataset option names its ``datasets.<key>``)."""
    logger = get_root_logger()
    build = named_build_dataset(opt)
    test_loaders = []
    for key, dataset_opt in sorted(opt["datasets"].items()):
        if key in absent:
            logger.warning(f"test set {dataset_opt.get('name', key)} skipped: {absent[key]} not found")
            continue
        test_set = build(dataset_opt)
        test_loader = build_dataloader(
            test_set, dataset_opt, num_gpu=opt["num_gpu"], dist=opt["dist"], sampler=None, seed=opt["manual_seed"]
        )
        logger.info(f"Number of test images in {dataset_opt['name']}: {len(test_set)}")
        test_loaders.append(test_loader)
    return test_loaders


@one_line_errors
def main(root_path: str | None = None, argv: list[str] | None = None) -> None:
    """Run the test pipeline rooted at ``root_path`` (default: the current directory) with ``argv`` (default:
    ``sys.argv``); a bad option file or option ends with one line naming it, exit 2."""
    test_pipeline(root_path or os.getcwd(), argv)


if __name__ == "__main__":
    main()
