"""DiT/DiffFit fine-tuning of the SR dataset distillation (Cho, Jung, Cho, Soh, IEEE SPL 2025, Sec. II-B):
DiffFit's parameter selection, the minimax memory losses, the SR loss, the VLB term, sampling, checkpoints,
exact resume, the patch dataset and a run through BasicSR's train pipeline. Tiny random-weight models only."""

from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml
from basicsr.utils.matlab_functions import imresize as basicsr_imresize
from basicsr.utils.options import ordered_yaml
from diffusers import AutoencoderKL, DiTTransformer2DModel

from basicsr_distill.data.pseudo_label_patch_dataset import PseudoLabelPatchDataset
from basicsr_distill.distillation.dit import (
    TINY_TRANSFORMER,
    TINY_VAE,
    load_difffit_checkpoint,
    load_dit_components,
    mark_difffit_trainable,
    save_difffit_checkpoint,
)
from basicsr_distill.distillation.losses import (
    MemoryBank,
    dit_variational_bound,
    diversity_loss,
    memory_losses,
    representativeness_loss,
    sr_loss,
)
from basicsr_distill.distillation.sampling import sample_images
from basicsr_distill.models.dit_difffit_model import DiTDiffFitModel

REPO = Path(__file__).resolve().parents[1]
TINY_YML = REPO / "options" / "distill" / "finetune_dit_tiny.yml"


