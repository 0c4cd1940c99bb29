"""Tests of the registered archs (SRCNN, FSRCNN, DRRN, IDN, RDN) and the pretrained-port converter.

CPU only, tiny inputs. Parameter counts are checked against the published figures; each test states
whether the paper counted convolution weights only or biases too.
"""

from __future__ import annotations

import importlib.util
import math
import re
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from basicsr.archs import build_network
from basicsr.utils.matlab_functions import imresize as basicsr_imresize
from basicsr.utils.registry import ARCH_REGISTRY
from torch import nn

import basicsr_distill.register  # noqa: F401  (registers the archs)
from basicsr_distill.archs.convert import convert_pretrained, map_port_keys
from basicsr_distill.archs.drrn_arch import DRRN
from basicsr_distill.archs.fsrcnn_arch import FSRCNN
from basicsr_distill.archs.idn_arch import IDN
from basicsr_distill.archs.rdn_arch import RDN
from basicsr_distill.archs.srcnn_arch import SRCNN
from basicsr_distill.ops.matlab_resize import imresize

_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "convert_pretrained.py"
_spec = importlib.util.spec_from_file_location("convert_pretrained_script", _SCRIPT)
_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_script)
convert_main = _script.main

#: Small variants for the shape tests (the published sizes are exercised by one forward each below).
SMALL = {
    "SRCNN": {},
    "FSRCNN": {},
    "DRRN": {"num_units": 2, "num_feat": 16},
    "IDN": {"num_feat": 32, "d": 8, "num_blocks": 2},
    "RDN": {"num_feat": 16, "num_blocks": 2, "num_layers": 2, "growth_rate": 8},
}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


def conv_weights(model: nn.Module) -> int:
    """Number of convolution / deconvolution weights (no biases, no PReLU slopes)."""
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)))


def all_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("arch", sorted(SMALL))
def test_forward_shape(arch: str, scale: int, channels: int) -> None:
    model = build_network(
        {"type": arch, "upscale": scale, "num_in_ch": channels, "num_out_ch": channels, **SMALL[arch]}
    )
    lr = torch.rand(2, channels, 5, 4)
    with torch.no_grad():
        out = model(lr)
    assert out.shape == (2, channels, 5 * scale, 4 * scale)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("arch", ["SRCNN", "FSRCNN", "DRRN", "IDN", "RDN"])
def test_published_config_forward_and_backward(arch: str) -> None:
    model = ARCH_REGISTRY.get(arch)(upscale=2)  # published defaults (RDN: RGB, the others: Y)
    lr = torch.rand(1, 3 if arch == "RDN" else 1, 4, 3)
    out = model(lr)
    assert out.shape[-2:] == (8, 6)
    out.mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_srcnn_rgb_in_y_out_and_fsrcnn_channel_mix() -> None:
    assert SRCNN(upscale=2, num_in_ch=3, num_out_ch=1)(torch.rand(1, 3, 4, 4)).shape == (1, 1, 8, 8)
    assert FSRCNN(upscale=3, num_in_ch=3, num_out_ch=1)(torch.rand(1, 3, 4, 4)).shape == (1, 1, 12, 12)


# ---------------------------------------------------------------------------------------- param counts


def test_srcnn_param_count() -> None:
    # Dong et al. TPAMI 2016 count weights only: 9-5-5 (64/32) = 57,184 ("57K"), 9-1-5 = 8,032.
    model = SRCNN(num_in_ch=1, num_out_ch=1)
    assert conv_weights(model) == 57_184
    assert all_params(model) == 57_281  # + 64 + 32 + 1 biases
    base = SRCNN(num_in_ch=1, num_out_ch=1, f2=1)
    assert conv_weights(base) == 8_032
    assert all_params(base) == 8_129


def test_fsrcnn_param_count() -> None:
    # Dong et al. ECCV 2016 count weights only, 25d + sd + 9ms^2 + ds + 81d = d(2s + 106) + 9ms^2
    # (no biases, no PReLU slopes): FSRCNN(56, 12, 4) = 12,464 = "12.46K".
    for scale in (2, 3, 4):  # the deconvolution's stride does not change its size
        model = FSRCNN(upscale=scale, num_in_ch=1, num_out_ch=1)
        assert conv_weights(model) == 12_464
        assert all_params(model) == 12_464 + 173 + 172  # + conv/deconv biases + PReLU slopes


