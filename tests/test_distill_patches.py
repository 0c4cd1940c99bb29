"""High-gradient patch selection (Cho et al., IEEE SPL 2025, Sec. II-A): PSNR_bic arithmetic, the filter,
errors, resume."""

from __future__ import annotations

import csv
import json
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest
from basicsr.utils.matlab_functions import imresize
from PIL import Image

from basicsr_distill.distillation import patches as patches_module
from basicsr_distill.distillation.patches import (
    PSNR_CAP,
    NoImageLargeEnoughError,
    NoPatchBelowThresholdError,
    PatchSelectionConfig,
    bicubic_psnr,
    pil_grayscale,
    select_patches,
)
from basicsr_distill.jobs.stage_dir import StageParamsError

SMALL = PatchSelectionConfig(patch_size=32, stride=32, psnr_threshold=23.0, scale=4, resize="matlab")


def stripes(size: int, a: int, b: int, mean: int = 128) -> np.ndarray:
    """A ``size`` x ``size`` gray patch ``mean + s(x)``, ``s`` of period 8: ``(a, b, -b, -a, -a, -b, b, a)``.

    ``s`` is antisymmetric about every x4 sampling centre (``4j + 1.5``) and symmetric about the border
    mirrors, so MATLAB's x4 downscale (symmetric kernel, symmetric padding) maps it to exactly 0: the
    down-up of the patch is the constant ``mean`` and MSE = mean(s^2) = (a^2 + b^2) / 2.
    """
    period = np.array([a, b, -b, -a, -a, -b, b, a], dtype=np.int64)
    row = mean + np.tile(period, size // 8)
    return np.tile(row, (size, 1)).astype(np.uint8)


def expected_psnr(a: int, b: int) -> float:
    return 10 * np.log10(255.0**2 / ((a * a + b * b) / 2))


def gray_to_bgr(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., None], 3, axis=2)


def test_stripes_have_exact_psnr_and_flat_patch_is_capped() -> None:
    textured, flat = stripes(64, 100, 50), np.full((64, 64), 77, np.uint8)
    psnr = bicubic_psnr(np.stack([textured, flat]), scale=4, resize="matlab")
    assert psnr[0] == pytest.approx(expected_psnr(100, 50), abs=1e-9)  # 10 log10(65025 / 6250) = 10.172 dB
    assert psnr[1] == PSNR_CAP  # down-up of a constant is the constant (up to float rounding)


def test_matlab_psnr_matches_basicsr_imresize_per_image() -> None:
    patch = np.random.default_rng(0).integers(0, 256, (32, 32)).astype(np.float64)
    reference = imresize(imresize(patch[..., None], 1 / 4), 4)[..., 0]
    mse = np.mean((patch - reference) ** 2)
    assert bicubic_psnr(patch[None], 4, resize="matlab")[0] == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-6)


def test_cv2_mode_is_the_authors_arithmetic() -> None:
    """The authors: PIL ``convert("L")``, cv2 INTER_CUBIC down to int(P/4) and back, 20 log10(255 / sqrt(mse))."""
    rgb = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    gray = np.array(Image.fromarray(rgb).convert("L")).astype(np.float32)
    down = cv2.resize(gray, (8, 8), interpolation=cv2.INTER_CUBIC)
    up = cv2.resize(down, (32, 32), interpolation=cv2.INTER_CUBIC)
    authors = 20 * np.log10(255.0 / np.sqrt(np.mean((gray - up) ** 2)))
    ours = bicubic_psnr(pil_grayscale(rgb[..., ::-1])[None], 4, resize="cv2")[0]
    assert ours == pytest.approx(authors, abs=1e-4)
    assert np.array_equal(pil_grayscale(rgb[..., ::-1]), gray.astype(np.uint8))


def make_input(folder: Path) -> Path:
    """Image ``a``: textured window (x=0, 22.56 dB, kept) | window just above 23 dB (x=32, dropped) | flat
    window (x=64, capped, dropped); image ``b``: too small; image ``c``: one textured 10.17 dB window."""
    folder.mkdir()
    row = np.concatenate([stripes(32, 19, 19), stripes(32, 18, 18), np.full((32, 32), 90, np.uint8)], axis=1)
    cv2.imwrite(str(folder / "a.png"), gray_to_bgr(row))
    cv2.imwrite(str(folder / "b.png"), np.zeros((20, 40, 3), np.uint8))
    cv2.imwrite(str(folder / "c.png"), gray_to_bgr(stripes(32, 100, 50)))
    return folder