def write_patches(root: Path, count: int = 6, size: int = 16, classes: int = 3) -> tuple[Path, Path]:
    """``count`` random RGB patches and a ``name,label`` CSV (labels cycle through ``classes``)."""
    folder = root / "patches"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    rows = ["name,label"]
    for index in range(count):
        cv2.imwrite(str(folder / f"p{index}.png"), rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
        rows.append(f"p{index}.png,{index % classes}")
    csv_path = root / "labels.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    return folder, csv_path


def tiny_opt(root: Path, **network: object) -> dict:
    """The tiny option file as BasicSR's ``parse_options`` would give it, rooted at ``root``, on the CPU."""
    with open(TINY_YML) as handle:
        opt = yaml.load(handle, Loader=ordered_yaml()[0])
    folder, csv_path = write_patches(root / "data")
    for phase in ("train", "val"):
        opt["datasets"][phase].update(dataroot_gt=str(folder), labels_csv=str(csv_path), phase=phase)
    opt["network_g"].update(network)
    experiments = root / "experiments" / opt["name"]
    opt["path"].update(
        experiments_root=str(experiments),
        models=str(experiments / "models"),
        training_states=str(experiments / "training_states"),
        visualization=str(experiments / "visualization"),
    )
    for key in ("models", "training_states", "visualization"):
        os.makedirs(opt["path"][key], exist_ok=True)
    opt.update(num_gpu=0, dist=False, rank=0, world_size=1, is_train=True, auto_resume=False)
    return opt


def batches(count: int, size: int = 16) -> list[dict]:
    generator = torch.Generator().manual_seed(123)
    return [
        {"gt": torch.rand(2, 3, size, size, generator=generator), "label": torch.tensor([i % 3, (i + 1) % 3])}
        for i in range(count)
    ]


# ---------------------------------------------------------------- DiffFit selection
def test_difffit_marks_exactly_bias_norm_gamma_and_class_embedding() -> None:
    components = load_dit_components(None)
    transformer = components.transformer
    before = dict(transformer.named_parameters())
    frozen_weights = {name for name in before if name.endswith(".weight") and "embedding_table" not in name}
    counts = mark_difffit_trainable(transformer)

    # Hand count for the tiny config: D = 2 heads x 8 = 16, 2 blocks, patch 2, 8 output channels, 1000 classes.
    d, blocks, classes = 16, 2, TINY_TRANSFORMER["num_embeds_ada_norm"]
    bias = d + 2 * d + blocks * (6 * d + 3 * d + d + 4 * d + d) + 2 * d + 2 * 2 * 8
    gamma = 1 * 6 * d  # first half of the blocks (1 of 2), six D-vectors each
    embedding = (classes + 1) * d  # the 1000 classes and the null class, one table (tied)
    assert counts["bias"] == bias == 592
    assert counts["gamma"] == gamma == 96
    assert counts["class_embedding"] == embedding == 16016
    assert counts["norm"] == 0  # DiT's norms are non-affine
    assert counts["trainable"] == bias + gamma + embedding == 16704
    assert counts["total"] == sum(p.numel() for p in transformer.parameters())

    trainable = {name for name, p in transformer.named_parameters() if p.requires_grad}
    assert sum(p.numel() for p in transformer.parameters() if p.requires_grad) == counts["trainable"]
    assert all(name.endswith((".bias", "difffit_gamma", "embedding_table.weight")) for name in trainable)
    assert not trainable & frozen_weights
    assert len([name for name in trainable if name.endswith("difffit_gamma")]) == 6
    assert all(name.startswith("transformer_blocks.0.") for name in trainable if name.endswith("difffit_gamma"))
    assert not any(p.requires_grad for p in components.vae.parameters())
    assert mark_difffit_trainable(load_dit_components(None).transformer, gamma_blocks=2)["gamma"] == 2 * 6 * d


def test_gammas_start_at_one_and_scale_the_branches() -> None:
    transformer = load_dit_components(None).transformer
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    kwargs = {"timestep": torch.tensor([10, 500]), "class_labels": torch.tensor([0, 2])}
    with torch.no_grad():
        plain = transformer(x, **kwargs).sample
        mark_difffit_trainable(transformer)
        assert torch.equal(transformer(x, **kwargs).sample, plain)  # gamma = 1: same function
        transformer.transformer_blocks[0].ff.difffit_gamma.zero_()
        assert not torch.allclose(transformer(x, **kwargs).sample, plain)


# ---------------------------------------------------------------- losses
def test_memory_losses_match_the_formulas_on_hand_made_tensors() -> None:
    prediction = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    real = torch.tensor([[1.0, 0.0], [1.0, 1.0]])  # cos: [[1, 1/sqrt2], [0, 1/sqrt2]] -> min 0
    generated = torch.tensor([[1.0, 1.0], [-1.0, 0.0]])  # cos: [[1/sqrt2, -1], [1/sqrt2, 0]] -> max 1/sqrt2
    assert representativeness_loss(prediction, real).item() == pytest.approx(0.002 * (1 - 0.0), abs=1e-9)
    assert diversity_loss(prediction, generated).item() == pytest.approx(0.008 / math.sqrt(2), abs=1e-9)
    # a prediction equal to a memory item: representativeness 0 when all pairs are parallel, diversity = lambda
    assert representativeness_loss(real[:1], real[:1] * 3).item() == pytest.approx(0.0, abs=1e-7)
    assert diversity_loss(real[:1], real[:1] * 3).item() == pytest.approx(0.008, abs=1e-9)

    real_memory, generated_memory = MemoryBank(64), MemoryBank(64)
    labels = torch.tensor([0, 0, 1])
    first = memory_losses(prediction.repeat(2, 1)[:3], real.repeat(2, 1)[:3], labels, real_memory, generated_memory)
    assert [loss.item() for loss in first] == [0.0, 0.0]  # empty memories before the first batch
    real_memory.push(0, real)  # class 0 real memory: [1,0], [1,1] (first batch) + [1,0], [1,1]
    generated_memory.push(0, generated)  # class 0 generated memory: [1,0], [0,1] (first batch) + generated
    batch = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 0.0]], requires_grad=True)
    pos, neg = memory_losses(batch, batch.detach(), labels, real_memory, generated_memory)
    # class 0, predictions [1,0], [0,1]: real memory {[1,0],[1,1]} -> min cos 0 ([0,1] vs [1,0]);
    # generated memory {[1,0],[0,1],[1,1],[-1,0]} -> max cos 1. Class 1, prediction [2,0]: real {[1,0]} and
    # generated {[1,0]} (pushed by the first batch) -> cos 1 for both. Two classes present: halve.
    pos0, neg0 = 0.002 * (1 - 0.0), 0.008 * 1.0
    pos1, neg1 = 0.002 * (1 - 1.0), 0.008 * 1.0
    assert pos.item() == pytest.approx((pos0 + pos1) / 2, abs=1e-8)
    assert neg.item() == pytest.approx((neg0 + neg1) / 2, abs=1e-8)
    (pos - neg).backward()
    assert batch.grad is not None and batch.grad.abs().sum() > 0


def test_memory_bank_is_a_fifo_of_the_last_size_items() -> None:
    bank = MemoryBank(size=4)
    bank.push(3, torch.arange(6.0).reshape(6, 1, 1))
    assert bank.get(3).flatten().tolist() == [2.0, 3.0, 4.0, 5.0]
    bank.push(3, torch.tensor([[[9.0]]]))
    assert bank.get(3).flatten().tolist() == [3.0, 4.0, 5.0, 9.0]
    assert bank.get(0) is None and len(bank) == 4
    clone = MemoryBank(4)
    clone.load_state_dict(bank.state_dict())
    assert torch.equal(clone.get(3), bank.get(3))


