"""Data preparation: sub-images, LMDB, benchmark folders, resume, and every bad input.

Tiny self-made images only; sub-image geometry is scaled down (crop 24, step 12) from DIV2K's
480/240, with the same BasicSR arithmetic.
"""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import cv2
import lmdb
import numpy as np
import pytest
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.utils.matlab_functions import imresize
from conftest import textured_image

from basicsr_distill.preparation import subimages as subimages_module
from basicsr_distill.preparation.benchmark import prepare_benchmark
from basicsr_distill.preparation.folder_jobs import MANIFEST, PROGRESS, _bounded_ordered
from basicsr_distill.preparation.image_io import encode_png, list_images, read_image
from basicsr_distill.preparation.lmdb_creation import copy_lmdb_subset, create_lmdb
from basicsr_distill.preparation.lmdb_io import (
    LmdbReader,
    LmdbWriter,
    check_paired_keys,
    read_lmdb_image,
    read_lmdb_keys,
)
from basicsr_distill.preparation.subimages import extract_subimages, subimage_positions

REPO = Path(__file__).resolve().parents[1]
CROP, STEP = 24, 12
#: (h, w) -> sub-image count with crop 24, step 12, threshold 0, by BasicSR's arithmetic:
#: 50x70: h 0,12,24 + 26 (50-48=2 > 0) -> 4; w 0,12,24,36 + 46 (70-60=10 > 0) -> 5; 20
#: 48x48: h = w = 0,12,24 and 48-48 = 0 -> no extra window (last window on the border); 9
#: 30x40: h 0 + 6 -> 2; w 0,12 + 16 -> 3; 6
SIZES = {(50, 70): 20, (48, 48): 9, (30, 40): 6}


def matlab_bicubic(img: np.ndarray, scale: int) -> np.ndarray:
    """Reference LR: BasicSR's MATLAB imresize on [0, 1] floats, rounded to uint8."""
    return np.clip(np.round(imresize(img.astype(np.float32) / 255.0, 1 / scale) * 255), 0, 255).astype(np.uint8)


def write_images(folder: Path, sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    images = [textured_image(h, w, seed=index) for index, (h, w) in enumerate(sizes)]
    for index, img in enumerate(images):
        cv2.imwrite(str(folder / f"{index:04d}.png"), img)
    return images


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Name -> (size, mtime_ns) of every file below ``folder`` (hidden ones included)."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()
    }