def test_drrn_param_count() -> None:
    # Tai et al. CVPR 2017 Table 1: DRRN B1U25 "297K". Weights only give 297,216 (= 297K); with the
    # 385 biases it is 297,601 (would round to 298K), and the same table's VDSR "665K" is weights only too
    # (664,704), so the paper counted weights only.
    model = DRRN(num_in_ch=1, num_out_ch=1)
    assert conv_weights(model) == 297_216
    assert all_params(model) == 297_601
    assert len([m for m in model.modules() if isinstance(m, nn.Conv2d)]) == 4  # 52 layers, weights shared
    # B2U9 has a second recursive block with its own 128->128 input conv: (3 * 128 + 1) * 128 * 9 + 2 * 128 * 9.
    assert conv_weights(DRRN(num_recursive_blocks=2, num_units=9)) == 297_216 + 3 * 147_456


def test_idn_param_count() -> None:
    # Hui et al. CVPR 2018: IDN is quoted with 553K parameters (e.g. in the comparison table of the same
    # authors' IMDN, ACM MM 2019). That figure includes biases: 551,040 weights + 1,729 biases = 552,769 = 553K; weights
    # only would be 551K. The size is the same at every scale (the 17x17 deconvolution's stride varies).
    for scale in (2, 3, 4):
        model = IDN(upscale=scale, num_in_ch=1, num_out_ch=1)
        assert conv_weights(model) == 551_040
        assert all_params(model) == 552_769


def test_rdn_param_count() -> None:
    # Zhang et al. CVPR 2018 do not print a count; later comparison tables quote RDN (RGB) at about 22M
    # (22.1M-22.3M depending on the scale), counting weights and biases as torch does:
    expected = {2: 22_123_395, 3: 22_308_035, 4: 22_271_107}
    for scale, count in expected.items():
        model = RDN(upscale=scale, num_in_ch=3, num_out_ch=3)
        assert all_params(model) == count
        assert math.isclose(count, 22e6, rel_tol=0.02)
    assert conv_weights(RDN(upscale=2)) == 22_113_664


# ------------------------------------------------------------------------------- MATLAB pre-upsampling


def _delta(out_ch: int, in_ch: int, size: int, pairs: list[tuple[int, int, float]]) -> torch.Tensor:
    weight = torch.zeros(out_ch, in_ch, size, size)
    for out_index, in_index, value in pairs:
        weight[out_index, in_index, size // 2, size // 2] = value
    return weight


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_srcnn_identity_weights_give_matlab_bicubic_exactly(scale: int) -> None:
    # conv1 splits x into ReLU(x), ReLU(-x); conv2 passes both; conv3 returns their difference = x exactly.
    model = SRCNN(upscale=scale, num_in_ch=1, num_out_ch=1)
    with torch.no_grad():
        model.conv1.weight.copy_(_delta(64, 1, 9, [(0, 0, 1.0), (1, 0, -1.0)]))
        model.conv2.weight.copy_(_delta(32, 64, 5, [(0, 0, 1.0), (1, 1, 1.0)]))
        model.conv3.weight.copy_(_delta(1, 32, 5, [(0, 0, 1.0), (0, 1, -1.0)]))
        for conv in (model.conv1, model.conv2, model.conv3):
            conv.bias.zero_()
        lr = torch.rand(2, 1, 6, 5)
        out = model(lr)
    assert torch.equal(out, imresize(lr, scale))
    # ... which is BasicSR's MATLAB imresize (a = -0.5), not PyTorch's bicubic (a = -0.75).
    reference = basicsr_imresize(lr[0, 0].double().numpy()[..., None], scale)[..., 0]
    np.testing.assert_allclose(out[0, 0].double().numpy(), reference, atol=1e-6)
    torch_bicubic = F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False)
    assert (out - torch_bicubic).abs().max() > 1e-3


@pytest.mark.parametrize("arch", ["DRRN", "IDN"])
def test_global_residual_is_matlab_bicubic(arch: str) -> None:
    model = build_network({"type": arch, "upscale": 3, "num_in_ch": 3, "num_out_ch": 3, **SMALL[arch]})
    last = model.conv_out if arch == "DRRN" else model.deconv
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        lr = torch.rand(1, 3, 4, 5)
        assert torch.equal(model(lr), imresize(lr, 3))


