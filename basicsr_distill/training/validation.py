"""A training's option file, read as BasicSR reads it and checked before anything is created.

BasicSR 1.4.2's ``train_pipeline`` makes (and archives) ``experiments/<name>`` before it builds a dataset, a loss
or the model, so an option refused there leaves folders behind. The entries read an option file in one order:
:func:`load_options_file`, :func:`apply_force_yml` (``--force_yml`` as BasicSR applies it), then
:func:`validate_options`, which checks what needs no network or dataset: the model, loss and dataset types, the
counts (``train.total_iter``, batch sizes, frequencies), a model's own options (its ``check_options`` hook), keys
only this package's datasets or models read, and that every input folder is complete. Each error is one line,
``<options file>: <YAML key>: <problem>`` (``--force_yml: <entry>: <problem>`` for an override).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "LOSS_KEYS",
    "PACKAGE_DATASET_KEYS",
    "ForceYmlError",
    "OptionsError",
    "OptionsInputNotFoundError",
    "apply_force_yml",
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
#: Dataset options naming an input that must exist and be complete
#: (:func:`basicsr_distill.jobs.manifests.require_complete`).
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


class ForceYmlError(ValueError):
    """A ``--force_yml`` entry BasicSR could not apply (one line naming the flag and the entry)."""


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


def apply_force_yml(options: MutableMapping[str, Any], entries: Sequence[str] | None) -> MutableMapping[str, Any]:
    """Apply ``--force_yml`` entries (``key:subkey=value``) to ``options`` in place, as BasicSR 1.4.2's
    ``parse_options`` does: the keys walk the nested mappings (only the last one may be new), the value is read by
    BasicSR's own ``_postprocess_yml_value`` (``~``, ``true``, ``12``, ``1.5``, ``[1, 2]``; anything else a string).

    Raises:
        ForceYmlError: an entry without exactly one ``=``, without a key, naming a missing or non-mapping option
            on its way, or with a value BasicSR cannot read.
    """
    from basicsr.utils.options import _postprocess_yml_value

    for entry in entries or ():
        if entry.count("=") != 1:
            raise ForceYmlError(f"--force_yml: {entry!r}: expected KEY:SUBKEY=VALUE (one '='), e.g. train:total_iter=5")
        keys, text = (part.strip() for part in entry.split("="))
        path = keys.split(":")
        if not all(path):
            raise ForceYmlError(f"--force_yml: {entry!r}: an empty key in {keys!r}")
        try:
            value = _postprocess_yml_value(text)
        except Exception as error:  # BasicSR evaluates a value starting with '[' as Python
            raise ForceYmlError(f"--force_yml: {entry!r}: cannot read the value {text!r} ({error})") from None
        target = options
        for depth, key in enumerate(path[:-1]):
            if key not in target:
                where = ":".join(path[: depth + 1])
                raise ForceYmlError(f"--force_yml: {entry!r}: no option {where} (only the last key may be new)")
            target = target[key]
            if not isinstance(target, MutableMapping):
                where = ":".join(path[: depth + 1])
                raise ForceYmlError(f"--force_yml: {entry!r}: {where} is {_kind(target)}, not a mapping of options")
        target[path[-1]] = value
    return options


def validate_options(opt: Mapping[str, Any], opt_path: str) -> None:
    """Refuse, before BasicSR creates anything, options that would fail later or silently train on other data.

    Works on the options as loaded or as BasicSR's ``parse_options`` completed them. Checks: ``name``,
    ``model_type`` (``MODEL_REGISTRY``), ``path`` and ``num_gpu`` (BasicSR's option parser reads them),
    ``train.pixel_opt`` / ``train.perceptual_opt`` types (``LOSS_REGISTRY``), the counts of a training
    (:data:`TRAINING_COUNTS`: ``train.total_iter`` or ``train.total_epochs`` >= 1, the train set's batch size,
    workers and enlarge ratio, the log, checkpoint and validation frequencies), the phases a training builds
    (``train``, ``val*``; any when ``is_train`` is false), for every ``datasets.<phase>``: its type
    (``DATASET_REGISTRY``), keys only another dataset of this package reads (:data:`PACKAGE_DATASET_KEYS`), and
    its inputs (:data:`INPUT_KEYS`) exist and are complete, ``val.metrics.<name>.type`` (``METRIC_REGISTRY``); last
    the model's own options: top-level keys only
    another model reads (its class's ``OPTION_KEYS``) and the model class's ``check_options(opt)`` hook.

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
    model = _model_class(opt, opt_path)
    if not isinstance(opt.get("path"), Mapping):
        raise OptionsError(opt_path, "path", f"must be BasicSR's mapping of paths, got {_kind(opt.get('path'))}")
    num_gpu = opt.get("num_gpu")
    if num_gpu != "auto" and (isinstance(num_gpu, bool) or not isinstance(num_gpu, int) or num_gpu < 0):
        raise OptionsError(opt_path, "num_gpu", f"must be a GPU count (0 for the CPU) or auto, got {_kind(num_gpu)}")
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
    _check_metrics(opt, opt_path)
    if opt.get("is_train", True):
        _check_training_counts(opt, opt_path)
    _check_model_options(opt, opt_path, model)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    kind = type(value).__name__
    return f"{'an' if kind[0] in 'aeiouAEIOU' else 'a'} {kind} ({value!r})"


def _registered(registry: Any, registry_name: str, opt_path: str, key: str, value: object, what: str) -> type:
    """The class ``registry`` holds under ``value``, or a one-line error naming ``key`` (with a close name)."""
    if not isinstance(value, str) or not value:
        raise OptionsError(opt_path, key, f"missing; name a registered {what}")
    if value not in registry:
        close = difflib.get_close_matches(value, list(registry.keys()), n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise OptionsError(opt_path, key, f"unknown {what} {value!r} (not in {registry_name}){hint}")
    return registry.get(value)


def _model_class(opt: Mapping[str, Any], opt_path: str) -> type:
    from basicsr.utils.registry import MODEL_REGISTRY

    return _registered(MODEL_REGISTRY, "MODEL_REGISTRY", opt_path, "model_type", opt.get("model_type"), "model")


#: The counts of a training: (option path, smallest value, whether it may be absent). BasicSR would train nothing
#: (``total_iter`` 0 or below: the untrained network saved as the final one), divide by zero, or stop with a
#: traceback mid-run.
TRAINING_COUNTS = (
    (("datasets", "train", "batch_size_per_gpu"), 1, False),
    (("datasets", "train", "num_worker_per_gpu"), 0, True),
    (("datasets", "train", "dataset_enlarge_ratio"), 1, True),
    (("logger", "print_freq"), 1, False),
    (("logger", "save_checkpoint_freq"), 1, False),
)


def _check_training_counts(opt: Mapping[str, Any], opt_path: str) -> None:
    """Whole numbers where a training counts: :data:`TRAINING_COUNTS`, ``train.total_iter`` (or
    ``train.total_epochs``) and, with a ``val`` block, ``val.val_freq``."""
    train_opt = opt.get("train") or {}
    iteration_key = "total_epochs" if train_opt.get("total_epochs") is not None else "total_iter"
    counts = [*TRAINING_COUNTS, (("train", iteration_key), 1, False)]
    if opt.get("val") is not None:
        counts.append((("val", "val_freq"), 1, False))
    for keys, smallest, optional in counts:
        parent: Any = opt
        for key in keys[:-1]:
            parent = parent.get(key) if isinstance(parent, Mapping) else None
        if not isinstance(parent, Mapping):
            raise OptionsError(opt_path, ".".join(keys[:-1]), f"must be a mapping of options, got {_kind(parent)}")
        value = parent.get(keys[-1])
        if value is None and optional:
            continue
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())  # BasicSR's !!float 5e3
        if isinstance(value, bool) or not whole or value < smallest:
            raise OptionsError(opt_path, ".".join(keys), f"must be a whole number >= {smallest}, got {_kind(value)}")


def _check_model_options(opt: Mapping[str, Any], opt_path: str, model: type) -> None:
    """Top-level keys only another registered model reads (its ``OPTION_KEYS``) are refused; then the model
    class's own ``check_options(opt)`` hook, if it has one (a ``ValueError`` naming the key)."""
    from basicsr.utils.registry import MODEL_REGISTRY

    read_here = getattr(model, "OPTION_KEYS", {})
    for owner_name, owner in MODEL_REGISTRY:
        for key, (does, instead) in vars(owner).get("OPTION_KEYS", {}).items():
            if opt.get(key) is not None and key not in read_here:
                raise OptionsError(opt_path, key, f"only {owner_name} {does}; {model.__name__} {instead}")
    check = getattr(model, "check_options", None)
    if check is not None:
        try:
            check(opt)
        except ValueError as error:  # its message names the key
            raise OptionsError(opt_path, None, str(error)) from None


def _check_metrics(opt: Mapping[str, Any], opt_path: str) -> None:
    """``val`` is a mapping and each ``val.metrics.<name>.type`` is registered (``METRIC_REGISTRY``): BasicSR would
    find a misspelt metric at the first validation, after training for ``val_freq`` iterations."""
    import basicsr.metrics  # noqa: F401  (registers BasicSR's metrics)
    from basicsr.utils.registry import METRIC_REGISTRY

    val = opt.get("val")
    if val is None:
        return
    if not isinstance(val, Mapping):
        raise OptionsError(opt_path, "val", f"must be a mapping of validation options, got {_kind(val)}")
    metrics = val.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        raise OptionsError(opt_path, "val.metrics", f"must be a mapping of name -> metric, got {_kind(metrics)}")
    for name, metric in metrics.items():
        if not isinstance(metric, Mapping):
            raise OptionsError(opt_path, f"val.metrics.{name}", f"must be a mapping with a type, got {_kind(metric)}")
        _registered(
            METRIC_REGISTRY, "METRIC_REGISTRY", opt_path, f"val.metrics.{name}.type", metric.get("type"), "metric"
        )


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

    from basicsr_distill.jobs.manifests import require_complete

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
