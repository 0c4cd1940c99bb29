"""The weights check of the distillation (Cho et al., IEEE SPL 2025): known parameter counts, refusal of a DiT of
another hidden size and of a CLIP of another embedding width or activation (tiny random models saved to disk),
the original-DiT conversion, the script's one-line errors and the pipeline's check at its start."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import open_clip
import pytest
import torch
import yaml
from diffusers import AutoencoderKL, DiTTransformer2DModel

from basicsr_distill.distillation.clustering import TINY_CLIP_CONFIG
from basicsr_distill.distillation.dit import DIT_XL_2_512, SD_VAE, TINY_TRANSFORMER, TINY_VAE
from basicsr_distill.distillation.weights import (
    ExpectedWeights,
    WeightsCheckError,
    check_weights,
    convert_dit_checkpoint,
    reference_clip_count,
    reference_dit_count,
    reference_vae_count,
)

REPO = Path(__file__).resolve().parents[1]
TINY = ExpectedWeights("tiny", TINY_TRANSFORMER, TINY_VAE, TINY_CLIP_CONFIG, "tiny CLIP")


def save_dit_folder(folder: Path, **transformer: object) -> Path:
    torch.manual_seed(0)
    model = DiTTransformer2DModel(**{**TINY_TRANSFORMER, **transformer})
    for block in model.transformer_blocks[1:]:  # equal per-block embedder copies, as a converted DiT checkpoint
        block.norm1.emb.load_state_dict(model.transformer_blocks[0].norm1.emb.state_dict())
    model.save_pretrained(folder / "transformer")
    AutoencoderKL(**TINY_VAE).save_pretrained(folder / "vae")
    return folder


def save_clip_folder(folder: Path, **config: object) -> Path:
    """An open_clip folder (open_clip_config.json + open_clip_pytorch_model.bin) of a tiny random CLIP."""
    model_cfg = {**TINY_CLIP_CONFIG, **config}
    torch.manual_seed(0)
    model = open_clip.CLIP(**model_cfg)
    folder.mkdir(parents=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}))
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


def test_known_parameter_counts_of_the_paper_architectures() -> None:
    """Built from their configurations on the meta device. DiT-XL/2: DiT's train.py logs 675,129,632 at 256x256,
    which counts its fixed 256-token pos_embed (256 x 1152 = 294,912) as a parameter: 675,129,632 - 294,912."""
    assert reference_dit_count(DIT_XL_2_512) == 675_129_632 - 256 * 1152 == 674_834_720
    assert reference_vae_count(SD_VAE) == 83_653_863
    assert reference_clip_count(open_clip.get_model_config("ViT-B-32-quickgelu")) == 151_277_313
    paper = ExpectedWeights.paper()
    assert paper.clip["quick_gelu"] is True and paper.clip["embed_dim"] == 512


def test_tiny_weights_pass_and_the_report_has_counts_activation_classes_forward(tmp_path: Path) -> None:
    dit = save_dit_folder(tmp_path / "dit")
    AutoencoderKL(**TINY_VAE).save_pretrained(tmp_path / "decode_vae")
    clip = save_clip_folder(tmp_path / "clip")
    report = check_weights(dit, tmp_path / "decode_vae", clip, num_classes=7, expected=TINY)
    text = "\n".join(report.lines)
    assert report.counts["dit"] == reference_dit_count(TINY_TRANSFORMER)
    assert report.counts["vae"] == report.counts["vae_decode"] == reference_vae_count(TINY_VAE)
    assert report.counts["clip"] == reference_clip_count(TINY_CLIP_CONFIG)
    assert "1000 classes + null, k = 7 pseudo-classes" in text and "activation GELU" in text
    assert text.count("forward") == 2 and "VAE decode" in text
    again = check_weights(dit, tmp_path / "decode_vae", clip, num_classes=7, expected=TINY)
    assert again.lines == report.lines  # deterministic forwards
    with pytest.raises(WeightsCheckError, match="k = 1001 pseudo-classes do not fit the DiT's 1000 classes"):
        check_weights(dit, num_classes=1001, expected=TINY)


def test_refuses_a_dit_with_another_hidden_size(tmp_path: Path) -> None:
    dit = save_dit_folder(tmp_path / "dit", attention_head_dim=12)
    with pytest.raises(WeightsCheckError, match=r"transformer/config\.json: not tiny: hidden size 24, expected 16$"):
        check_weights(dit, expected=TINY)
    config = json.loads((dit / "transformer" / "config.json").read_text())
    (dit / "transformer" / "config.json").write_text(json.dumps({**config, "attention_head_dim": 8}))
    with pytest.raises(WeightsCheckError, match=r"dit: the weights do not load"):  # config edited, weights not
        check_weights(dit, expected=TINY)


def test_refuses_a_clip_with_another_embedding_width_or_activation(tmp_path: Path) -> None:
    wide = save_clip_folder(tmp_path / "wide", embed_dim=48)
    with pytest.raises(WeightsCheckError, match=r"CLIP embedding width 48 \(image tower 64\), expected 32 \(64\)"):
        check_weights(clip_checkpoint=wide, expected=TINY)
    # a weights file named for OpenAI's ViT-B/32 (the paper's expectation) but holding another width
    state_file = save_clip_folder(tmp_path / "file") / "open_clip_pytorch_model.bin"
    with pytest.raises(WeightsCheckError, match=r"embedding width 32 \(image tower 64\), expected 512 \(768\)"):
        check_weights(clip_checkpoint=state_file, clip_model="ViT-B-32-quickgelu")
    with pytest.raises(WeightsCheckError, match="clip_model ViT-B-32: builds GELU, .* weights need QuickGELU"):
        check_weights(clip_checkpoint=state_file, clip_model="ViT-B-32")
    quick = save_clip_folder(tmp_path / "quick", quick_gelu=True)
    with pytest.raises(WeightsCheckError, match="builds QuickGELU, the expected tiny CLIP weights need GELU"):
        check_weights(clip_checkpoint=quick, expected=TINY)


def facebookresearch_layout(model: DiTTransformer2DModel) -> dict[str, torch.Tensor]:
    """The key layout of facebookresearch/DiT's ``models.py`` (x_embedder, t_embedder.mlp, y_embedder, blocks.i.attn
    .qkv, mlp.fc1/fc2, adaLN_modulation.1, final_layer), from a diffusers DiT, plus a pos_embed of its token count."""
    sd, out = model.state_dict(), {}
    out["x_embedder.proj.weight"], out["x_embedder.proj.bias"] = sd["pos_embed.proj.weight"], sd["pos_embed.proj.bias"]
    emb = "transformer_blocks.0.norm1.emb"
    for part in ("weight", "bias"):
        out[f"t_embedder.mlp.0.{part}"] = sd[f"{emb}.timestep_embedder.linear_1.{part}"]
        out[f"t_embedder.mlp.2.{part}"] = sd[f"{emb}.timestep_embedder.linear_2.{part}"]
        out[f"final_layer.adaLN_modulation.1.{part}"] = sd[f"proj_out_1.{part}"]
        out[f"final_layer.linear.{part}"] = sd[f"proj_out_2.{part}"]
        for i in range(model.config.num_layers):
            block = f"transformer_blocks.{i}"
            qkv = [sd[f"{block}.attn1.to_{name}.{part}"] for name in "qkv"]
            out[f"blocks.{i}.attn.qkv.{part}"] = torch.cat(qkv)
            out[f"blocks.{i}.attn.proj.{part}"] = sd[f"{block}.attn1.to_out.0.{part}"]
            out[f"blocks.{i}.mlp.fc1.{part}"] = sd[f"{block}.ff.net.0.proj.{part}"]
            out[f"blocks.{i}.mlp.fc2.{part}"] = sd[f"{block}.ff.net.2.{part}"]
            out[f"blocks.{i}.adaLN_modulation.1.{part}"] = sd[f"{block}.norm1.linear.{part}"]
    out["y_embedder.embedding_table.weight"] = sd[f"{emb}.class_embedder.embedding_table.weight"]
    tokens = (model.config.sample_size // model.config.patch_size) ** 2
    out["pos_embed"] = torch.zeros(1, tokens, model.inner_dim)
    return out


def test_converts_an_original_dit_checkpoint_to_a_diffusers_folder(tmp_path: Path) -> None:
    torch.manual_seed(3)
    source = DiTTransformer2DModel(**{**TINY_TRANSFORMER, "num_embeds_ada_norm": 5, "norm_eps": 1e-6}).eval()
    for block in source.transformer_blocks[1:]:  # the original has one embedder; diffusers stores it per block
        block.norm1.emb.load_state_dict(source.transformer_blocks[0].norm1.emb.state_dict())
    torch.save({"ema": facebookresearch_layout(source)}, tmp_path / "DiT-tiny.pt")
    AutoencoderKL(**TINY_VAE).save_pretrained(tmp_path / "ema_vae")
    folder = convert_dit_checkpoint(tmp_path / "DiT-tiny.pt", tmp_path / "ema_vae", tmp_path / "converted", num_heads=2)
    converted = DiTTransformer2DModel.from_pretrained(folder / "transformer").eval()
    config = converted.config
    assert (config.num_layers, config.num_attention_heads * config.attention_head_dim, config.patch_size) == (2, 16, 2)
    assert (config.sample_size, config.out_channels, config.num_embeds_ada_norm) == (8, 8, 5)
    latents = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    inputs = {"timestep": torch.tensor([10, 900]), "class_labels": torch.tensor([1, 5])}
    with torch.no_grad():
        assert torch.equal(converted(latents, **inputs).sample, source(latents, **inputs).sample)
    assert (folder / "vae" / "config.json").is_file()
    (tmp_path / "not_dit.pt").write_bytes(b"garbage")
    with pytest.raises(WeightsCheckError, match="not_dit.pt: not a DiT checkpoint"):
        convert_dit_checkpoint(tmp_path / "not_dit.pt", tmp_path / "ema_vae", tmp_path / "x")


def test_script_refuses_a_wrong_file_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    main = runpy.run_path(str(REPO / "scripts" / "distill_check_weights.py"))["main"]
    with pytest.raises(SystemExit) as exit_info:
        main(["--dit", str(save_dit_folder(tmp_path / "dit"))])  # a tiny DiT is not DiT-XL/2-512
    lines = capsys.readouterr().err.strip().splitlines()  # (INFO log lines may precede it)
    errors = [line for line in lines if line.startswith("error: ")]
    assert exit_info.value.code == 2 and errors == lines[-1:]
    assert "transformer/config.json: not DiT-XL/2-512: hidden size 16, expected 1152" in errors[0]


def test_pipeline_checks_the_weights_before_any_stage(tmp_path: Path) -> None:
    from basicsr_distill.synthesis import load_yaml
    from basicsr_distill.synthesis.methods.srdd import run_pipeline

    finetune = load_yaml(REPO / "options" / "distill" / "finetune_dit_tiny.yml")
    finetune["network_g"]["pretrained"] = str(save_dit_folder(tmp_path / "dit", attention_head_dim=12))
    (tmp_path / "finetune.yml").write_text(yaml.safe_dump(finetune))
    options = load_yaml(REPO / "options" / "distill" / "distill_tiny.yml")
    options.update(root=str(tmp_path / "run"), finetune={"opt": str(tmp_path / "finetune.yml"), "force": {}})
    options["patches"]["dataroot"] = str(tmp_path / "no_images_needed")
    with pytest.raises(WeightsCheckError, match="hidden size 24, expected 1152"):
        run_pipeline(options)
    assert not (tmp_path / "run").exists()  # nothing ran
