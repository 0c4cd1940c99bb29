"""CLIP pseudo-classes (Cho et al., IEEE SPL 2025, Sec. II-A): determinism, coverage of k clusters,
checkpoint loading, errors, resume."""

from __future__ import annotations

import csv
import dataclasses
import json
import runpy
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from basicsr_distill.distillation import clustering
from basicsr_distill.distillation.clustering import (
    TINY_CLIP_CONFIG,
    ClusterConfig,
    TooFewPatchesError,
    cluster_patches,
    embed_images,
    kmeans,
    load_clip,
    read_labels,
)

TINY = ClusterConfig(k=3, seed=7, n_init=4, batch_size=5, device="cpu")


def write_patches(folder: Path, count: int = 12, size: int = 32) -> Path:
    """``count`` patches in three looks (stripes, noise, gradients) with varying colours."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for index in range(count):
        colour = rng.integers(0, 256, 3)
        kind = index % 3
        if kind == 0:
            img = np.where((xx // 2) % 2 == 0, 1.0, 0.2)[..., None] * colour
        elif kind == 1:
            img = rng.uniform(0, 1, (size, size, 1)) * colour
        else:
            img = (yy / size)[..., None] * colour
        cv2.imwrite(str(folder / f"p{index:02d}.png"), img.astype(np.uint8))
    return folder


def read_csv_rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_clustering_is_deterministic_for_a_seed_and_covers_k(tmp_path: Path) -> None:
    patches = write_patches(tmp_path / "patches")
    first = cluster_patches(patches, tmp_path / "run1", TINY)
    second = cluster_patches(patches, tmp_path / "run2", TINY)
    assert read_csv_rows(first.labels_csv) == read_csv_rows(second.labels_csv)
    rows = read_csv_rows(first.labels_csv)
    assert rows[0] == ["name", "label"] and len(rows) == 13
    assert sorted({int(label) for _, label in rows[1:]}) == [0, 1, 2]
    info = json.loads((first.out_dir / "clusters.json").read_text())
    assert info["k"] == 3 and info["seed"] == 7 and info["n_init"] == 4
    assert sum(info["counts"]) == 12 and min(info["counts"]) >= 1
    assert info["inertia"] == pytest.approx(json.loads((second.out_dir / "clusters.json").read_text())["inertia"])
    assert info["random_weights"] is True and info["clip"]["sha256"] is None
    assert json.loads((first.out_dir / "manifest.json").read_text())["random_weights"] is True
    embeddings = np.load(first.out_dir / "embeddings.npy")
    assert embeddings.shape == (12, TINY_CLIP_CONFIG["embed_dim"])  # raw features (see the normalize test)


def test_random_weights_warning_is_loud(basicsr_log: list[str]) -> None:
    load_clip(None, device="cpu")
    assert any(message.startswith("RANDOM WEIGHTS:") for message in basicsr_log)


def test_kmeans_on_hand_made_embeddings() -> None:
    rng = np.random.default_rng(3)
    centres = np.eye(4)[:3]
    points = np.concatenate([centre + 0.01 * rng.normal(size=(5, 4)) for centre in centres])
    labels, inertia = kmeans(points, k=3, seed=0, n_init=3)
    assert [len(set(labels[i : i + 5])) for i in (0, 5, 10)] == [1, 1, 1]  # each blob one cluster
    assert len(set(labels)) == 3
    again, inertia_again = kmeans(points, k=3, seed=0, n_init=3)
    assert np.array_equal(labels, again) and inertia == inertia_again
    with pytest.raises(TooFewPatchesError, match="only 1 distinct embeddings among 4 patches for k = 3"):
        kmeans(np.ones((4, 4)), k=3, seed=0, n_init=1)


def test_clip_sees_rgb_as_open_clip_preprocesses_it(tmp_path: Path) -> None:
    import open_clip
    import torch.nn.functional as F
    from PIL import Image

    bgr = np.zeros((40, 48, 3), np.uint8)
    bgr[:, :24, 2] = 255  # red left half (BGR on disk, as cv2 writes)
    bgr[:, 24:, 0] = 255  # blue right half
    path = tmp_path / "red_blue.png"
    cv2.imwrite(str(path), bgr)
    encoder = load_clip(None, seed=3)
    preprocess = open_clip.image_transform(encoder.model.visual.image_size, is_train=False)  # OpenAI mean/std

    def reference(image: Image.Image) -> np.ndarray:
        with torch.no_grad():
            return F.normalize(encoder.model.encode_image(preprocess(image)[None]), dim=-1)[0].numpy()

    rgb = Image.open(path).convert("RGB")
    assert rgb.getpixel((0, 0)) == (255, 0, 0) and rgb.getpixel((47, 39)) == (0, 0, 255)
    swapped = Image.fromarray(np.asarray(rgb)[:, :, ::-1].copy())  # what a BGR/RGB mix-up would feed CLIP
    embedding = embed_images(encoder, [path])[0]
    embedding = embedding / np.linalg.norm(embedding)
    assert np.abs(embedding - reference(rgb)).max() < 1e-5
    # a random tiny ViT maps both to nearby directions, but 100 times farther apart than the tolerance above
    assert np.abs(embedding - reference(swapped)).max() > 1e-3


def test_fewer_patches_than_clusters(tmp_path: Path) -> None:
    patches = write_patches(tmp_path / "patches", count=2)
    with pytest.raises(TooFewPatchesError, match=r"2 kept patches for k = 3 clusters"):
        cluster_patches(patches, tmp_path / "out", TINY)
    assert not (tmp_path / "out").exists()


def test_checkpoint_folder_loads_weights_and_records_sha(tmp_path: Path) -> None:
    patches = write_patches(tmp_path / "patches", count=4)
    random_encoder = load_clip(None, seed=5)
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP_CONFIG}))
    torch.save(random_encoder.model.state_dict(), folder / "open_clip_pytorch_model.bin")
    loaded = load_clip(folder)
    assert loaded.info["random_weights"] is False
    assert loaded.info["sha256"] == clustering.sha256_file(folder / "open_clip_pytorch_model.bin")
    paths = sorted(patches.iterdir())
    assert np.allclose(embed_images(loaded, paths), embed_images(random_encoder, paths), atol=1e-6)
    with pytest.raises(FileNotFoundError, match="missing.pt: no CLIP weights .*: no local file or folder"):
        load_clip(tmp_path / "missing.pt")


def test_patches_csv_order_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    patches = write_patches(tmp_path / "patches", count=6)
    names = [f"p{index:02d}.png" for index in (5, 0, 3, 1, 4, 2)]
    with open(patches / "patches.csv", "w") as handle:
        handle.write("name,source,x,y,psnr\n" + "".join(f"{name},src.png,0,0,10.0\n" for name in names))
    result = cluster_patches(patches, tmp_path / "out", ClusterConfig(k=2, n_init=2, device="cpu"))
    assert list(read_labels(result.labels_csv)) == names

    monkeypatch.setattr(clustering, "load_clip", lambda *args: pytest.fail("a finished stage must not reload CLIP"))
    again = cluster_patches(patches, tmp_path / "out", ClusterConfig(k=2, n_init=2, device="cpu"))
    assert again.counts == result.counts and again.random_weights
    with pytest.raises(ValueError, match=r"k 2 -> 3"):
        cluster_patches(patches, tmp_path / "out", ClusterConfig(k=3, n_init=2, device="cpu"))


def test_script(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main = runpy.run_path(str(Path(__file__).resolve().parents[1] / "scripts" / "distill_cluster.py"))["main"]
    patches = write_patches(tmp_path / "patches", count=6)
    main(["--patches", str(patches), "--output", str(tmp_path / "out"), "--k", "2", "--n-init", "2", "--device", "cpu"])
    out = capsys.readouterr().out
    assert "6 patches in 2 classes" in out and "(RANDOM WEIGHTS)" in out
    with pytest.raises(SystemExit) as exit_info:
        main(["--patches", str(patches), "--output", str(tmp_path / "k9"), "--k", "9", "--device", "cpu"])
    assert exit_info.value.code == 2 and "6 kept patches for k = 9 clusters" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["distill_ost.yml", "distill_div2k.yml"])
def test_paper_options_build_clip_with_quickgelu_and_cluster_raw_features(name: str) -> None:
    """OpenAI's ViT-B/32 (the authors' weights) was trained with QuickGELU: the open_clip model the paper option
    files name must build it (plain ``ViT-B-32`` builds GELU). Built on the meta device: no weights, no time."""
    import open_clip
    from open_clip.transformer import QuickGELU

    from basicsr_distill.synthesis import load_yaml
    from basicsr_distill.synthesis.methods.srdd import parse_config

    options = Path(__file__).resolve().parents[1] / "options" / "distill" / name
    config = parse_config(load_yaml(options)).cluster_config
    assert (config.normalize, config.n_init, config.seed) == (False, 10, 42)
    model = open_clip.create_model(config.clip_model, device="meta")
    activations = {type(block.mlp.gelu) for block in model.visual.transformer.resblocks}
    assert activations == {QuickGELU} and clustering.clip_activation(model) == "QuickGELU"
    assert clustering.clip_activation(open_clip.create_model("ViT-B-32", device="meta")) == "GELU"
    assert ClusterConfig().clip_model == config.clip_model


def test_raw_embeddings_by_default_normalised_on_request(tmp_path: Path) -> None:
    patches = write_patches(tmp_path / "patches")
    raw = cluster_patches(patches, tmp_path / "raw", TINY)
    unit = cluster_patches(patches, tmp_path / "unit", dataclasses.replace(TINY, normalize=True))
    raw_embeddings = np.load(raw.out_dir / clustering.EMBEDDINGS)
    unit_embeddings = np.load(unit.out_dir / clustering.EMBEDDINGS)
    norms = np.linalg.norm(raw_embeddings, axis=1)
    assert not np.allclose(norms, 1.0, atol=1e-3)
    np.testing.assert_allclose(unit_embeddings, raw_embeddings / norms[:, None], rtol=1e-5, atol=1e-6)
    info = json.loads((raw.out_dir / clustering.CLUSTERS_JSON).read_text())
    assert info["embeddings"] == "CLIP image embeddings, raw"
    assert kmeans(raw_embeddings, 3, 7, "auto")[0].shape == (12,)
