"""Pack folders of images into BasicSR-format LMDBs (data.mdb + meta_info.txt), one ``<folder>.lmdb`` each.

Thin wrapper over :func:`basicsr_distill.preparation.lmdb_creation.create_lmdb`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from basicsr_distill.cli import one_line_errors, show_info_logs
from basicsr_distill.preparation.lmdb_creation import check_paired_folders, create_lmdb
from basicsr_distill.preparation.resume import add_job_arguments

EPILOG = """\
example (DIV2K sub-images, BasicSR layout):
  python scripts/create_lmdb.py datasets/DIV2K/DIV2K_train_HR_sub \\
      datasets/DIV2K/DIV2K_train_LR_bicubic_X2_sub datasets/DIV2K/DIV2K_train_LR_bicubic_X4_sub
  -> datasets/DIV2K/DIV2K_train_HR_sub.lmdb, ..._X2_sub.lmdb, ..._X4_sub.lmdb (keys 0001_s001, ...), which
     BasicSR's PairedImageDataset reads with io_backend: {type: lmdb}. With several inputs, every LMDB must hold
     the same keys as the first (GT/LQ pairs), checked before any is built; --no-pair-check skips that check.

Each LMDB is written to a temporary folder and renamed when complete; re-running with the same arguments
does nothing; an LMDB made with other arguments is refused unless --overwrite.
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("folders", type=Path, nargs="*", help="image folder(s)")
    parser.add_argument("--input", type=Path, nargs="+", default=[], help="image folder(s), same as the positionals")
    parser.add_argument("--output", type=Path, help="LMDB path ending in .lmdb (one input only; default <input>.lmdb)")
    add_job_arguments(parser, compress_level=1, overwrite_help="replace LMDBs made with other arguments")
    parser.add_argument("--no-pair-check", action="store_true", help="do not require equal key sets across inputs")
    args = parser.parse_args(argv)
    args.input = args.folders + args.input
    if not args.input:
        parser.error("give at least one image folder")
    if args.output is not None and len(args.input) != 1:
        parser.error("--output needs exactly one --input")
    return args


@one_line_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    show_info_logs()
    if not args.no_pair_check:
        check_paired_folders(args.input)  # before building: a mismatch leaves no LMDB behind
    for folder in args.input:
        create_lmdb(folder, args.output, args.compress_level, args.workers, args.overwrite)


if __name__ == "__main__":
    main()