def test_fsrcnn_deconv_places_lr_pixel_i_at_hr_pixel_scale_i() -> None:
    model = FSRCNN(upscale=3, num_in_ch=1, num_out_ch=1, d=1, s=1, m=0)
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Conv2d):
                layer.weight.copy_(_delta(1, 1, layer.kernel_size[0], [(0, 0, 1.0)]))
                layer.bias.zero_()
        model.last_part.weight.copy_(_delta(1, 1, 9, [(0, 0, 1.0)]))
        model.last_part.bias.zero_()
        lr = torch.rand(1, 1, 4, 4)
        out = model(lr)
    assert torch.equal(out[..., ::3, ::3], lr)
    out[..., ::3, ::3] = 0
    assert not out.any()  # every other HR pixel is zero


def test_fsrcnn_bicubic_init_is_matlab_bicubic_x2_away_from_the_border() -> None:
    torch.manual_seed(0)
    model = FSRCNN(upscale=2, num_in_ch=1, num_out_ch=1, init="bicubic")
    lr = torch.rand(1, 1, 20, 24) * 0.8 + 0.1  # images: positive, so the PReLUs pass the identity path
    with torch.no_grad():
        difference = (model(lr) - imresize(lr, 2))[..., 8:-8, 8:-8]  # the kernel reaches 2 LR pixels = 4 HR
    assert difference.abs().max() < 1e-6
    # MATLAB's cubic (a = -0.5) at distances 1.75, 1.25, 0.75, 0.25 of the two HR phases, mirrored; the 2D kernel
    # is their outer product, and each phase sums to 1, so a column sum is the 1D kernel times 2
    taps = [0.0, -0.0234375, -0.0703125, 0.2265625, 0.8671875]
    kernel_1d = model.last_part.weight[0, 0].sum(dim=0) / 2
    assert torch.allclose(kernel_1d, torch.tensor(taps + taps[:0:-1]), atol=1e-6)
    with pytest.raises(ValueError, match="FSRCNN: init 'bicubic' needs upscale 2"):
        FSRCNN(upscale=3, init="bicubic")


# -------------------------------------------------------------------------------- registry and errors


@pytest.mark.parametrize("arch", ["SRCNN", "FSRCNN", "DRRN", "IDN", "RDN"])
def test_build_network_after_import(arch: str) -> None:
    model = build_network({"type": arch, "upscale": 2, **SMALL[arch]})
    assert type(model).__name__ == arch
    assert type(model).__module__ == f"basicsr_distill.archs.{arch.lower()}_arch"


@pytest.mark.parametrize("scale", [1, 5, 8])
def test_rdn_unsupported_scale(scale: int) -> None:
    with pytest.raises(ValueError, match=rf"RDN: unsupported upscale {scale} \(supported: x2, x3, x4\)"):
        RDN(upscale=scale)


@pytest.mark.parametrize("arch", ["SRCNN", "FSRCNN", "DRRN", "IDN"])
@pytest.mark.parametrize("scale", [0, -2, 2.5, True])
def test_invalid_scale(arch: str, scale: object) -> None:
    with pytest.raises(ValueError, match=rf"^{arch}: unsupported upscale {scale!r}"):
        build_network({"type": arch, "upscale": scale, **SMALL[arch]})


def test_bad_channel_and_kernel_args() -> None:
    with pytest.raises(ValueError, match="DRRN: num_in_ch=3 must equal num_out_ch=1"):
        DRRN(num_in_ch=3, num_out_ch=1)
    with pytest.raises(ValueError, match="IDN: num_in_ch=1 must equal num_out_ch=3"):
        IDN(num_in_ch=1, num_out_ch=3)
    with pytest.raises(ValueError, match="SRCNN: kernel size f2=4 must be odd"):
        SRCNN(f2=4)


# --------------------------------------------------------------------------------- pretrained ports


def srcnn_port_state_dict(channels: int = 1, f2: int = 5) -> OrderedDict[str, torch.Tensor]:
    """A state dict with yjn870/SRCNN-pytorch's keys and shapes (its ``SRCNN(num_channels)``)."""
    shapes = {
        "conv1.weight": (64, channels, 9, 9),
        "conv1.bias": (64,),
        "conv2.weight": (32, 64, f2, f2),
        "conv2.bias": (32,),
        "conv3.weight": (channels, 32, 5, 5),
        "conv3.bias": (channels,),
    }
    return OrderedDict((key, torch.randn(shape) * 0.05) for key, shape in shapes.items())


