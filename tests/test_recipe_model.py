"""``RecipeSRModel``: DRRN's SGD with adjustable gradient clipping trains a tiny DRRN on the CPU and its optimizer
state resumes exactly; IDN's L1 -> MSE fine-tuning switches at its iteration (Tai et al. 2017; Hui et al. 2018)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from basicsr.models import build_model

import basicsr_distill.register  # noqa: F401  (registers RecipeSRModel, DRRN, IDN)
from basicsr_distill.models.recipe_sr_model import check_grad_clip
from basicsr_distill.tables.option_files import train_option
from basicsr_distill.tables.rows import Row, tables


def tiny_options(row: Row, tmp_path: Path) -> dict:
    """The generated option file of ``row`` for a tiny network on the CPU (its train: block unchanged)."""
    opt = train_option(row)
    opt.update(is_train=True, dist=False, num_gpu=0, rank=0, world_size=1)
    opt["path"] = {"pretrain_network_g": None, "strict_load_g": True, "training_states": str(tmp_path)}
    if row.arch == "DRRN":
        opt["network_g"].update(num_feat=8, num_units=2)
    return copy.deepcopy(opt)


def batch(seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lq = torch.rand(2, 1, 8, 8, generator=generator)
    return {"lq": lq, "gt": torch.nn.functional.interpolate(lq, scale_factor=2, mode="bilinear")}


def drrn_row() -> Row:
    return next(r.row for r in tables()["table1"].rows if r.group == "DRRN" and r.label == "full")


def test_drrn_sgd_with_adjustable_clipping_trains_and_resumes(tmp_path: Path) -> None:
    torch.manual_seed(0)  # the network's initialisation: independent of the tests run before
    opt = tiny_options(drrn_row(), tmp_path)
    assert opt["model_type"] == "RecipeSRModel"
    assert opt["train"]["optim_g"] == {"type": "SGD", "lr": 0.1, "momentum": 0.9, "weight_decay": 1e-4}
    assert opt["train"]["grad_clip"] == {"type": "adjustable", "theta": 0.01}
    model = build_model(copy.deepcopy(opt))
    assert isinstance(model.optimizer_g, torch.optim.SGD)
    for step in range(1, 4):
        model.feed_data(batch(step))
        model.optimize_parameters(step)
        model.update_learning_rate(step)
    grads = [p.grad.abs().max().item() for p in model.net_g.parameters() if p.grad is not None]
    assert max(grads) == pytest.approx(0.01 / 0.1)  # clipped to theta / lr (the bound is reached)
    model.save_training_state(0, 3)
    state = torch.load(tmp_path / "3.state", map_location="cpu")
    assert state["optimizers"][0]["state"][0]["momentum_buffer"] is not None

    resumed = build_model(copy.deepcopy(opt))
    resumed.net_g.load_state_dict(model.net_g.state_dict())
    resumed.resume_training(state)
    momentum = resumed.optimizer_g.state_dict()["state"]
    expected = model.optimizer_g.state_dict()["state"]
    assert all(torch.equal(momentum[k]["momentum_buffer"], expected[k]["momentum_buffer"]) for k in expected)
    for each in (model, resumed):  # one more step: the same weights only if the momentum was resumed
        each.feed_data(batch(4))
        each.optimize_parameters(4)
    for a, b in zip(model.net_g.parameters(), resumed.net_g.parameters()):
        assert torch.equal(a, b)


def test_idn_switches_from_l1_to_mse_at_its_iteration(tmp_path: Path) -> None:
    row = next(r.row for r in tables()["table1"].rows if r.group == "IDN" and r.label == "full")
    opt = tiny_options(row, tmp_path)
    assert opt["train"]["pixel_opt"]["type"] == "L1Loss"
    finetune = opt["train"]["pixel_opt_finetune"]
    assert (finetune["type"], finetune["start_iter"]) == ("MSELoss", round(0.8 * row.total_iter))
    finetune["start_iter"] = 1
    opt["network_g"] = {"type": "FSRCNN", "upscale": 2, "num_in_ch": 1, "num_out_ch": 1}  # tiny stand-in
    model = build_model(opt)
    names = []
    for step in (1, 2):
        model.feed_data(batch(step))
        model.optimize_parameters(step)
        names.append(type(model.cri_pix).__name__)
    assert names == ["L1Loss", "MSELoss"]


@pytest.mark.parametrize(
    "clip,line",
    [
        ({"type": "value", "theta": 1}, "train.grad_clip: expected type norm or adjustable, got {'type': 'value', "),
        ({"type": "norm", "theta": 1}, "train.grad_clip: type norm takes one positive max_norm, got "),
        ({"type": "adjustable", "theta": 0}, "train.grad_clip: type adjustable takes one positive theta, got "),
    ],
)
def test_bad_clipping_options_name_the_key(clip: dict, line: str) -> None:
    with pytest.raises(ValueError) as error:
        check_grad_clip(clip)
    assert str(error.value).startswith(line)


def test_swinir_x3_row_starts_from_the_x2_model_despite_its_other_upsampler(tmp_path: Path) -> None:
    """Table 3's x3 row loads the x2 row's final weights (path.pretrain_network_g, non-strict): every tensor but the
    upsampler's comes from x2 (SwinIR's official classical recipe), in the network and its EMA copy."""
    x3 = next(r.row for r in tables()["table3"].rows if (r.group, r.label) == ("x3", "DES 50%"))
    tiny = {"embed_dim": 12, "depths": [1], "num_heads": [2], "window_size": 4, "img_size": 8}
    models = {}
    for row in (x3.x2_source, x3):
        opt = tiny_options(row, tmp_path)
        opt["network_g"].update(tiny)
        opt["path"]["pretrain_network_g"] = str(tmp_path / "net_g_latest.pth") if row is x3 else None
        opt["path"]["strict_load_g"] = train_option(row)["path"]["strict_load_g"]
        opt["path"]["models"] = str(tmp_path)
        models[row.scale] = build_model(opt)
        if row.scale == 2:
            models[2].save_network([models[2].net_g, models[2].net_g_ema], "net_g", -1, ["params", "params_ema"])
    x2_state, x3_state = models[2].net_g.state_dict(), models[3].net_g.state_dict()
    shared = [k for k in x3_state if k in x2_state and x2_state[k].shape == x3_state[k].shape]
    assert len(shared) >= len(x3_state) - 2  # the upsampler's conv (weight, bias) is new at x3
    assert all(torch.equal(x2_state[k], x3_state[k]) for k in shared)
    assert all(torch.equal(models[2].net_g_ema.state_dict()[k], models[3].net_g_ema.state_dict()[k]) for k in shared)
