"""Where the distillation's pretrained weights come from (Cho, Jung, Cho, Soh, IEEE SPL 2025 load DiT-XL/2-512, the
SD VAE and OpenAI's CLIP ViT-B/32 from the Hugging Face hub): a local path, or a hub id loaded by the libraries' own
code -- diffusers' ``from_pretrained`` (``facebook/DiT-XL-2-512``, ``stabilityai/sd-vae-ft-mse``), open_clip's
``hf-hub:`` models and pretrained tags (``openai``) -- through the Hugging Face cache (``HF_HOME``, ``HF_HUB_CACHE``)
and its offline switch (``HF_HUB_OFFLINE=1``). Weights found nowhere, empty or garbage files and malformed
``config.json`` files are one line naming what was tried or the file.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch


class WeightsCheckError(ValueError):
    """A weights file that is unreadable or does not match the expected architecture (one line, naming the file)."""


#: A Hugging Face hub repository id (``org/name``).
HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def hub_cache() -> tuple[str, bool]:
    """The Hugging Face hub cache folder (``HF_HUB_CACHE``, else ``$HF_HOME/hub``) and whether ``HF_HUB_OFFLINE``."""
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE, bool(constants.HF_HUB_OFFLINE)


def weights_not_found(
    name: str | os.PathLike, what: str, hub_id: str | None = None, detail: str = ""
) -> FileNotFoundError:
    """The one-line error for weights found nowhere: what was tried (the local path, the hub id, the cache)."""
    cache, offline = hub_cache()
    hub_id = hub_id or (str(name) if HUB_ID.match(str(name)) else None)
    tried = f"no local file or folder {name}"
    if hub_id is None:
        tried += ", nor a hub id org/name"
    else:
        tried += f", and hub id {hub_id} is not in the Hugging Face cache {cache}"
        tried += " (HF_HUB_OFFLINE=1: nothing is downloaded)" if offline else f" and did not download ({detail})"
    return FileNotFoundError(f"{name}: no {what}: {tried}")


def hub_file(name: str, filename: str, subfolder: str | None, what: str) -> Path:
    """``filename`` (in ``subfolder``) of the hub repository ``name``, from the Hugging Face cache or the hub."""
    from huggingface_hub import hf_hub_download

    if not HUB_ID.match(name):
        raise weights_not_found(name, what)
    try:
        return Path(hf_hub_download(name, filename, subfolder=subfolder))
    except (OSError, ValueError) as error:
        raise weights_not_found(name, what, detail=first_line(error)) from None


def read_json(path: str | os.PathLike, integers: Sequence[str] = ()) -> dict:
    """A JSON configuration file whose keys ``integers`` hold integers; a malformed one, or one that lacks such a
    key, is one line naming the file (and the key)."""
    try:
        data = json.loads(Path(path).read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise WeightsCheckError(f"{path}: not a valid JSON configuration ({first_line(error)})") from None
    if not isinstance(data, dict):
        raise WeightsCheckError(f"{path}: not a JSON configuration (expected an object, got {type(data).__name__})")
    for key in integers:
        if key not in data:
            raise WeightsCheckError(f"{path}: {key}: missing")
        if type(data[key]) is not int:
            raise WeightsCheckError(f"{path}: {key}: expected an integer, got {json.dumps(data[key])}")
    return data


def load_torch_file(path: str | os.PathLike, what: str) -> Any:
    """``torch.load`` (tensors only) of ``path``; a missing, empty, truncated or foreign file is one line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what}")
    if path.stat().st_size == 0:
        raise WeightsCheckError(f"{path}: empty file, not a {what}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError):
        raise WeightsCheckError(
            f"{path}: not a {what} (not a PyTorch file, truncated, or holding objects other than tensors)"
        ) from None


def config_file(name: str | os.PathLike, subfolder: str | None, what: str) -> Path:
    """The ``config.json`` of a diffusers model: in the local folder ``name`` (``subfolder``), else the hub id's."""
    local = Path(name)
    if local.exists():
        return local / subfolder / "config.json" if subfolder else local / "config.json"
    return hub_file(str(name), "config.json", subfolder, what)


def vae_config_file(path: str | os.PathLike) -> tuple[Path, str | None]:
    """The ``config.json`` of a VAE folder or hub id and its subfolder: at the top (``stabilityai/sd-vae-ft-mse``),
    else in ``vae/`` (a pipeline such as ``facebook/DiT-XL-2-512``)."""
    what = "diffusers VAE (config.json + weights, or vae/)"
    local = Path(path)
    if local.exists():
        top = local / "config.json"
        return (top, None) if top.is_file() else (local / "vae" / "config.json", "vae")
    try:
        return hub_file(str(path), "config.json", None, what), None
    except FileNotFoundError:
        return hub_file(str(path), "config.json", "vae", what), "vae"


def resolve_clip_checkpoint(checkpoint: str | os.PathLike, model_name: str) -> Path:
    """A local CLIP weights file or open_clip folder for ``checkpoint``, found by open_clip's own download code:

    * a local file or folder: itself;
    * ``hf-hub:org/name`` or ``org/name``: the open_clip folder of that hub repository (``open_clip_config.json`` +
      weights) in the Hugging Face cache, downloaded there unless ``HF_HUB_OFFLINE``;
    * a pretrained tag of ``model_name`` (``openai`` for ``ViT-B-32-quickgelu``, as the authors): open_clip's weights
      file of that tag, in the same cache.
    """
    import open_clip
    from open_clip.pretrained import download_pretrained, download_pretrained_from_hf

    local = Path(checkpoint)
    if local.exists():
        return local
    name = str(checkpoint).removeprefix("hf-hub:")
    what = f"CLIP weights (file, open_clip folder, hf-hub:org/name or a pretrained tag of {model_name})"
    if name in open_clip.list_pretrained_tags_by_model(model_name):
        pretrained = open_clip.get_pretrained_cfg(model_name, name)
        try:
            return Path(download_pretrained(pretrained))
        except (OSError, ValueError, RuntimeError) as error:
            hub_id = os.path.dirname(pretrained.get("hf_hub", "")) or pretrained.get("url")
            raise weights_not_found(name, what, hub_id, first_line(error)) from None
    config = hub_file(name, "open_clip_config.json", None, what)
    try:
        download_pretrained_from_hf(name)  # next to the config in the cache's snapshot folder
    except (OSError, ValueError) as error:
        raise weights_not_found(name, what, detail=first_line(error)) from None
    return config.parent


def first_line(error: BaseException) -> str:
    """The first line of an error message (at most 300 characters), or the error's type name."""
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


__all__ = [
    "HUB_ID",
    "WeightsCheckError",
    "config_file",
    "first_line",
    "hub_cache",
    "hub_file",
    "load_torch_file",
    "read_json",
    "resolve_clip_checkpoint",
    "vae_config_file",
    "weights_not_found",
]