def fsrcnn_port_state_dict(channels: int = 1, d: int = 56, s: int = 12, m: int = 4) -> OrderedDict[str, torch.Tensor]:
    """A state dict with yjn870/FSRCNN-pytorch's keys and shapes (its ``FSRCNN(scale, num_channels, d, s, m)``)."""
    shapes = {"first_part.0.weight": (d, channels, 5, 5), "first_part.0.bias": (d,), "first_part.1.weight": (d,)}
    for index, (cin, cout, k) in enumerate([(d, s, 1)] + [(s, s, 3)] * m + [(s, d, 1)]):
        shapes[f"mid_part.{2 * index}.weight"] = (cout, cin, k, k)
        shapes[f"mid_part.{2 * index}.bias"] = (cout,)
        shapes[f"mid_part.{2 * index + 1}.weight"] = (cout,)
    shapes["last_part.weight"] = (d, channels, 9, 9)
    shapes["last_part.bias"] = (channels,)
    return OrderedDict((key, torch.randn(shape) * 0.05) for key, shape in shapes.items())


def srcnn_port_forward(sd: dict[str, torch.Tensor], upsampled: torch.Tensor) -> torch.Tensor:
    """yjn870/SRCNN-pytorch's forward on an already upscaled image."""
    h = F.relu(F.conv2d(upsampled, sd["conv1.weight"], sd["conv1.bias"], padding=4))
    h = F.relu(F.conv2d(h, sd["conv2.weight"], sd["conv2.bias"], padding=sd["conv2.weight"].shape[-1] // 2))
    return F.conv2d(h, sd["conv3.weight"], sd["conv3.bias"], padding=2)


def fsrcnn_port_forward(sd: dict[str, torch.Tensor], lr: torch.Tensor, scale: int) -> torch.Tensor:
    """yjn870/FSRCNN-pytorch's forward."""
    h = F.prelu(F.conv2d(lr, sd["first_part.0.weight"], sd["first_part.0.bias"], padding=2), sd["first_part.1.weight"])
    index = 0
    while f"mid_part.{index}.weight" in sd:
        weight = sd[f"mid_part.{index}.weight"]
        h = F.conv2d(h, weight, sd[f"mid_part.{index}.bias"], padding=weight.shape[-1] // 2)
        h = F.prelu(h, sd[f"mid_part.{index + 1}.weight"])
        index += 2
    return F.conv_transpose2d(
        h, sd["last_part.weight"], sd["last_part.bias"], stride=scale, padding=4, output_padding=scale - 1
    )


def test_port_names_load_strictly_as_they_are() -> None:
    SRCNN().load_state_dict(srcnn_port_state_dict(), strict=True)
    SRCNN(f2=1).load_state_dict(srcnn_port_state_dict(f2=1), strict=True)
    FSRCNN().load_state_dict(fsrcnn_port_state_dict(), strict=True)
    port = fsrcnn_port_state_dict()
    assert list(map_port_keys(port, "FSRCNN")) == list(port)
    assert list(map_port_keys({f"module.{k}": v for k, v in port.items()}, "FSRCNN")) == list(port)


@pytest.mark.parametrize("scale", [2, 3])
def test_srcnn_port_round_trip(tmp_path, scale: int) -> None:
    port = srcnn_port_state_dict()
    torch.save(port, tmp_path / f"srcnn_x{scale}.pth")
    dst = tmp_path / "pretrained" / "SRCNN.pth"
    convert_pretrained(tmp_path / f"srcnn_x{scale}.pth", dst, "SRCNN", num_in_ch=1, num_out_ch=1)
    checkpoint = torch.load(dst, weights_only=True)
    assert list(checkpoint) == ["params"]
    model = build_network({"type": "SRCNN", "upscale": scale, "num_in_ch": 1, "num_out_ch": 1})
    model.load_state_dict(checkpoint["params"], strict=True)
    lr = torch.rand(1, 1, 5, 6)
    with torch.no_grad():
        assert torch.equal(model(lr), srcnn_port_forward(port, imresize(lr, scale)))


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_fsrcnn_port_round_trip(tmp_path, scale: int) -> None:
    port = fsrcnn_port_state_dict()
    src = tmp_path / "fsrcnn.pth"
    torch.save({"params": OrderedDict((f"module.{k}", v) for k, v in port.items())}, src)  # wrapped + DataParallel
    dst = tmp_path / "FSRCNN.pth"
    assert convert_main([str(src), str(dst), "--arch", "FSRCNN", "--scale", str(scale)]) == 0
    model = build_network({"type": "FSRCNN", "upscale": scale, "num_in_ch": 1, "num_out_ch": 1})
    model.load_state_dict(torch.load(dst, weights_only=True)["params"], strict=True)
    lr = torch.rand(2, 1, 5, 4)
    with torch.no_grad():
        assert torch.equal(model(lr), fsrcnn_port_forward(port, lr, scale))


def test_convert_script_options_and_help(tmp_path, capsys) -> None:
    src, dst = tmp_path / "srcnn_915.pth", tmp_path / "out.pth"
    torch.save(srcnn_port_state_dict(channels=3, f2=1), src)
    convert_main(
        [str(src), str(dst), "--arch", "SRCNN", "--scale", "2", "--num-channels", "3", "--kernel-sizes", "9", "1", "5"]
    )
    assert "wrote" in capsys.readouterr().out
    SRCNN(num_in_ch=3, num_out_ch=3, f2=1).load_state_dict(torch.load(dst, weights_only=True)["params"])
    with pytest.raises(SystemExit) as exit_info:
        convert_main(["--help"])
    assert exit_info.value.code == 0
    assert "yjn870/FSRCNN-pytorch" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda sd: sd.pop("conv2.bias"), r"missing keys conv2\.bias"),
        (lambda sd: sd.update(extra=torch.zeros(1)), r"unexpected keys extra"),
        (lambda sd: sd.update({"conv1.weight": torch.zeros(64, 3, 9, 9)}), r"shape mismatch conv1\.weight "),
    ],
)
def test_convert_bad_state_dict(tmp_path, edit, message: str) -> None:
    port = srcnn_port_state_dict()
    edit(port)
    src, dst = tmp_path / "bad.pth", tmp_path / "out.pth"
    torch.save(port, src)
    with pytest.raises(
        ValueError, match=rf"^{re.escape(str(src))}: does not match SRCNN\(num_in_ch=1, num_out_ch=1\): .*{message}"
    ):
        convert_pretrained(src, dst, "SRCNN", num_in_ch=1, num_out_ch=1)
    assert not dst.exists()


