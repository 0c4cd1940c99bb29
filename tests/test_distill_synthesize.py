"""Synthesis of the distilled set (Cho et al., IEEE SPL 2025, Sec. II-C): IPC x k images, an LMDB pair that
BasicSR's PairedImageDataset reads, resume, world-size independence, bad input. Tiny random DiT, 2 steps."""

from __future__ import annotations

import json
import os
import runpy
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from basicsr.data.paired_image_dataset import PairedImageDataset
from basicsr.utils.matlab_functions import imresize

from basicsr_distill.commands import build_parser
from basicsr_distill.distillation import synthesize as synthesize_module
from basicsr_distill.distillation.dit import load_dit_components, mark_difffit_trainable, save_difffit_checkpoint
from basicsr_distill.distillation.synthesize import (
    SynthesisConfig,
    finetuned_generator,
    image_names,
    missing_images,
    sample_shard,
    synthesize,
)
from basicsr_distill.jobs.stage_dir import StageParamsError
from basicsr_distill.preparation.image_io import read_image
from basicsr_distill.preparation.lmdb_io import LmdbReader, read_lmdb_keys
from basicsr_distill.preparation.subimages import bicubic_lr
from basicsr_distill.utils import sha256_file

FAST = SynthesisConfig(ipc=2, scale=4, num_steps=2, guidance_scale=4.0, seed=3, batch_size=2)


@pytest.fixture(scope="module")
def components():  # noqa: ANN201
    return load_dit_components(None, tiny={"transformer": {"num_embeds_ada_norm": 4}}, device="cpu")


