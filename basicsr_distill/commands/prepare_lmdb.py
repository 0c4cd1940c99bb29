"""Pack folders of images into BasicSR-format LMDBs (data.mdb + meta_info.txt), one ``<folder>.lmdb`` each.

Runs :func:`basicsr_distill.preparation.lmdb_creation.create_lmdb`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

EPILOG = """\
example (DIV2K sub-images, BasicSR layout):
  basicsr-distill prepare lmdb datasets/DIV2K/DIV2K_train_HR_sub \\
      datasets/DIV2K/DIV2K_train_LR_bicubic_X2_sub datasets/DIV2K/DIV2K_train_LR_bicubic_X4_sub
  -> datasets/DIV2K/DIV2K_train_HR_sub.lmdb, ..._X2_sub.lmdb, ..._X4_sub.lmdb (keys 0001_s001, ...), which
     BasicSR's PairedImageDataset reads with io_backend: {type: lmdb}. With several inputs, every LMDB must hold
     the same keys as the first (GT/LQ pairs), checked before any is built; --no-pair-check skips that check.

Each LMDB is written to a temporary folder and renamed when complete; re-running with the same arguments
does nothing; an LMDB made with other arguments is refused unless --overwrite.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from basicsr_distill.cli import add_job_arguments

    parser.add_argument("folders", type=Path, nargs="*", help="image folder(s)")
    parser.add_argument("--input", type=Path, nargs="+", default=[], help="image folder(s), same as the positionals")
    parser.add_argument("--output", type=Path, help="LMDB path ending in .lmdb (one input only; default <input>.lmdb)")
    add_job_arguments(parser, compress_level=1, overwrite_help="replace LMDBs made with other arguments")
    parser.add_argument("--no-pair-check", action="store_true", help="do not require equal key sets across inputs")


def run(args: argparse.Namespace) -> None:
    from basicsr_distill.cli import show_info_logs
    from basicsr_distill.preparation.lmdb_creation import check_paired_folders, create_lmdb

    folders = args.folders + args.input
    if not folders:
        raise ValueError("--input: give at least one image folder")
    if args.output is not None and len(folders) != 1:
        raise ValueError("--output: needs exactly one input folder")
    show_info_logs()
    if not args.no_pair_check:
        check_paired_folders(folders)  # before building: a mismatch leaves no LMDB behind
    for folder in folders:
        create_lmdb(folder, args.output, args.compress_level, args.workers, args.overwrite)
