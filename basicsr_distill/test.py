"""Testing entry point: BasicSR's test pipeline with this package registered (HAT/Real-ESRGAN form).

Same command line as BasicSR's ``basicsr/test.py``; ``results/`` is rooted at the directory the
command runs in. Metrics (e.g. PSNR/SSIM on the Y channel with ``crop_border = scale`` as the
option files set them) are logged per test set by BasicSR's ``SRModel.validation``.

One difference: a test set whose folder is absent is skipped with one warning naming the folder, where BasicSR
1.4.2 builds every test loader before it evaluates and so fails the whole run (a table row without Manga109 would
get no number at all). All test sets absent: one line ``error: <options>: datasets: ...``, exit 2.
"""

from __future__ import annotations

import logging
import os
from os import path as osp

import torch
from basicsr.data import build_dataloader, build_dataset
from basicsr.models import build_model
from basicsr.utils import get_env_info, get_root_logger, get_time_str, make_exp_dirs
from basicsr.utils.options import dict2str, parse_options

import basicsr_distill.register  # noqa: F401  (registers archs, datasets and models)
from basicsr_distill.cli import one_line_errors


def absent_test_sets(opt: dict) -> dict[str, str]:
    """``{dataset key: its first absent dataroot_gt / dataroot_lq folder}`` of the test sets in ``opt['datasets']``."""
    absent = {}
    for key, dataset_opt in opt["datasets"].items():
        for folder in (dataset_opt.get("dataroot_gt"), dataset_opt.get("dataroot_lq")):
            if folder and not osp.exists(folder):
                absent[key] = folder
                break
    return absent


def test_pipeline(root_path: str) -> None:
    """BasicSR 1.4.2's ``test_pipeline``, skipping (one warning each) the test sets whose folder is absent."""
    opt, args = parse_options(root_path, is_train=False)
    absent = absent_test_sets(opt)
    if len(absent) == len(opt["datasets"]):
        raise FileNotFoundError(f"{args.opt}: datasets: no test set folder exists ({', '.join(absent.values())})")
    torch.backends.cudnn.benchmark = True
    make_exp_dirs(opt)
    log_file = osp.join(opt["path"]["log"], f"test_{opt['name']}_{get_time_str()}.log")
    logger = get_root_logger(logger_name="basicsr", log_level=logging.INFO, log_file=log_file)
    logger.info(get_env_info())
    logger.info(dict2str(opt))
    test_loaders = []
    for key, dataset_opt in sorted(opt["datasets"].items()):
        if key in absent:
            logger.warning(f"test set {dataset_opt.get('name', key)} skipped: {absent[key]} not found")
            continue
        test_set = build_dataset(dataset_opt)
        test_loader = build_dataloader(
            test_set, dataset_opt, num_gpu=opt["num_gpu"], dist=opt["dist"], sampler=None, seed=opt["manual_seed"]
        )
        logger.info(f"Number of test images in {dataset_opt['name']}: {len(test_set)}")
        test_loaders.append(test_loader)
    model = build_model(opt)
    for test_loader in test_loaders:
        logger.info(f"Testing {test_loader.dataset.opt['name']}...")
        model.validation(test_loader, current_iter=opt["name"], tb_logger=None, save_img=opt["val"]["save_img"])


@one_line_errors
def main(root_path: str | None = None) -> None:
    """Run the test pipeline rooted at ``root_path`` (default: the current directory)."""
    test_pipeline(root_path or os.getcwd())


if __name__ == "__main__":
    main()