@pytest.fixture
def hr_folder(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    folder = tmp_path / "HR"
    return folder, write_images(folder, list(SIZES))


# --- geometry ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("size", "count"), list(SIZES.items()))
def test_positions_follow_basicsr_arithmetic(size: tuple[int, int], count: int) -> None:
    assert len(subimage_positions(*size, CROP, STEP, 0)) == count


def test_positions_div2k_convention_and_threshold() -> None:
    # A DIV2K-sized image (2040x1356) with 480/240/0: rows 0..720 + 876, columns 0..1440 + 1560.
    positions = subimage_positions(1356, 2040, 480, 240, 0)
    assert len(positions) == 5 * 8
    assert positions[4] == (0, 960) and positions[-1] == (876, 1560)
    # thresh_size drops the border window when the remainder is not larger than it (30x40: remainders 6 and 4).
    assert len(subimage_positions(30, 40, CROP, STEP, thresh_size=6)) == 1 * 2
    assert subimage_positions(20, 40, CROP, STEP) == []


# --- extraction -------------------------------------------------------------------------------


def test_extract_counts_names_and_bicubic_lr(tmp_path: Path, hr_folder: tuple[Path, list[np.ndarray]]) -> None:
    folder, images = hr_folder
    out = tmp_path / "out" / "Train_HR_sub"
    counts = extract_subimages(folder, out, scales=(2, 3, 4), crop_size=CROP, step=STEP, workers=1)
    assert counts == {f"{i:04d}": n for i, n in enumerate(SIZES.values())}
    expected = {f"{i:04d}_s{k:03d}.png" for i, n in enumerate(SIZES.values()) for k in range(1, n + 1)}
    lr_folders = {s: tmp_path / "out" / f"Train_LR_bicubic_X{s}_sub" for s in (2, 3, 4)}
    for sub_folder in (out, *lr_folders.values()):
        assert {p.name for p in list_images(sub_folder)} == expected
    for index, img in enumerate(images):
        positions = subimage_positions(*img.shape[:2], CROP, STEP)
        for k, (x, y) in enumerate(positions, 1):
            name = f"{index:04d}_s{k:03d}.png"
            hr_sub = read_image(out / name)
            np.testing.assert_array_equal(hr_sub, img[x : x + CROP, y : y + CROP])
            for scale, lr_folder in lr_folders.items():
                np.testing.assert_array_equal(read_image(lr_folder / name), matlab_bicubic(hr_sub, scale))


def test_extract_official_lr_folder(tmp_path: Path) -> None:
    hr_dir, lr_dir = tmp_path / "HR", tmp_path / "LR_X2"
    images = write_images(hr_dir, [(48, 60), (36, 36)])
    lr_dir.mkdir()
    for index, img in enumerate(images):  # DIV2K naming: 0000x2.png
        cv2.imwrite(str(lr_dir / f"{index:04d}x2.png"), matlab_bicubic(img, 2))
    out = tmp_path / "HR_sub"
    extract_subimages(
        hr_dir, out, lr_folders={2: lr_dir}, lr_outputs={2: tmp_path / "X2_sub"}, crop_size=CROP, step=STEP
    )
    for index, img in enumerate(images):
        lr_full = matlab_bicubic(img, 2)
        for k, (x, y) in enumerate(subimage_positions(*img.shape[:2], CROP, STEP), 1):
            lr_sub = read_image(tmp_path / "X2_sub" / f"{index:04d}_s{k:03d}.png")
            np.testing.assert_array_equal(lr_sub, lr_full[x // 2 : (x + CROP) // 2, y // 2 : (y + CROP) // 2])


def test_extract_pool_matches_single_worker(tmp_path: Path, hr_folder: tuple[Path, list[np.ndarray]]) -> None:
    folder, _ = hr_folder
    extract_subimages(folder, tmp_path / "one", scales=(2,), crop_size=CROP, step=STEP, workers=1)
    extract_subimages(folder, tmp_path / "two", scales=(2,), crop_size=CROP, step=STEP, workers=2)
    for name in ("one", "one_LRx2"):
        pool_name = name.replace("one", "two")
        files = sorted(p.name for p in list_images(tmp_path / name))
        assert files == sorted(p.name for p in list_images(tmp_path / pool_name))
        for file in files:
            assert (tmp_path / name / file).read_bytes() == (tmp_path / pool_name / file).read_bytes()
    assert not (tmp_path / "two" / PROGRESS).exists()


# --- resume and argument checks ---------------------------------------------------------------


def test_extract_resumes_after_interruption(
    tmp_path: Path, hr_folder: tuple[Path, list[np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = hr_folder
    out = tmp_path / "HR_sub"
    reference = tmp_path / "reference"
    kwargs = {"scales": (2, 4), "crop_size": CROP, "step": STEP, "workers": 1}
    extract_subimages(folder, reference, **kwargs)

    calls: list[Path] = []
    real_read = subimages_module.read_image

    def interrupted_read(path: Path) -> np.ndarray:
        calls.append(path)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed while working on the second image
        return real_read(path)

    monkeypatch.setattr(subimages_module, "read_image", interrupted_read)
    with pytest.raises(KeyboardInterrupt):
        extract_subimages(folder, out, **kwargs)
    monkeypatch.setattr(subimages_module, "read_image", real_read)
    assert {p.name for p in list_images(out)} == {f"0000_s{k:03d}.png" for k in range(1, 21)}
    # More damage: a deleted sub-image of a finished image, a stray temporary file from a dead process.
    (tmp_path / "LR_bicubic_X4_sub" / "0000_s007.png").unlink()
    (out / ".0001_s001.png.tmp-999999").write_bytes(b"partial")

    extract_subimages(folder, out, **kwargs)
    names = {"HR_sub": "reference", "LR_bicubic_X2_sub": "reference_LRx2", "LR_bicubic_X4_sub": "reference_LRx4"}
    for name, ref in names.items():
        files = {p.name: p.read_bytes() for p in list_images(tmp_path / name)}
        assert files == {p.name: p.read_bytes() for p in list_images(tmp_path / ref)}
        assert not [p for p in (tmp_path / name).iterdir() if ".tmp-" in p.name]
    assert not (out / PROGRESS).exists()

    # A complete output with the same arguments: nothing is read or written.
    before = {name: tree(tmp_path / name) for name in names}
    monkeypatch.setattr(subimages_module, "read_image", lambda path: pytest.fail(f"re-read {path}"))
    extract_subimages(folder, out, **kwargs)
    assert {name: tree(tmp_path / name) for name in before} == before


def test_extract_refuses_other_arguments_unless_overwrite(
    tmp_path: Path, hr_folder: tuple[Path, list[np.ndarray]]
) -> None:
    folder, _ = hr_folder
    out = tmp_path / "HR_sub"
    extract_subimages(folder, out, scales=(2,), crop_size=CROP, step=STEP, workers=1)
    with pytest.raises(FileExistsError, match=r"HR_sub: exists and was made with other arguments \(step 12 -> 24\)"):
        extract_subimages(folder, out, scales=(2,), crop_size=CROP, step=24, workers=1)
    assert len(list_images(out)) == sum(SIZES.values())  # untouched
    counts = extract_subimages(folder, out, scales=(2,), crop_size=CROP, step=24, workers=1, overwrite=True)
    assert len(list_images(out)) == sum(counts.values()) < sum(SIZES.values())
    # A folder these tools did not make is never replaced.
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.png").write_bytes(b"x")
    with pytest.raises(FileExistsError, match="mine: exists and was not made by extract_subimages"):
        extract_subimages(folder, foreign, crop_size=CROP, step=STEP, overwrite=True)
    assert (foreign / "keep.png").exists()


# --- LMDB -------------------------------------------------------------------------------------


def paired_dataset(gt: Path, lq: Path, phase: str, scale: int) -> PairedImageDataset:
    opt = {
        "name": "tiny",
        "type": "PairedImageDataset",
        "dataroot_gt": str(gt),
        "dataroot_lq": str(lq),
        "io_backend": {"type": "lmdb"},
        "filename_tmpl": "{}",
        "phase": phase,
        "scale": scale,
        "gt_size": CROP,
        "use_hflip": False,
        "use_rot": False,
    }
    return PairedImageDataset(opt)


def as_uint8_bgr(tensor) -> np.ndarray:  # noqa: ANN001
    """BasicSR tensor (RGB, [0, 1]) back to uint8 BGR."""
    return np.round(tensor.numpy().transpose(1, 2, 0)[:, :, ::-1] * 255).astype(np.uint8)


def test_lmdb_roundtrip_through_basicsr_paired_dataset(
    tmp_path: Path, hr_folder: tuple[Path, list[np.ndarray]]
) -> None:
    folder, _ = hr_folder
    out = tmp_path / "Train_HR_sub"
    extract_subimages(folder, out, scales=(2,), crop_size=CROP, step=STEP, workers=1)
    lr_out = tmp_path / "Train_LR_bicubic_X2_sub"
    gt_lmdb, lq_lmdb = create_lmdb(out, workers=2), create_lmdb(lr_out, workers=1)
    assert gt_lmdb == tmp_path / "Train_HR_sub.lmdb"
    keys = check_paired_keys(gt_lmdb, lq_lmdb)
    assert keys == [p.stem for p in list_images(out)]  # sorted, like BasicSR's create_lmdb
    lines = (gt_lmdb / "meta_info.txt").read_text().splitlines()
    assert lines[0] == "0000_s001.png (24,24,3) 1" and len(lines) == sum(SIZES.values())
    with LmdbReader(gt_lmdb) as reader:
        streamed = dict(iter(reader))
    assert list(streamed) == keys
    np.testing.assert_array_equal(read_lmdb_image(gt_lmdb, keys[3]), streamed[keys[3]])
    for phase in ("train", "val"):
        dataset = paired_dataset(gt_lmdb, lq_lmdb, phase, scale=2)
        assert len(dataset) == len(keys)
        for index in (0, len(keys) - 1):
            item = dataset[index]
            key = item["gt_path"]
            np.testing.assert_array_equal(as_uint8_bgr(item["gt"]), read_image(out / f"{key}.png"))
            np.testing.assert_array_equal(as_uint8_bgr(item["lq"]), read_image(lr_out / f"{key}.png"))
        del dataset  # py-lmdb: one open handle per LMDB and process
    subset = copy_lmdb_subset(gt_lmdb, tmp_path / "core.lmdb", keys[:3])
    assert read_lmdb_keys(subset) == keys[:3]
    np.testing.assert_array_equal(read_lmdb_image(subset, keys[2]), streamed[keys[2]])


def test_lmdb_writer_grows_map_for_mixed_sizes(tmp_path: Path) -> None:
    from basicsr.utils.lmdb_util import make_lmdb_from_imgs

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, h, 3), dtype=np.uint8) for h in (4, 300, 200, 350)]  # noise: PNG ~ raw
    folder = tmp_path / "mixed"
    folder.mkdir()
    for index, img in enumerate(images):
        cv2.imwrite(str(folder / f"{index}.png"), img)
    # BasicSR sizes the map from the first (tiny) image and overflows.
    names = [f"{index}.png" for index in range(len(images))]
    with pytest.raises(lmdb.MapFullError):
        make_lmdb_from_imgs(str(folder), str(tmp_path / "basicsr.lmdb"), names, [n[0] for n in names])
    with LmdbWriter(tmp_path / "ours.lmdb", map_size=1 << 18, commit_bytes=200_000) as writer:
        for index, img in enumerate(images):
            writer.put(str(index), img if index % 2 else encode_png(img), None if index % 2 else img.shape)
    assert writer.map_size >= 1 << 20  # grown from 256 KiB to hold ~760 KB of PNGs
    with LmdbReader(tmp_path / "ours.lmdb") as reader:
        for index, img in enumerate(images):
            np.testing.assert_array_equal(reader[str(index)], img)


def test_lmdb_writer_leaves_nothing_on_error(tmp_path: Path) -> None:
    target = tmp_path / "broken.lmdb"
    with pytest.raises(RuntimeError), LmdbWriter(target) as writer:
        writer.put("a", textured_image(8, 8, 0))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="duplicate key 'a'"), LmdbWriter(target) as writer:
        writer.put("a", textured_image(8, 8, 0))
        writer.put("a", textured_image(8, 8, 1))
    with pytest.raises(ValueError, match="must end with '.lmdb'"):
        LmdbWriter(tmp_path / "noext")
    assert list(tmp_path.iterdir()) == []


def test_create_lmdb_resume_and_refusal(tmp_path: Path, hr_folder: tuple[Path, list[np.ndarray]]) -> None:
    folder, _ = hr_folder
    target = tmp_path / "HR.lmdb"
    stale = tmp_path / ".HR.lmdb.tmp-999999"  # left by a killed run
    stale.mkdir()
    (stale / "data.mdb").write_bytes(b"partial")
    create_lmdb(folder, target, workers=1)
    assert not stale.exists()
    assert (target / MANIFEST).exists() and read_lmdb_keys(target) == ["0000", "0001", "0002"]
    before = tree(target)
    create_lmdb(folder, target, workers=1)  # complete, same arguments: nothing to do
    assert tree(target) == before
    with pytest.raises(FileExistsError, match=r"HR.lmdb: exists and was made with other arguments \(compress_level"):
        create_lmdb(folder, target, compress_level=4, workers=1)
    assert tree(target) == before
    create_lmdb(folder, target, compress_level=4, workers=1, overwrite=True)
    assert (target / "meta_info.txt").read_text().splitlines()[0].endswith(" 4")


# --- benchmark folders ------------------------------------------------------------------------


def test_prepare_benchmark_gtmod_and_lrbic(tmp_path: Path) -> None:
    images = write_images(tmp_path / "Set", [(31, 26), (24, 24)])
    folders = prepare_benchmark(tmp_path / "Set", tmp_path / "out", scales=(3, 2), workers=1)
    assert [p.name for p in folders] == ["GTmod2", "LRbicx2", "GTmod3", "LRbicx3"]
    for scale in (2, 3):
        for index, img in enumerate(images):
            gt = read_image(tmp_path / "out" / f"GTmod{scale}" / f"{index:04d}.png")
            h, w = img.shape[0] - img.shape[0] % scale, img.shape[1] - img.shape[1] % scale
            np.testing.assert_array_equal(gt, img[:h, :w])
            lr = read_image(tmp_path / "out" / f"LRbicx{scale}" / f"{index:04d}.png")
            np.testing.assert_array_equal(lr, matlab_bicubic(gt, scale))
    (tmp_path / "out" / "LRbicx3" / "0001.png").unlink()  # damaged output is repaired by a re-run
    prepare_benchmark(tmp_path / "Set", tmp_path / "out", scales=(2, 3), workers=1)
    assert (tmp_path / "out" / "LRbicx3" / "0001.png").exists()
    with pytest.raises(FileExistsError, match="GTmod2: exists and was made with other arguments"):
        prepare_benchmark(tmp_path / "Set", tmp_path / "out", scales=(2,), compress_level=9, workers=1)


# --- bad inputs -------------------------------------------------------------------------------


def test_missing_and_empty_input_folders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothere: no such folder"):
        extract_subimages(tmp_path / "nothere", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    for call in (
        lambda: extract_subimages(tmp_path / "empty", tmp_path / "out"),
        lambda: create_lmdb(tmp_path / "empty", tmp_path / "out.lmdb"),
        lambda: prepare_benchmark(tmp_path / "empty", tmp_path / "out"),
    ):
        with pytest.raises(ValueError, match="empty: no images found"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]  # nothing written


def test_corrupt_image(tmp_path: Path) -> None:
    folder = tmp_path / "HR"
    write_images(folder, [(30, 30)])
    good = (folder / "0000.png").read_bytes()
    (folder / "0001.png").write_bytes(good[: len(good) // 2])  # truncated
    (folder / "0002.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"0001.png: cannot decode image \(corrupt or not an image\)"):
        extract_subimages(folder, tmp_path / "out", crop_size=CROP, step=STEP, workers=1)
    with pytest.raises(ValueError, match=r"0002.jpg: cannot decode image"):
        read_image(folder / "0002.jpg")
    with pytest.raises(ValueError, match="0001.png: cannot decode image"):
        create_lmdb(folder, tmp_path / "x.lmdb", workers=2)  # raised in a pool worker, re-raised here
    assert not (tmp_path / "x.lmdb").exists() and not list(tmp_path.glob(".x.lmdb*"))
    with pytest.raises(FileNotFoundError, match="none.png: no such image file"):
        read_image(folder / "none.png")


def test_hr_lr_sizes_not_matching_scale(tmp_path: Path) -> None:
    hr_dir, lr_dir = tmp_path / "HR", tmp_path / "LR"
    write_images(hr_dir, [(48, 48)])
    lr_dir.mkdir()
    cv2.imwrite(str(lr_dir / "0000x2.png"), textured_image(25, 24, 0))  # should be 24x24
    with pytest.raises(ValueError, match=r"HR/0000.png \(48x48\) and .*LR/0000x2.png \(24x25\): sizes do not match"):
        extract_subimages(hr_dir, tmp_path / "sub", lr_folders={2: lr_dir}, crop_size=CROP, step=STEP, workers=1)
    (lr_dir / "0000x2.png").unlink()
    cv2.imwrite(str(lr_dir / "other.png"), textured_image(24, 24, 0))
    with pytest.raises(FileNotFoundError, match=r"0000.png: no LR image 0000x2.\* or 0000.\*"):
        extract_subimages(hr_dir, tmp_path / "sub", lr_folders={2: lr_dir}, crop_size=CROP, step=STEP)
    with pytest.raises(ValueError, match="crop_size 24 is not a multiple of scale x5"):
        extract_subimages(hr_dir, tmp_path / "sub", scales=(5,), crop_size=CROP, step=STEP)


def test_lmdb_without_meta_info_and_non_lmdb_paths(tmp_path: Path) -> None:
    broken = tmp_path / "broken.lmdb"
    with LmdbWriter(broken) as writer:
        writer.put("a", textured_image(8, 8, 0))
    (broken / "meta_info.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"broken.lmdb: not a BasicSR LMDB \(meta_info.txt missing\)"):
        read_lmdb_keys(broken)
    with pytest.raises(FileNotFoundError, match="no such LMDB"):
        read_lmdb_keys(tmp_path / "none.lmdb")
    (tmp_path / "file.lmdb").write_text("x")
    with pytest.raises(NotADirectoryError, match="file.lmdb: not an LMDB folder"):
        LmdbReader(tmp_path / "file.lmdb")
    (tmp_path / "empty.lmdb").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty.lmdb: not an LMDB \(data.mdb missing\)"):
        read_lmdb_keys(tmp_path / "empty.lmdb")


def test_paired_key_sets_must_match(tmp_path: Path) -> None:
    for name, keys in (("gt.lmdb", ["a", "b", "c"]), ("lq.lmdb", ["a", "b", "d", "e"])):
        with LmdbWriter(tmp_path / name) as writer:
            for key in keys:
                writer.put(key, textured_image(4, 4, 0))
    with pytest.raises(
        ValueError, match=r"key sets differ \(3 vs 4 keys\): 1 only in GT \(e.g. \['c'\]\), 2 only in LQ"
    ):
        check_paired_keys(tmp_path / "gt.lmdb", tmp_path / "lq.lmdb")


def test_grayscale_rgba_and_16bit_are_converted_with_warning(tmp_path: Path, basicsr_log: list[str]) -> None:
    img = textured_image(30, 30, 0)
    folder = tmp_path / "mixed"
    folder.mkdir()
    cv2.imwrite(str(folder / "gray.png"), img[:, :, 0])
    cv2.imwrite(str(folder / "rgba.png"), np.dstack([img, np.full((30, 30), 128, np.uint8)]))
    cv2.imwrite(str(folder / "deep.png"), img.astype(np.uint16) * 257)
    extract_subimages(folder, tmp_path / "sub", scales=(2,), crop_size=CROP, step=STEP, workers=1)
    gray_sub = read_image(tmp_path / "sub" / "gray_s001.png")
    assert gray_sub.shape == (CROP, CROP, 3)
    np.testing.assert_array_equal(gray_sub, np.repeat(img[:CROP, :CROP, :1], 3, axis=2))
    np.testing.assert_array_equal(read_image(tmp_path / "sub" / "rgba_s001.png"), img[:CROP, :CROP])
    np.testing.assert_array_equal(read_image(tmp_path / "sub" / "deep_s001.png"), img[:CROP, :CROP])
    assert any("gray.png: grayscale image converted to 3-channel" in m for m in basicsr_log)
    assert any("rgba.png: RGBA image converted to 3-channel" in m for m in basicsr_log)
    assert any("deep.png: 16-bit image converted to 8 bits" in m for m in basicsr_log)


def test_image_smaller_than_crop_is_skipped_with_warning(tmp_path: Path, basicsr_log: list[str]) -> None:
    write_images(tmp_path / "HR", [(20, 40), (30, 30)])
    counts = extract_subimages(tmp_path / "HR", tmp_path / "sub", crop_size=CROP, step=STEP, workers=1)
    assert counts == {"0000": 0, "0001": 4}
    assert any("0000.png: 40x20 is smaller than crop_size 24" in m for m in basicsr_log)


# --- scripts ----------------------------------------------------------------------------------


def script_main(name: str):  # noqa: ANN201
    return runpy.run_path(str(REPO / "scripts" / name), run_name="script_under_test")["main"]


def test_script_subprocess_prints_one_line_error_and_exits_2(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "extract_subimages.py"), "--input", str(tmp_path / "nothere")]
        + ["--output", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [f"error: {tmp_path / 'nothere'}: no such folder"]
    assert not (tmp_path / "out").exists()


def test_scripts_run_and_fail_with_one_line(
    tmp_path: Path, hr_folder: tuple[Path, list[np.ndarray]], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = hr_folder
    script_main("prepare_benchmark.py")(["--input", str(folder), "--output", str(tmp_path / "set"), "--workers", "1"])
    assert (tmp_path / "set" / "LRbicx4" / "0002.png").exists()
    extract = script_main("extract_subimages.py")
    extract(["--input", str(folder), "--output", str(tmp_path / "HR_sub"), "--crop-size", "24", "--step", "12"])
    script_main("create_lmdb.py")([str(tmp_path / "HR_sub"), str(tmp_path / "LR_bicubic_X4_sub")])  # as in README
    assert check_paired_keys(tmp_path / "HR_sub.lmdb", tmp_path / "LR_bicubic_X4_sub.lmdb")
    capsys.readouterr()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "mine.png").write_bytes(b"x")
    failures = {
        "create_lmdb.py": (
            ["--input", str(tmp_path / "bad")],
            "mine.png: cannot decode image (corrupt or not an image)",
        ),
        "prepare_benchmark.py": (
            ["--input", str(folder), "--output", str(tmp_path / "set"), "--compress-level", "5"],
            "GTmod2: exists and was made with other arguments (compress_level 3 -> 5); pass --overwrite",
        ),
        "extract_subimages.py": (
            ["--input", str(folder), "--output", str(tmp_path / "HR_sub"), "--lr-input", f"2={tmp_path / 'bad'}"],
            "0000.png: no LR image 0000x2.* or 0000.* in",
        ),
    }
    for name, (args, message) in failures.items():
        with pytest.raises(SystemExit) as exit_info:
            script_main(name)(args)
        assert exit_info.value.code == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], (name, lines)


def test_ordered_pool_results_are_bounded_ahead_of_the_consumer() -> None:
    """LMDB creation streams: at most ``ahead`` chunks are requested beyond what the writer consumed."""
    submitted: list[int] = []

    class Immediate:
        def __init__(self, value: list[int]) -> None:
            self.value = value

        def get(self) -> list[int]:
            return self.value

    class FakePool:
        def apply_async(self, func, args):  # noqa: ANN001, ANN202
            submitted.extend(args[1])
            return Immediate(func(*args))

    results = _bounded_ordered(FakePool(), lambda x: x * 10, list(range(100)), chunksize=3, ahead=4)
    for consumed, value in enumerate(results, 1):
        assert value == (consumed - 1) * 10  # in order
        assert len(submitted) - consumed <= 4 * 3
    assert submitted == list(range(100))


def test_create_lmdb_checks_gt_lq_keys_before_building(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # the key check ran after both LMDBs were built and left both on disk when the keys differed.
    write_images(tmp_path / "gt", [(16, 16)] * 3)
    write_images(tmp_path / "lq", [(8, 8)] * 2)
    (tmp_path / "lq" / "0001.png").rename(tmp_path / "lq" / "0009.png")
    with pytest.raises(SystemExit) as exit_info:
        script_main("create_lmdb.py")([str(tmp_path / "gt"), str(tmp_path / "lq"), "--workers", "1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {tmp_path / 'gt'} and {tmp_path / 'lq'}: GT and LQ key sets differ (3 vs 2 keys): "
        "2 only in GT (e.g. ['0001', '0002']), 1 only in LQ (e.g. ['0009']); no LMDB was written"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["gt", "lq"]


def test_corrupt_png_error_is_the_only_line(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    # libpng printed "libpng error: ..." on the stderr file descriptor (whatever OpenCV's log level)
    # before the one-line error, in the middle of the progress bar. It now ends up inside that one line.
    _, encoded = cv2.imencode(".png", textured_image(16, 16, seed=0))
    corrupt = tmp_path / "bad" / "0000.png"
    corrupt.parent.mkdir()
    data = bytearray(encoded.tobytes())
    data[data.find(b"IDAT") + 10] ^= 0xFF  # a damaged deflate stream: libpng reports it itself
    corrupt.write_bytes(bytes(data))
    capfd.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        script_main("create_lmdb.py")([str(corrupt.parent), "--workers", "1"])
    assert exit_info.value.code == 2
    captured = capfd.readouterr()
    assert captured.err.splitlines() == [
        f"error: {corrupt}: cannot decode image (corrupt or not an image: libpng error: IDAT: invalid code lengths set)"
    ], captured.err