def test_writes_ipc_times_k_images_and_a_pair_basicsr_reads(tmp_path: Path, components) -> None:  # noqa: ANN001
    result = synthesize(components, 3, tmp_path / "distilled", FAST)
    keys = ["c00_i000", "c00_i001", "c01_i000", "c01_i001", "c02_i000", "c02_i001"]
    assert result.names == keys
    assert read_lmdb_keys(result.hr_lmdb) == keys and read_lmdb_keys(result.lr_lmdb) == keys
    assert result.lr_lmdb.name == "distilled_LR_bicubic_X4.lmdb"
    assert sorted(path.name for path in (result.out_dir / "work").iterdir()) == [f"{key}.png" for key in keys]

    size = components.image_size  # 16
    with LmdbReader(result.hr_lmdb) as hr_reader, LmdbReader(result.lr_lmdb) as lr_reader:
        hr, lr = hr_reader.get("c01_i001"), lr_reader.get("c01_i001")
    assert hr.shape == (size, size, 3) and lr.shape == (size // 4, size // 4, 3)
    reference = np.clip(np.round(imresize(hr.astype(np.float32) / 255.0, 1 / 4) * 255), 0, 255)
    assert np.array_equal(lr, reference.astype(np.uint8))  # MATLAB bicubic, as BasicSR's imresize, rounded

    dataset = PairedImageDataset(
        {
            "dataroot_gt": str(result.hr_lmdb),
            "dataroot_lq": str(result.lr_lmdb),
            "io_backend": {"type": "lmdb"},
            "phase": "train",
            "scale": 4,
            "gt_size": 8,
            "use_hflip": True,
            "use_rot": True,
        }
    )
    assert len(dataset) == 6
    sample = dataset[0]
    assert sample["gt"].shape == (3, 8, 8) and sample["lq"].shape == (3, 2, 2)

    manifest = json.loads((result.out_dir / "manifest.json").read_text())
    assert manifest["random_weights"] is True and manifest["params"]["num_classes"] == 3
    assert manifest["summary"]["images"] == 6


def test_result_does_not_depend_on_world_size_or_batch(tmp_path: Path, components) -> None:  # noqa: ANN001
    items = image_names(2, 3)
    single = tmp_path / "single"
    single.mkdir()
    sample_shard(components, single, missing_images(single, items), FAST)
    sharded = tmp_path / "sharded"
    sharded.mkdir()
    config = SynthesisConfig(ipc=3, scale=4, num_steps=2, seed=3, batch_size=1)
    missing = missing_images(sharded, items)  # listed once, before any rank writes
    shares = [sample_shard(components, sharded, missing, config, rank, 2) for rank in (0, 1)]
    assert shares == [["c00_i000", "c00_i001", "c00_i002"], ["c01_i000", "c01_i001", "c01_i002"]]
    for _, _, key in items:
        diff = np.abs(read_image(single / f"{key}.png").astype(int) - read_image(sharded / f"{key}.png").astype(int))
        assert diff.max() <= 1, key  # same per-image noise; batch composition may only move a rounding
    assert not np.array_equal(read_image(single / "c00_i000.png"), read_image(single / "c00_i001.png"))


def test_resume_samples_only_missing_images(tmp_path: Path, components, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    real = synthesize_module.sample_images
    sampled: list[int] = []
    budget = [2]  # images that may be sampled before the "interruption"

    def counting(components, labels, **kwargs):  # noqa: ANN001, ANN003, ANN202
        sampled.append(len(labels))
        if sum(sampled) > budget[0]:
            raise KeyboardInterrupt
        return real(components, labels, **kwargs)

    monkeypatch.setattr(synthesize_module, "sample_images", counting)
    with pytest.raises(KeyboardInterrupt):
        synthesize(components, 2, tmp_path / "out", FAST)
    assert sorted(path.name for path in (tmp_path / "out" / "work").iterdir()) == ["c00_i000.png", "c00_i001.png"]
    assert not (tmp_path / "out" / "distilled_HR.lmdb").exists()

    sampled.clear()
    budget[0] = 10**6
    result = synthesize(components, 2, tmp_path / "out", FAST)
    assert sampled == [2] and len(read_lmdb_keys(result.hr_lmdb)) == 4

    uninterrupted = synthesize(components, 2, tmp_path / "reference", FAST)
    for key in result.names:
        a, b = (read_image(r.out_dir / "work" / f"{key}.png") for r in (result, uninterrupted))
        assert np.array_equal(a, b)

    sampled.clear()
    assert synthesize(components, 2, tmp_path / "out", FAST).names == result.names and sampled == []
    with pytest.raises(StageParamsError, match=r"ipc 2 -> 3"):
        synthesize(components, 2, tmp_path / "out", SynthesisConfig(ipc=3, num_steps=2))


def test_bad_input(tmp_path: Path, components) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=r"ipc \(images per class\) must be in 1\.\.999999, got 0"):
        SynthesisConfig(ipc=0)
    with pytest.raises(ValueError, match=r"5 classes do not fit the DiT's class embedding \(4 classes"):
        synthesize(components, 5, tmp_path / "out", FAST)
    assert not (tmp_path / "out").exists()


def test_bicubic_lr_equals_basicsr_imresize_rounded_exactly() -> None:
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (24, 36, 3), dtype=np.uint8)
    hr[:12, :18], hr[12:, :18] = 255, 0  # a saturated edge: bicubic over- and undershoots 0..255 there
    for scale in (2, 3, 4):
        lr = bicubic_lr(hr, scale)
        exact = imresize(hr.astype(np.float32) / 255.0, 1 / scale) * 255  # BasicSR's MATLAB imresize, unrounded
        assert lr.dtype == np.uint8 and lr.shape == (24 // scale, 36 // scale, 3)
        assert np.array_equal(lr, np.clip(np.round(exact), 0, 255).astype(np.uint8)), scale
        fraction = exact - np.floor(exact)
        assert ((fraction > 0.55) & (exact < 254)).mean() > 0.2  # many values a truncation would get wrong
        assert exact.max() > 255.5 and exact.min() < -0.5  # and values outside 0..255 that must be clipped


def write_difffit_run(folder: Path) -> tuple[Path, Path]:
    """A tiny random DiT's DiffFit checkpoint and a fine-tuning option file (network_g) describing it."""
    network_opt = {"pretrained": None, "tiny": {"transformer": {"num_embeds_ada_norm": 4}}, "seed": 0, "num_classes": 2}
    components = load_dit_components(None, tiny=network_opt["tiny"], seed=0)
    mark_difffit_trainable(components.transformer)
    checkpoint, opt = folder / "net_g_latest.pth", folder / "finetune.yml"
    save_difffit_checkpoint(checkpoint, components.transformer)
    opt.write_text(yaml.safe_dump({"network_g": network_opt}))
    return checkpoint, opt


def test_torchrun_two_ranks_write_the_same_set_as_one(tmp_path: Path) -> None:
    checkpoint, opt = write_difffit_run(tmp_path)
    script = Path(__file__).resolve().parents[1] / "scripts" / "distill_sample.py"
    args = ["--opt", str(opt), "--checkpoint", str(checkpoint), "--ipc", "3", "--steps", "2", "--device", "cpu"]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    process = subprocess.Popen(
        [*torchrun, str(script), *args, "--output", str(tmp_path / "two")], start_new_session=True
    )
    try:
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:  # a hung rendezvous: stop this test's own process group
            os.killpg(process.pid, signal.SIGKILL)
    load, generator = finetuned_generator(yaml.safe_load(opt.read_text())["network_g"], checkpoint, 2)
    single = synthesize(load, 2, tmp_path / "one", SynthesisConfig(ipc=3, num_steps=2), generator)
    assert read_lmdb_keys(tmp_path / "two" / "distilled_HR.lmdb") == single.names
    for key in single.names:  # same batches (one class run per rank), so bit-identical
        two, one = (read_image(folder / "work" / f"{key}.png") for folder in (tmp_path / "two", single.out_dir))
        assert np.array_equal(two, one), key


def test_script_samples_from_a_difffit_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "distill_sample.py"))["main"]
    checkpoint, opt = write_difffit_run(tmp_path)
    args = ["--opt", str(opt), "--checkpoint", str(checkpoint), "--ipc", "1", "--steps", "2", "--device", "cpu"]
    main([*args, "--output", str(tmp_path / "out")])
    assert "2 images (RANDOM WEIGHTS)" in capsys.readouterr().out
    assert read_lmdb_keys(tmp_path / "out" / "distilled_LR_bicubic_X4.lmdb") == ["c00_i000", "c01_i000"]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["inputs"]["generator"]["checkpoint_sha256"] == sha256_file(checkpoint)
    assert manifest["params"]["cfg_channels"] == 3  # DiT's forward_with_cfg by default
    required = ["--opt", "o", "--checkpoint", "c", "--output", "x"]
    command = ["distill", "sample", *required, "--cfg-channels", "all"]
    assert build_parser(command).parse_args(command).cfg_channels is None
    for count in ("5", "1"):  # more classes than fine-tuned (never-trained embeddings), or fewer: one line, exit 2
        with pytest.raises(SystemExit) as exit_info:
            main([*args, "--output", str(tmp_path / f"bad{count}"), "--num-classes", count])
        lines = capsys.readouterr().err.strip().splitlines()
        error = [line for line in lines if line.startswith("error: ")]
        assert exit_info.value.code == 2 and error == lines[-1:] and error[0].startswith(f"error: {opt}")
        assert f"fine-tuned on network_g.num_classes = 2 classes; sampling {count} classes" in error[0]
        assert not (tmp_path / f"bad{count}").exists()