def basicsr_round_trip_mse(images: np.ndarray, scale: int) -> float:
    """MSE between ``(N, C, H, W)`` images and their x1/scale -> x scale MATLAB bicubic round trip, with
    BasicSR's own ``imresize`` image by image (float64 mean)."""
    errors = []
    for image in images.astype(np.float32):
        hwc = image.transpose(1, 2, 0)
        up = basicsr_imresize(basicsr_imresize(hwc, 1 / scale), scale)[: hwc.shape[0], : hwc.shape[1]]
        errors.append((hwc.astype(np.float64) - up) ** 2)
    return float(np.mean(errors))


def test_sr_loss_has_gradient_and_equals_basicsr_bicubic_round_trip_mse() -> None:
    image = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0), requires_grad=True)
    loss = sr_loss(image, scale=4)
    assert loss.item() == pytest.approx(basicsr_round_trip_mse(image.detach().numpy(), 4), rel=1e-5)
    assert sr_loss(image, scale=2).item() == pytest.approx(basicsr_round_trip_mse(image.detach().numpy(), 2), rel=1e-5)
    loss.backward()
    assert image.grad.abs().sum() > 0


def numpy_variational_bound(
    x0: np.ndarray, x_t: np.ndarray, t: np.ndarray, eps: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """DiT's ``vb`` term per sample (bits/dim), by hand in float64 from Ho et al. 2020 and Nichol & Dhariwal 2021.

    q(x_{t-1} | x_t, x0) = N(mu_q, beta~_t) with mu_q from x0 and x_t (Ho Eq. 7); the model's mean from the
    noise prediction (Ho Eq. 11, an independent form of the same mean); the model's log-variance
    v log beta_t + (1 - v) log beta~_t with v = (values + 1) / 2 (Nichol & Dhariwal Eq. 15; beta~_0 replaced by
    beta~_1, DiT's clipped log-variance). KL of two Gaussians for t > 0; at t = 0 the negative log-likelihood of
    x0 under the model's Gaussian integrated over x0's 8-bit bin (width 2/255; the outer bins reach infinity,
    Ho Eq. 13) with DiT's tanh approximation of the normal CDF.
    """
    betas = np.linspace(1e-4, 0.02, 1000, dtype=np.float32).astype(np.float64)
    alpha_bar = np.cumprod(1.0 - betas)
    alpha_bar_prev = np.concatenate([[1.0], alpha_bar[:-1]])
    posterior_variance = betas * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    posterior_variance[0] = posterior_variance[1]
    shape = (-1,) + (1,) * (x0.ndim - 1)
    beta, abar, abar_prev, tilde = (a[t].reshape(shape) for a in (betas, alpha_bar, alpha_bar_prev, posterior_variance))
    true_mean = np.sqrt(abar_prev) * beta / (1 - abar) * x0 + np.sqrt(1 - beta) * (1 - abar_prev) / (1 - abar) * x_t
    model_mean = (x_t - beta / np.sqrt(1 - abar) * eps) / np.sqrt(1 - beta)
    fraction = (values + 1.0) / 2.0
    model_variance = np.exp(fraction * np.log(beta) + (1.0 - fraction) * np.log(tilde))
    kl = 0.5 * np.log(model_variance / tilde) + (tilde + (true_mean - model_mean) ** 2) / (2 * model_variance) - 0.5

    def cdf(z: np.ndarray) -> np.ndarray:
        return 0.5 * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (z + 0.044715 * z**3)))

    sigma = np.sqrt(model_variance)
    upper, lower = cdf((x0 - model_mean + 1 / 255) / sigma), cdf((x0 - model_mean - 1 / 255) / sigma)
    probability = np.where(x0 < -0.999, upper, np.where(x0 > 0.999, 1.0 - lower, upper - lower))
    nll = -np.log(probability)
    per_dim = np.where(t.reshape(shape) == 0, nll, kl)
    return per_dim.reshape(len(t), -1).mean(axis=1) / np.log(2.0)


