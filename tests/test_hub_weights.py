"""The distillation's weights by Hugging Face hub id (Cho, Jung, Cho, Soh, IEEE SPL 2025 load DiT-XL/2-512, the SD VAE
and OpenAI's CLIP from the hub): a tiny DiT, VAE and CLIP in a cache folder laid out as the hub's
(``models--org--name/snapshots/<revision>/...`` and ``refs/main``), loaded by diffusers' and open_clip's own code with
``HF_HOME`` pointing at it and ``HF_HUB_OFFLINE=1``; an id that is not cached is one line saying what was tried."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_distill_weights import save_clip_folder, save_dit_folder

from basicsr_distill.distillation.clustering import TINY_CLIP_CONFIG

REVISION = "0123456789abcdef0123456789abcdef01234567"


def cached_snapshot(hub: Path, repo_id: str) -> Path:
    """The snapshot folder of ``repo_id`` in the hub cache ``hub``, as huggingface_hub lays it out."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REVISION)
    return repo / "snapshots" / REVISION


@pytest.fixture(scope="module")
def hf_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from diffusers import AutoencoderKL

    from basicsr_distill.distillation.dit import TINY_VAE

    home = tmp_path_factory.mktemp("hf_home")
    save_dit_folder(cached_snapshot(home / "hub", "org/tiny-dit"))
    AutoencoderKL(**TINY_VAE).save_pretrained(cached_snapshot(home / "hub", "org/tiny-vae"))
    save_clip_folder(cached_snapshot(home / "hub", "org/tiny-clip"))
    return home


def offline_env(hf_home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HF_")}
    return env | {"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}


LOAD = """
import contextlib, io
from test_distill_weights import TINY
from basicsr_distill.commands import main
from basicsr_distill.distillation.clustering import load_clip
from basicsr_distill.distillation.dit import load_dit_components
from basicsr_distill.distillation.weights import check_weights

components = load_dit_components("org/tiny-dit", vae_decode="org/tiny-vae")
print("dit", components.source, components.random_weights, components.decode_vae is not None)
clip = load_clip("hf-hub:org/tiny-clip")
print("clip", clip.info["random_weights"], clip.info["embed_dim"], clip.info["checkpoint"])
report = check_weights("org/tiny-dit", "org/tiny-vae", "org/tiny-clip", num_classes=3, expected=TINY)
print("report", report.counts["dit"] > 0, report.counts["vae_decode"] > 0, report.counts["clip"] > 0)
try:
    load_clip("hf-hub:org/not-cached")
except FileNotFoundError as error:
    print(error)
errors = io.StringIO()
with contextlib.redirect_stderr(errors):  # the console command, in this process (no second start-up)
    try:
        main(["distill", "check-weights", "--dit", "org/not-cached"])
    except SystemExit as exit_info:
        print("exit", exit_info.code)
print(errors.getvalue().strip().splitlines()[-1])
"""


def test_tiny_dit_vae_clip_load_by_hub_id_from_an_offline_cache_and_an_id_not_cached_is_one_line(
    hf_home: Path, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", LOAD],
        cwd=tmp_path,
        env=offline_env(hf_home) | {"PYTHONPATH": str(Path(__file__).parent)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "dit org/tiny-dit False True"
    snapshot = hf_home / "hub" / "models--org--tiny-clip" / "snapshots" / REVISION
    assert lines[1] == f"clip False {TINY_CLIP_CONFIG['embed_dim']} {snapshot / 'open_clip_pytorch_model.bin'}"
    assert lines[2] == "report True True True"
    assert lines[3] == (
        "org/not-cached: no CLIP weights (file, open_clip folder, hf-hub:org/name or a pretrained tag of "
        "ViT-B-32-quickgelu): no local file or folder org/not-cached, and hub id org/not-cached is not in the Hugging "
        f"Face cache {hf_home / 'hub'} (HF_HUB_OFFLINE=1: nothing is downloaded)"
    )
    assert lines[4:] == [  # an id that is not cached, through the console command
        "exit 2",
        "error: org/not-cached: no diffusers DiT (transformer/ + vae/): no local file or folder org/not-cached, "
        f"and hub id org/not-cached is not in the Hugging Face cache {hf_home / 'hub'} "
        "(HF_HUB_OFFLINE=1: nothing is downloaded)",
    ]
    assert list(tmp_path.iterdir()) == []