def test_a_separate_decoding_vae_decodes_the_samples(tmp_path: Path) -> None:
    """``vae_decode`` (the authors decode with sd-vae-ft-mse, train with ft-ema): the denoising is unchanged and
    the decoding VAE alone turns the latents into images; a VAE of another latent space is refused."""
    import dataclasses

    from diffusers import AutoencoderKL

    from basicsr_distill.distillation.dit import TINY_VAE
    from basicsr_distill.distillation.sampling import sample_images

    torch.manual_seed(11)
    AutoencoderKL(**TINY_VAE).save_pretrained(tmp_path / "decode_vae")
    tiny = {"transformer": {"num_embeds_ada_norm": 4}}
    plain = load_dit_components(None, tiny=tiny, device="cpu")
    separate = load_dit_components(None, tiny=tiny, device="cpu", vae_decode=tmp_path / "decode_vae")
    assert separate.decoder is separate.decode_vae and plain.decoder is plain.vae
    decode_only = dataclasses.replace(plain, vae=separate.decode_vae)  # same DiT, the other VAE as the only one
    labels, kwargs = [0, 1], {"num_steps": 2, "seed": 5, "batch_size": 2}
    with_separate = sample_images(separate, labels, **kwargs)
    assert np.array_equal(with_separate, sample_images(decode_only, labels, **kwargs))
    assert not np.array_equal(with_separate, sample_images(plain, labels, **kwargs))

    AutoencoderKL(**{**TINY_VAE, "latent_channels": 8}).save_pretrained(tmp_path / "other_latents")
    with pytest.raises(ValueError, match="other_latents: decoding VAE has 8 latent channels"):
        load_dit_components(None, tiny=tiny, device="cpu", vae_decode=tmp_path / "other_latents")
    with pytest.raises(FileNotFoundError, match="nothing_here: no diffusers VAE"):
        load_dit_components(None, tiny=tiny, device="cpu", vae_decode=tmp_path / "nothing_here")