def vlb_inputs() -> tuple[torch.Tensor, ...]:
    """Latents with entries at the bin edges -1 and 1, a noisy eps prediction and variance values in (-1, 1)."""
    generator = torch.Generator().manual_seed(4)
    t = torch.tensor([0, 0, 1, 5, 50, 400])
    x0 = torch.rand(6, 4, 4, 4, generator=generator) * 2 - 1
    x0[:, 0, 0, :2] = torch.tensor([-1.0, 1.0])  # the outer bins of the t = 0 decoder likelihood
    noise = torch.randn(6, 4, 4, 4, generator=generator)
    alpha_bar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000).double(), 0)[t].float().reshape(-1, 1, 1, 1)
    x_t = alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise
    eps = noise + 0.3 * torch.randn(6, 4, 4, 4, generator=generator)  # an imperfect prediction
    values = torch.rand(6, 4, 4, 4, generator=generator) * 2 - 1
    return x0, x_t, t, eps, values


def test_vlb_equals_the_closed_form_kl_and_decoder_likelihood() -> None:
    x0, x_t, t, eps, values = vlb_inputs()
    eps.requires_grad_(True)
    values.requires_grad_(True)
    vlb = dit_variational_bound(torch.linspace(1e-4, 0.02, 1000), x0, x_t, t, eps, values)
    expected = numpy_variational_bound(*(a.detach().double().numpy() for a in (x0, x_t)), t.numpy(),
                                       eps.detach().double().numpy(), values.detach().double().numpy())  # fmt: skip
    np.testing.assert_allclose(vlb.detach().double().numpy(), expected, rtol=5e-4)  # float32 inside
    assert expected[0] != expected[1]  # t = 0: the decoder likelihood depends on the sample
    vlb.sum().backward()
    assert eps.grad is None and values.grad.abs().sum() > 0  # the mean is detached: only the variance trains


# ---------------------------------------------------------------- sampling
def test_sampling_is_per_image_deterministic_and_follows_dit_respacing() -> None:
    components = load_dit_components(None, num_classes=3)
    mark_difffit_trainable(components.transformer)
    one = sample_images(components, [0, 1, 2], num_steps=3, batch_size=3, seed=7)
    two = sample_images(components, [0, 1, 2], num_steps=3, batch_size=2, seed=7)
    shard = sample_images(components, [2], num_steps=3, seed=7, first_index=2)
    assert one.shape == (3, 16, 16, 3) and one.dtype == np.uint8
    assert np.array_equal(one, two) and np.array_equal(one[2:], shard)
    # DiT's space_timesteps(1000, "50"): round(i * 999 / 49); the "ddpm" sampler uses exactly these.
    sampler = components.make_sample_scheduler("ddpm")
    sampler.set_timesteps(50)
    assert sampler.timesteps.flip(0).tolist() == [round(i * 999 / 49) for i in range(50)]
    with pytest.raises(ValueError, match="outside"):
        sample_images(components, [1000], num_steps=1)


# ---------------------------------------------------------------- loading and checkpoints
def test_pretrained_folder_round_trip_and_missing_subfolders(tmp_path: Path) -> None:
    # A diffusers-format folder as the converted DiT checkpoints are: one embedder copy per block, all equal.
    torch.manual_seed(3)
    transformer, vae = DiTTransformer2DModel(**TINY_TRANSFORMER), AutoencoderKL(**TINY_VAE)
    for block in transformer.transformer_blocks[1:]:
        block.norm1.emb.load_state_dict(transformer.transformer_blocks[0].norm1.emb.state_dict())
    transformer.save_pretrained(tmp_path / "dit" / "transformer")
    vae.save_pretrained(tmp_path / "dit" / "vae")
    loaded = load_dit_components(tmp_path / "dit", num_classes=7)
    assert not loaded.random_weights and loaded.source == str(tmp_path / "dit")
    reference = transformer.state_dict()
    for name, tensor in loaded.transformer.state_dict().items():
        assert torch.equal(tensor, reference[name]), name
    blocks = loaded.transformer.transformer_blocks
    assert blocks[1].norm1.emb is blocks[0].norm1.emb  # tied back into DiT's single embedder
    (tmp_path / "only_transformer" / "transformer").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no vae/ subfolder"):
        load_dit_components(tmp_path / "only_transformer")
    (tmp_path / "only_vae" / "vae").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no transformer/ subfolder"):
        load_dit_components(tmp_path / "only_vae")
    with pytest.raises(FileNotFoundError, match="absent: no diffusers DiT .*: no local file or folder"):
        load_dit_components(tmp_path / "absent")