def test_convert_wrong_arch_and_files(tmp_path, capsys) -> None:
    src, dst = tmp_path / "fsrcnn.pth", tmp_path / "out.pth"
    torch.save(fsrcnn_port_state_dict(), src)
    with pytest.raises(ValueError, match=r"missing keys conv1\.weight, conv1\.bias, conv2\.weight \.\.\."):
        convert_pretrained(src, dst, "SRCNN")
    with pytest.raises(ValueError, match="no pretrained port for arch 'RDN'"):
        convert_pretrained(src, dst, "RDN")
    with pytest.raises(FileNotFoundError, match="missing.pth: pretrained weights file not found"):
        convert_pretrained(tmp_path / "missing.pth", dst, "SRCNN")
    (tmp_path / "corrupt.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(SystemExit) as exit_info:
        convert_main([str(tmp_path / "corrupt.pth"), str(dst), "--arch", "SRCNN", "--scale", "2"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "corrupt.pth: not a readable PyTorch state dict" in err
    assert err.count("\n") == 1
    assert not dst.exists()


def test_converted_checkpoint_records_its_scale_and_is_refused_for_other_data(tmp_path) -> None:
    # a converted SRCNN of another scale was accepted when its name had no xN and no options file sat
    # beside it (SRCNN/FSRCNN weight shapes do not depend on the scale). The scale is now inside the checkpoint.
    from basicsr_distill.scoring.model import CheckpointMismatchError, build_scorer_model

    torch.save(srcnn_port_state_dict(), tmp_path / "port.pth")
    dst = tmp_path / "weights" / "srcnn.pth"
    convert_pretrained(tmp_path / "port.pth", dst, "SRCNN", 3, num_in_ch=1, num_out_ch=1)
    checkpoint = torch.load(dst, weights_only=True)
    assert (checkpoint["scale"], checkpoint["color"]) == (3, "y")
    assert checkpoint["network_g"] == {"type": "SRCNN", "num_in_ch": 1, "num_out_ch": 1, "upscale": 3}
    with pytest.raises(
        CheckpointMismatchError, match=r"trained at x3 \(recorded in the checkpoint\) but the data is x2"
    ):
        build_scorer_model(2, checkpoint=dst)
    model = build_scorer_model(3, checkpoint=dst)
    assert model.arch_opt["upscale"] == 3 and model.in_channels == 1
