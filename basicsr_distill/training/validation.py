"""A training's option file, read as BasicSR reads it and checked before anything is created.

BasicSR 1.4.2's ``train_pipeline`` makes (and archives) ``experiments/<name>`` before it builds a dataset, a loss
or the model, so an option refused there leaves folders behind. :func:`validate_options` checks first what needs no
network or dataset: the model, loss and dataset types, ``data_efficiency``, keys only this package's datasets read,
and that every input folder is complete. Each error is one line, ``<options file>: <YAML key>: <problem>``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "LOSS_KEYS",
    "PACKAGE_DATASET_KEYS",
    "OptionsError",
    "OptionsInputNotFoundError",
    "load_options_file",
    "validate_options",
]

#: The ``train`` options BasicSR's ``SRModel`` builds from ``LOSS_REGISTRY``.
LOSS_KEYS = ("pixel_opt", "perceptual_opt")
#: Dataset keys only one of this package's datasets reads: (that dataset, what it does with the key, what any
#: other dataset type would do instead, silently).
PACKAGE_DATASET_KEYS = {
    "coreset": ("CoreSetPairedImageDataset", "selects a core-set", "would train on every sample"),
    "labels_csv": ("PseudoLabelPatchDataset", "reads pseudo-class labels", "would ignore them"),
}
#: Dataset options naming an input that must exist and be complete (:func:`basicsr_distill.jobs.require_complete`).
INPUT_KEYS = ("dataroot_gt", "dataroot_lq", "meta_info_file")


class _Located:
    """A one-line error ``<file>: <key>: <problem>`` (the key left out where the whole file is at fault)."""

    def __init__(self, file: str | os.PathLike, key: str | None, problem: str) -> None:
        self.file, self.key, self.problem = str(file), key, problem
        super().__init__(": ".join(part for part in (self.file, key, problem) if part))

    def __reduce__(self) -> tuple:  # picklable (a training may fail in a worker process)
        return type(self), (self.file, self.key, self.problem)


class OptionsError(_Located, ValueError):
    """An option file or option that cannot be honoured."""


class OptionsInputNotFoundError(_Located, FileNotFoundError):
    """An option file, or an input an option names, that does not exist."""


def load_options_file(path: str) -> dict:
    """The options of the YAML file ``path``, loaded as BasicSR 1.4.2's ``parse_options`` loads them (its
    ``ordered_yaml`` loader: mappings become ``OrderedDict``); a file that gives no mapping is refused in one line.

    Raises:
        OptionsInputNotFoundError: ``path`` does not exist.
        OptionsError: ``path`` is a folder, unreadable, not UTF-8 text, not valid YAML, or not a mapping.
    """
    import yaml
    from basicsr.utils.options import ordered_yaml

    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise OptionsInputNotFoundError(path, None, "options file not found") from None
    except IsADirectoryError:
        raise OptionsError(path, None, "is a folder, not a YAML options file") from None
    except OSError as error:
        raise OptionsError(path, None, f"cannot be read ({error.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise OptionsError(
            path, None, f"not a text YAML file (byte {raw[error.start]:#04x} at offset {error.start} is not UTF-8)"
        ) from None
    try:
        options = yaml.load(text, Loader=ordered_yaml()[0])
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        context = f" ({error.context})" if error.context else ""
        raise OptionsError(path, None, f"YAML syntax error{where}: {error.problem}{context}") from None
    except yaml.reader.ReaderError as error:
        raise OptionsError(
            path,
            None,
            f"not a text YAML file (character #x{error.character:04x} at offset {error.position}: {error.reason})",
        ) from None
    except yaml.YAMLError as error:
        raise OptionsError(path, None, f"not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(options, Mapping):
        found = "nothing: the file is empty" if options is None else f"a {type(options).__name__}"
        raise OptionsError(path, None, f"not a YAML mapping of BasicSR options (it parses to {found})")
    return options


def validate_options(opt: Mapping[str, Any], opt_path: str) -> None:
    """Refuse, before BasicSR creates anything, options that would fail later or silently train on other data.

    Works on the options as loaded or as BasicSR's ``parse_options`` completed them. Checks: ``name``,
    ``model_type`` (``MODEL_REGISTRY``), ``data_efficiency`` (:mod:`basicsr_distill.efficiency.options`; only
    under ``DataEfficientSRModel``), ``train.pixel_opt`` / ``train.perceptual_opt`` types (``LOSS_REGISTRY``), the
    phases a training builds (``train``, ``val*``; any when ``is_train`` is false), and for every
    ``datasets.<phase>``: its type (``DATASET_REGISTRY``), keys only another dataset of this package
    reads (:data:`PACKAGE_DATASET_KEYS`), and its inputs (:data:`INPUT_KEYS`) exist and are complete.

    Raises:
        OptionsError: ``<opt_path>: <YAML key>: <problem>``.
        OptionsInputNotFoundError: the same, for an input that does not exist.
    """
    import basicsr.data  # noqa: F401  (registers BasicSR's datasets; importing basicsr registers this package's)
    import basicsr.losses  # noqa: F401  (registers BasicSR's losses)
    import basicsr.models  # noqa: F401  (registers BasicSR's models)

    name = opt.get("name")
    if not isinstance(name, str) or not name:
        raise OptionsError(opt_path, "name", f"must be the experiment's name (a non-empty string), got {name!r}")
    _check_model(opt, opt_path)
    train_opt = opt.get("train")
    if train_opt is not None and not isinstance(train_opt, Mapping):
        raise OptionsError(opt_path, "train", f"must be a mapping of training options, got {_kind(train_opt)}")
    for key in LOSS_KEYS:
        _check_loss(opt_path, f"train.{key}", (train_opt or {}).get(key))
    datasets = opt.get("datasets")
    if not isinstance(datasets, Mapping) or not datasets:
        raise OptionsError(
            opt_path, "datasets", f"must be a mapping of phase -> dataset options, got {_kind(datasets)}"
        )
    if opt.get("is_train", True):  # BasicSR's train pipeline builds datasets.train and datasets.val*, no other
        if "train" not in datasets:
            raise OptionsError(opt_path, "datasets.train", "missing; a training needs its training set")
        for phase in datasets:
            if phase != "train" and str(phase).split("_")[0] != "val":
                raise OptionsError(
                    opt_path, f"datasets.{phase}", "not a phase of a training (train, or val / val_<name>)"
                )
    for phase, dataset_opt in datasets.items():
        _check_dataset(opt_path, f"datasets.{phase}", dataset_opt)


def _kind(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__} ({value!r})"


def _registered(registry: Any, registry_name: str, opt_path: str, key: str, value: object, what: str) -> type:
    """The class ``registry`` holds under ``value``, or a one-line error naming ``key`` (with a close name)."""
    if not isinstance(value, str) or not value:
        raise OptionsError(opt_path, key, f"missing; name a registered {what}")
    if value not in registry:
        close = difflib.get_close_matches(value, list(registry.keys()), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise OptionsError(opt_path, key, f"unknown {what} {value!r} (not in {registry_name}){hint}")
    return registry.get(value)


def _check_model(opt: Mapping[str, Any], opt_path: str) -> None:
    """``model_type`` is registered; ``data_efficiency`` parses, and only under the model that reads it."""
    from basicsr.utils.registry import MODEL_REGISTRY

    from basicsr_distill.efficiency.options import KEY, DataEfficiencyError, DataEfficiencyOptions
    from basicsr_distill.models.data_efficient_sr_model import DataEfficientSRModel

    model = _registered(MODEL_REGISTRY, "MODEL_REGISTRY", opt_path, "model_type", opt.get("model_type"), "model")
    if not issubclass(model, DataEfficientSRModel):
        if opt.get(KEY) is not None:
            raise OptionsError(
                opt_path,
                KEY,
                f"only DataEfficientSRModel prunes data during training; {model.__name__} would train on every sample",
            )
        return
    if not opt.get("is_train", True):  # testing builds the model without its data_efficiency block
        return
    try:
        DataEfficiencyOptions.from_options(opt.get(KEY), int(opt.get("manual_seed") or 0))
    except DataEfficiencyError as error:  # its message names the data_efficiency key
        raise OptionsError(opt_path, None, str(error)) from None


def _check_loss(opt_path: str, key: str, loss_opt: object) -> None:
    """A loss BasicSR's ``build_loss`` can make (absent or empty: no such loss, as in ``SRModel``)."""
    from basicsr.utils.registry import LOSS_REGISTRY

    if not loss_opt:
        return
    if not isinstance(loss_opt, Mapping):
        raise OptionsError(opt_path, key, f"must be a mapping with a loss type, got {_kind(loss_opt)}")
    _registered(LOSS_REGISTRY, "LOSS_REGISTRY", opt_path, f"{key}.type", loss_opt.get("type"), "loss")