def test_more_classes_than_the_class_embedding_is_refused(tmp_path: Path) -> None:
    small = {"transformer": {"num_embeds_ada_norm": 4}}
    assert load_dit_components(None, tiny=small, num_classes=4).null_class == 4
    with pytest.raises(ValueError, match="do not fit the DiT's class embedding"):
        load_dit_components(None, tiny=small, num_classes=5)
    with pytest.raises(ValueError, match="do not fit"):
        DiTDiffFitModel(tiny_opt(tmp_path, num_classes=1001))


def test_difffit_checkpoint_holds_only_trainable_tensors_and_refuses_other_configs(tmp_path: Path) -> None:
    components = load_dit_components(None)
    counts = mark_difffit_trainable(components.transformer)
    with torch.no_grad():
        components.transformer.transformer_blocks[0].ff.difffit_gamma.fill_(0.5)
    save_difffit_checkpoint(tmp_path / "net_g_1.pth", components.transformer)
    saved = torch.load(tmp_path / "net_g_1.pth", weights_only=True)
    assert sum(t.numel() for t in saved["params"].values()) == counts["trainable"]
    fresh = load_dit_components(None).transformer  # no gammas yet: inserted from the checkpoint
    load_difffit_checkpoint(fresh, tmp_path / "net_g_1.pth")
    assert torch.equal(fresh.transformer_blocks[0].ff.difffit_gamma, torch.full((16,), 0.5))
    with pytest.raises(ValueError, match="different configuration.*num_layers"):
        load_difffit_checkpoint(load_dit_components(None, tiny={"transformer": {"num_layers": 4}}).transformer,
                                tmp_path / "net_g_1.pth")  # fmt: skip
    with pytest.raises(ValueError, match="different frozen base weights"):
        load_difffit_checkpoint(load_dit_components(None, seed=1).transformer, tmp_path / "net_g_1.pth")
    with pytest.raises(FileNotFoundError):
        load_difffit_checkpoint(fresh, tmp_path / "absent.pth")


# ---------------------------------------------------------------- the BasicSR model
def model_state(model: DiTDiffFitModel) -> dict:
    bare = model.get_bare_model(model.net_g)
    names = [name for name, p in bare.named_parameters() if p.requires_grad]
    return {
        "params": {name: p.detach().clone() for name, p in bare.named_parameters() if name in names},
        "ema": {name: p.detach().clone() for name, p in model.net_g_ema.named_parameters()},
        "optimizer": copy.deepcopy(model.optimizer_g.state_dict()["state"]),
        "memories": (model.real_memory.state_dict(), model.generated_memory.state_dict()),
        "rng": model.rng.get_state(),
        "iter": model.current_iter,
    }


def assert_same(a: object, b: object, where: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{index}]")
    elif torch.is_tensor(a):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def test_resume_gives_the_same_state_as_an_uninterrupted_run(tmp_path: Path) -> None:
    data = batches(4)
    straight = DiTDiffFitModel(tiny_opt(tmp_path / "a"))
    for step, batch in enumerate(data, start=1):
        straight.feed_data(batch)
        straight.optimize_parameters(step)

    opt = tiny_opt(tmp_path / "b")
    first = DiTDiffFitModel(opt)
    for step, batch in enumerate(data[:2], start=1):
        first.feed_data(batch)
        first.optimize_parameters(step)
    first.save(epoch=0, current_iter=2)
    assert (Path(opt["path"]["models"]) / "net_g_2.pth").is_file()

    resumed_opt = copy.deepcopy(opt)
    resumed_opt["path"]["pretrain_network_g"] = os.path.join(opt["path"]["models"], "net_g_2.pth")
    resumed = DiTDiffFitModel(resumed_opt)
    resumed.resume_training(torch.load(os.path.join(opt["path"]["training_states"], "2.state"), weights_only=True))
    for step, batch in enumerate(data[2:], start=3):
        resumed.feed_data(batch)
        resumed.optimize_parameters(step)
    assert_same(model_state(straight), model_state(resumed))
    assert resumed.current_iter == 4 and len(resumed.real_memory) == 8