def read_rows(csv_path: Path) -> list[dict]:
    with open(csv_path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_filter_keeps_textured_and_drops_flat_windows(tmp_path: Path) -> None:
    source = make_input(tmp_path / "hr")
    result = select_patches(source, tmp_path / "patches", SMALL)
    assert expected_psnr(18, 18) > 23.0 > expected_psnr(19, 19)  # 23.03 dB dropped, 22.56 dB kept
    rows = read_rows(result.csv_path)
    assert [(row["name"], row["source"], row["x"], row["y"]) for row in rows] == [
        ("a_y00000_x00000.png", "a.png", "0", "0"),
        ("c_y00000_x00000.png", "c.png", "0", "0"),
    ]
    assert float(rows[0]["psnr"]) == pytest.approx(expected_psnr(19, 19), abs=1e-5)
    assert float(rows[1]["psnr"]) == pytest.approx(expected_psnr(100, 50), abs=1e-5)
    assert (result.windows, result.kept) == (4, 2)
    assert result.skipped == [("b.png", "40x20 is smaller than the 32x32 patch")]
    kept = cv2.imread(str(result.out_dir / "a_y00000_x00000.png"))
    assert np.array_equal(kept, gray_to_bgr(stripes(32, 19, 19)))
    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["summary"]["skipped"] == [{"source": "b.png", "reason": "40x20 is smaller than the 32x32 patch"}]
    assert len(manifest["inputs"]["images"]["sha256"]) == 64


def test_no_image_large_enough(tmp_path: Path) -> None:
    source = tmp_path / "hr"
    source.mkdir()
    for name in ("x.png", "y.png"):
        cv2.imwrite(str(source / name), np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(NoImageLargeEnoughError, match=r"all 2 images skipped \(e\.g\. x\.png: 16x16 is smaller"):
        select_patches(source, tmp_path / "out", SMALL)
    assert not (tmp_path / "out" / "patches.csv").exists()


def test_no_patch_below_threshold(tmp_path: Path) -> None:
    source = tmp_path / "hr"
    source.mkdir()
    cv2.imwrite(str(source / "flat.png"), np.full((32, 64, 3), 200, np.uint8))
    cv2.imwrite(str(source / "tiny.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(NoPatchBelowThresholdError, match=r"below 23\.0 dB: 2 windows from 1 images \(1 skipped"):
        select_patches(source, tmp_path / "out", SMALL)


def test_resume_after_interruption_and_skip_when_complete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = make_input(tmp_path / "hr")
    reference = read_rows(select_patches(source, tmp_path / "reference", SMALL).csv_path)

    real_score = patches_module.score_image
    calls: list[str] = []
    crash_on = {"c.png"}

    def counting_score(path: Path, *args: object) -> object:
        calls.append(path.name)
        if path.name in crash_on:
            raise KeyboardInterrupt
        return real_score(path, *args)

    monkeypatch.setattr(patches_module, "score_image", counting_score)
    with pytest.raises(KeyboardInterrupt):
        select_patches(source, tmp_path / "out", SMALL)
    assert not (tmp_path / "out" / "patches.csv").exists()
    calls.clear()
    crash_on.clear()
    result = select_patches(source, tmp_path / "out", SMALL)
    assert calls == ["c.png"]  # a.png and b.png came from the journal
    assert read_rows(result.csv_path) == reference

    calls.clear()
    again = select_patches(source, tmp_path / "out", SMALL)
    assert calls == [] and again.kept == result.kept

    with pytest.raises(StageParamsError, match=r"psnr_threshold 23\.0 -> 25\.0.*--overwrite"):
        select_patches(source, tmp_path / "out", PatchSelectionConfig(32, 32, 25.0, 4, "matlab"))
    replaced = select_patches(source, tmp_path / "out", PatchSelectionConfig(32, 32, 25.0, 4, "matlab"), overwrite=True)
    assert replaced.kept == 3


def test_process_pool_gives_the_same_rows(tmp_path: Path) -> None:
    source = make_input(tmp_path / "hr")
    serial = read_rows(select_patches(source, tmp_path / "serial", SMALL).csv_path)
    pooled = read_rows(select_patches(source, tmp_path / "pooled", SMALL, workers=2).csv_path)
    assert pooled == serial


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="scale must be >= 2"):
        PatchSelectionConfig(scale=1)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        PatchSelectionConfig(stride=0)
    with pytest.raises(ValueError, match="resize"):
        PatchSelectionConfig(resize="pil")


def test_script(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "distill_select_patches.py"))["main"]
    source = make_input(tmp_path / "hr")
    main(
        [
            "--input",
            str(source),
            "--output",
            str(tmp_path / "out"),
            "--patch-size",
            "32",
            "--stride",
            "32",
            "--resize",
            "matlab",
        ]
    )
    assert "kept 2 of 4 patches from 3 images" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--input", str(source), "--output", str(tmp_path / "big"), "--patch-size", "512", "--stride", "256"])
    assert exit_info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "all 3 images skipped" in last
    assert not (tmp_path / "big" / "patches.csv").exists()


def authors_psnr(rgb: np.ndarray) -> float:
    """The authors' ``calculate_psnr(np.array(patch.convert("L")), 4)`` (``src/1_select_patches.py``), written
    out independently: PIL grayscale, cv2 INTER_CUBIC down to ``int(P / 4)`` and back on float32, float32 MSE,
    ``20 log10(255 / sqrt(mse))`` with numpy 1.24's promotion (sqrt in float32, the division in float64)."""
    gray = np.array(Image.fromarray(rgb).convert("L")).astype(np.float32)
    height, width = gray.shape
    down = cv2.resize(gray, (int(width / 4), int(height / 4)), interpolation=cv2.INTER_CUBIC)
    up = cv2.resize(down, (width, height), interpolation=cv2.INTER_CUBIC)
    mse = np.mean((gray - up) ** 2)
    assert mse.dtype == np.float32
    return float(20 * np.log10(255.0 / np.float64(np.sqrt(mse))))


def blurred_noise(rng: np.random.Generator, shape: tuple[int, int], blur: float, amplitude: float) -> np.ndarray:
    noise = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), blur)
    return noise / noise.std() * amplitude


def test_paper_options_keep_the_same_patches_as_the_authors_opencv_filter(tmp_path: Path) -> None:
    """The paper option files' filter (512 windows, stride 256, x4, 23 dB, cv2) on hand-made colour images keeps
    exactly the windows the authors' OpenCV INTER_CUBIC code keeps, with their PSNR; MATLAB bicubic would not."""
    from basicsr_distill.synthesis import load_yaml
    from basicsr_distill.synthesis.methods.srdd import parse_config

    options = Path(__file__).resolve().parents[1] / "options" / "distill"
    config = parse_config(load_yaml(options / "distill_ost.yml")).patch_config
    assert config == parse_config(load_yaml(options / "distill_div2k.yml")).patch_config
    assert (config.patch_size, config.stride, config.scale, config.psnr_threshold, config.resize) == (
        512,
        256,
        4,
        23.0,
        "cv2",
    )
    rng = np.random.default_rng(3)
    source = tmp_path / "hr"
    source.mkdir()
    # (blur, amplitude) of blurred noise: around 23 dB, where cv2 and MATLAB bicubic disagree
    looks = [(1.0, 19.0), (1.0, 21.0), (2.0, 60.0), (2.0, 55.0), (1.5, 35.0), (3.0, 20.0)]
    for index, (blur, amplitude) in enumerate(looks):
        colour = rng.uniform(0.5, 1.5, 3)
        texture = blurred_noise(rng, (512, 512), blur, amplitude)[..., None] * colour
        cv2.imwrite(str(source / f"look{index}.png"), np.clip(np.round(128 + texture), 0, 255).astype(np.uint8))
    # one 768x1024 image (6 overlapping windows), texture strength growing from left to right
    ramp = np.linspace(0.6, 1.4, 1024, dtype=np.float32)[None, :, None]
    wide = blurred_noise(rng, (768, 1024), 1.2, 25.0)[..., None] * ramp * np.array([0.8, 1.0, 1.2])
    cv2.imwrite(str(source / "wide.png"), np.clip(np.round(120 + wide), 0, 255).astype(np.uint8))

    reference: dict[str, float] = {}
    matlab_kept: set[str] = set()
    for path in sorted(source.iterdir()):
        rgb = np.array(Image.open(path).convert("RGB"))
        for y in range(0, rgb.shape[0] - 512 + 1, 256):
            for x in range(0, rgb.shape[1] - 512 + 1, 256):
                window = rgb[y : y + 512, x : x + 512]
                psnr = authors_psnr(window)
                name = f"{path.stem}_y{y:05d}_x{x:05d}.png"
                assert bicubic_psnr(pil_grayscale(window[..., ::-1])[None], 4, "cv2")[0] == psnr  # bit-exact
                if psnr < 23.0:
                    reference[name] = psnr
                if bicubic_psnr(pil_grayscale(window[..., ::-1])[None], 4, "matlab")[0] < 23.0:
                    matlab_kept.add(name)
    assert 0 < len(reference) < 12 and set(reference) != matlab_kept  # the test tells the two kernels apart

    result = select_patches(source, tmp_path / "patches", config)
    rows = read_rows(result.csv_path)
    assert {row["name"]: row["psnr"] for row in rows} == {name: f"{psnr:.6f}" for name, psnr in reference.items()}
    assert (result.windows, result.kept) == (12, len(reference))