def _check_dataset(opt_path: str, key: str, dataset_opt: object) -> None:
    """A registered dataset type, no key only another dataset reads, complete inputs."""
    from basicsr.utils.registry import DATASET_REGISTRY

    from basicsr_distill.jobs import require_complete

    if not isinstance(dataset_opt, Mapping):
        raise OptionsError(opt_path, key, f"must be a mapping of dataset options, got {_kind(dataset_opt)}")
    dataset_type = dataset_opt.get("type")
    dataset = _registered(DATASET_REGISTRY, "DATASET_REGISTRY", opt_path, f"{key}.type", dataset_type, "dataset")
    for option, (owner, does, instead) in PACKAGE_DATASET_KEYS.items():
        if dataset_opt.get(option) is not None and not issubclass(dataset, DATASET_REGISTRY.get(owner)):
            raise OptionsError(opt_path, key, f"{option}: only {owner} {does}; {dataset_type} {instead}")
    for option in INPUT_KEYS:
        value = dataset_opt.get(option)
        if value is None:
            continue
        if not isinstance(value, (str, os.PathLike)) or not str(value):
            raise OptionsError(opt_path, f"{key}.{option}", f"must be a path, got {_kind(value)}")
        try:
            require_complete(os.path.expanduser(value), option)
        except FileNotFoundError as error:
            raise OptionsInputNotFoundError(opt_path, f"{key}.{option}", str(error)) from None
        except ValueError as error:
            raise OptionsError(opt_path, f"{key}.{option}", str(error)) from None