@pytest.mark.parametrize("hflip", [True, False])
def test_hflip_flips_each_image_by_the_model_generator(tmp_path: Path, hflip: bool) -> None:
    # The authors' RandomHorizontalFlip, moved from the dataset into the model: drawn first in a step
    # from the generator the training state saves, so a resumed run flips as the uninterrupted one.
    opt = tiny_opt(tmp_path)
    opt["train"]["hflip"] = hflip
    model = DiTDiffFitModel(opt)
    gt = torch.rand(8, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    flipped = torch.rand(8, generator=torch.Generator().set_state(model.rng.get_state())) < 0.5
    assert 0 < int(flipped.sum()) < 8  # this seed flips some and keeps some
    seen, encode = [], model.vae.encode
    model.vae.encode = lambda x: (seen.append(x.clone()), encode(x))[1]
    model.feed_data({"gt": gt, "label": torch.zeros(8, dtype=torch.long)})
    model.optimize_parameters(1)
    expected = torch.where(flipped[:, None, None, None], gt.flip(-1), gt) if hflip else gt
    assert torch.equal(seen[0], expected * 2 - 1)


def test_patch_dataset_refuses_use_hflip(tmp_path: Path) -> None:
    folder, csv_path = write_patches(tmp_path, count=2)
    with pytest.raises(ValueError, match="use_hflip is not a dataset option; set train.hflip"):
        PseudoLabelPatchDataset({"dataroot_gt": str(folder), "labels_csv": str(csv_path), "use_hflip": True})


def test_resume_with_another_configuration_is_refused(tmp_path: Path) -> None:
    opt = tiny_opt(tmp_path)
    model = DiTDiffFitModel(opt)
    model.feed_data(batches(1)[0])
    model.optimize_parameters(1)
    model.save(epoch=0, current_iter=1)
    other = copy.deepcopy(opt)
    other["network_g"]["gamma_blocks"] = 2
    other["path"]["pretrain_network_g"] = os.path.join(opt["path"]["models"], "net_g_1.pth")
    with pytest.raises(ValueError, match="different configuration.*gamma_blocks"):
        DiTDiffFitModel(other)
    other["path"]["pretrain_network_g"] = None
    state = torch.load(os.path.join(opt["path"]["training_states"], "1.state"), weights_only=True)
    with pytest.raises(ValueError, match="training state of iter 1: made for a different configuration"):
        DiTDiffFitModel(other).resume_training(state)


def test_sr_loss_acts_only_when_on(tmp_path: Path) -> None:
    batch = batches(1)[0]
    results = {}
    for weight in (0.0, 1.0):
        opt = tiny_opt(tmp_path / str(weight))
        opt["train"]["sr_loss"]["weight"] = weight
        model = DiTDiffFitModel(opt)
        model.feed_data(batch)
        model.optimize_parameters(1)
        bare = model.get_bare_model(model.net_g)
        results[weight] = (model.get_current_log(), [p.grad.clone() for p in bare.parameters() if p.requires_grad])
    assert "l_sr" not in results[0.0][0]
    assert results[1.0][0]["l_sr"] < 0  # subtracted: rewards detail lost by a bicubic round trip
    assert any(not torch.equal(a, b) for a, b in zip(results[0.0][1], results[1.0][1]))
    assert results[0.0][0]["l_mse"] == results[1.0][0]["l_mse"]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T


def observed_step(model: DiTDiffFitModel, batch: dict) -> dict:
    """Run one ``optimize_parameters`` and return what the step drew and computed (observed, not replaced)."""
    seen: dict = {}
    add_noise = model.train_scheduler.add_noise

    def recording_add_noise(latents: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        seen.update(x0=latents.clone(), noise=noise.clone(), t=timesteps.clone())
        noisy = add_noise(latents, noise, timesteps)
        seen["x_t"] = noisy.clone()
        return noisy

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict, output: object) -> None:
        assert torch.equal(args[0], seen["x_t"]) and torch.equal(kwargs["timestep"], seen["t"])
        seen["output"] = output.sample.detach().clone()

    model.train_scheduler.add_noise = recording_add_noise
    handle = model.net_g.register_forward_hook(hook, with_kwargs=True)
    try:
        model.feed_data(batch)
        model.optimize_parameters(1)
    finally:
        handle.remove()
        del model.train_scheduler.add_noise
    return {key: value.double().numpy() if value.is_floating_point() else value.numpy() for key, value in seen.items()}


@pytest.mark.parametrize(
    ("switch", "train"),
    [
        ("none", {}),
        ("vlb", {"vlb_weight": 40.0}),
        ("pos", {"memory": {"size": 64, "lambda_pos": 3.0, "lambda_neg": 0.0}}),
        ("neg", {"memory": {"size": 64, "lambda_pos": 0.0, "lambda_neg": 5.0}}),
        ("sr_pixel", {"sr_loss": {"weight": 300.0, "scale": 4, "space": "pixel"}}),
        ("sr_latent", {"sr_loss": {"weight": 2.0, "scale": 4, "space": "latent"}}),
    ],
)
def test_total_loss_is_the_hand_sum_with_each_weight_alone(tmp_path: Path, switch: str, train: dict) -> None:
    opt = tiny_opt(tmp_path)
    opt["train"].update(vlb_weight=0.0, memory={"size": 64, "lambda_pos": 0.0, "lambda_neg": 0.0})
    opt["train"]["sr_loss"]["weight"] = 0.0
    opt["train"].update(train)
    model = DiTDiffFitModel(opt)
    batch = batches(1)[0]  # labels 0 and 1
    generator = torch.Generator().manual_seed(9)
    real = {label: torch.randn(3, 4, 8, 8, generator=generator) for label in (0, 1)}
    generated = {label: torch.randn(2, 4, 8, 8, generator=generator) for label in (0, 1)}
    for label in (0, 1):  # memories before this batch, so that both memory terms are non-zero
        model.real_memory.push(label, real[label])
        model.generated_memory.push(label, generated[label])
    seen = observed_step(model, batch)
    log = model.get_current_log()

    eps, values = seen["output"][:, :4], seen["output"][:, 4:]
    alpha_bar = np.cumprod(1 - np.linspace(1e-4, 0.02, 1000, dtype=np.float32).astype(np.float64))[seen["t"]]
    alpha_bar = alpha_bar.reshape(-1, 1, 1, 1)
    x0_hat = (seen["x_t"] - np.sqrt(1 - alpha_bar) * eps) / np.sqrt(alpha_bar)
    terms = {"l_mse": float(np.mean((eps - seen["noise"]) ** 2))}
    if switch == "vlb":
        terms["l_vlb"] = 40.0 * float(numpy_variational_bound(seen["x0"], seen["x_t"], seen["t"], eps, values).mean())
    if switch == "pos":  # each class against its real memory, averaged over the classes of the batch
        terms["l_pos"] = 3.0 * np.mean([1 - cosine(x0_hat[[i]], real[i].numpy()).min() for i in (0, 1)])
    if switch == "neg":
        terms["l_neg"] = 5.0 * np.mean([cosine(x0_hat[[i]], generated[i].numpy()).max() for i in (0, 1)])
    if switch == "sr_pixel":  # subtracted, on the VAE-decoded prediction in [0, 1]
        with torch.no_grad():
            decoded = model.vae.decode(torch.from_numpy(x0_hat / 0.18215).float()).sample.double().numpy()
        terms["l_sr"] = -300.0 * basicsr_round_trip_mse(decoded / 2 + 0.5, 4)
    if switch == "sr_latent":
        terms["l_sr"] = -2.0 * basicsr_round_trip_mse(x0_hat, 4)
    for name, value in terms.items():
        assert log[name] == pytest.approx(value, rel=1e-4, abs=1e-7), name
    assert log["l_total"] == pytest.approx(sum(terms.values()), rel=1e-5)
    assert all(log.get(name, 0.0) == 0.0 for name in ("l_vlb", "l_pos", "l_neg", "l_sr") if name not in terms)
    if switch != "none":
        switched = sum(terms.values()) - terms["l_mse"]
        assert abs(switched) > 0.01 * abs(terms["l_mse"])  # the switched-on term is not negligible in the sum


# ---------------------------------------------------------------- dataset
def test_patch_dataset_reads_rgb_labels_and_resizes(tmp_path: Path) -> None:
    folder, csv_path = write_patches(tmp_path, count=3, size=20)
    red = np.zeros((20, 20, 3), np.uint8)
    red[:, :, 2] = 255  # BGR on disk
    cv2.imwrite(str(folder / "p0.png"), red)
    dataset = PseudoLabelPatchDataset({"dataroot_gt": str(folder), "labels_csv": str(csv_path), "resolution": 16})
    item = dataset[0]
    assert item["gt"].shape == (3, 16, 16) and item["label"] == 0 and item["gt_path"].endswith("p0.png")
    assert torch.allclose(item["gt"][0], torch.ones(16, 16)) and item["gt"][1:].abs().max() == 0
    assert dataset.labels == [0, 1, 2] and dataset.num_classes == 3 and len(dataset) == 3


def test_patch_dataset_errors_name_the_file(tmp_path: Path) -> None:
    folder, csv_path = write_patches(tmp_path, count=2)
    opt = {"dataroot_gt": str(folder), "labels_csv": str(csv_path)}
    with pytest.raises(FileNotFoundError, match="no labels CSV"):
        PseudoLabelPatchDataset({**opt, "labels_csv": str(tmp_path / "absent.csv")})
    csv_path.write_text("name,label\np0.png,0\nmissing.png,1\n")
    with pytest.raises(FileNotFoundError, match=r"labels.csv:3: listed patch .*missing.png"):
        PseudoLabelPatchDataset(opt)
    csv_path.write_text("name,label\np0.png,x\n")
    with pytest.raises(ValueError, match="labels.csv:2: label 'x' is not an integer"):
        PseudoLabelPatchDataset(opt)
    csv_path.write_text("file,cluster\np0.png,0\n")
    with pytest.raises(ValueError, match="header"):
        PseudoLabelPatchDataset(opt)


# ---------------------------------------------------------------- BasicSR's train pipeline
def run_training(cwd: Path, opt_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "2", "CUDA_VISIBLE_DEVICES": ""}
    command = [sys.executable, "-m", "basicsr_distill.train", "-opt", str(opt_path), *extra]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    root = tmp_path_factory.mktemp("pipeline")
    opt = tiny_opt(root)
    options = {key: opt[key] for key in ("name", "model_type", "num_gpu", "manual_seed", "network_g", "train", "val")}
    options.update(datasets=opt["datasets"], path={"pretrain_network_g": None, "resume_state": None})
    options["logger"] = dict(opt["logger"])
    options["train"]["total_iter"] = 2
    opt_path = root / "tiny.yml"
    opt_path.write_text(yaml.safe_dump(json.loads(json.dumps(options))))
    return root, opt_path, run_training(root, opt_path)


def test_basicsr_train_pipeline_writes_checkpoints_and_class_grids(trained: tuple) -> None:
    root, _, result = trained
    assert result.returncode == 0, result.stderr[-3000:]
    experiment = root / "experiments" / "finetune_dit_tiny"
    assert "RANDOM WEIGHTS" in (result.stdout + result.stderr)
    assert (experiment / "models" / "net_g_2.pth").is_file()
    assert (experiment / "training_states" / "2.state").is_file()
    grid = cv2.imread(str(experiment / "visualization" / "class_002" / "finetune_dit_tiny_2.png"))
    assert grid.shape == (2 + 16 + 2, 2 * (16 + 2) + 2, 3)  # 2 samples side by side, 2-pixel padding


def test_basicsr_auto_resume_continues_from_the_last_state(trained: tuple) -> None:
    root, opt_path, first = trained
    assert first.returncode == 0, first.stderr[-3000:]
    options = yaml.safe_load(opt_path.read_text())
    options["train"]["total_iter"] = 4
    options["val"]["val_freq"] = 100
    opt_path.write_text(yaml.safe_dump(options))
    result = run_training(root, opt_path, "--auto_resume")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resuming training from epoch: 0, iter: 2" in result.stdout + result.stderr
    assert (root / "experiments" / "finetune_dit_tiny" / "models" / "net_g_4.pth").is_file()


@pytest.mark.parametrize(("name", "k"), [("finetune_dit_ost.yml", 7), ("finetune_dit_div2k.yml", 14)])
def test_published_option_files_carry_the_papers_hyper_parameters(name: str, k: int) -> None:
    with open(TINY_YML.parent / name) as handle:
        opt = yaml.load(handle, Loader=ordered_yaml()[0])
    assert opt["model_type"] == "DiTDiffFitModel"
    assert opt["network_g"]["num_classes"] == k and opt["network_g"]["pretrained"] == "pretrained_models/DiT-XL-2-512"
    train = opt["datasets"]["train"]
    assert (
        train["type"] == "PseudoLabelPatchDataset" and train["resolution"] == 512 and train["batch_size_per_gpu"] == 4
    )
    assert opt["train"]["optim_g"] == {"type": "AdamW", "lr": 1e-3, "weight_decay": 0, "betas": [0.9, 0.999]}
    assert opt["train"]["ema_decay"] == 0.9999 and "scheduler" not in opt["train"] and opt["train"]["hflip"] is True
    assert opt["train"]["memory"] == {"size": 64, "lambda_pos": 0.002, "lambda_neg": 0.008}
    assert opt["train"]["sr_loss"]["weight"] == 0.0  # off by default
    assert (opt["val"]["num_steps"], opt["val"]["guidance_scale"]) == (50, 4.0)
