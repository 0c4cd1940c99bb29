"""The package's import graph follows the layer order of CONTRIBUTING.md: no module imports one of a higher layer,
and no import circle exists but the start-up hook's (basicsr_distill_hook -> basicsr -> basicsr_distill); the layout
and layers CONTRIBUTING.md names exist.

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``, ``importlib.import_module``
calls with a literal name, and the registering packages' ``import_modules_with_suffix``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONTRIBUTING = REPO / "CONTRIBUTING.md"
PACKAGE = "basicsr_distill"
HOOK = "basicsr_distill_hook"

#: Layer names, bottom to top (CONTRIBUTING.md, "Layers").
LAYER_NAMES = ("foundation", "building blocks", "data", "methods", "training", "workflows")
#: Each sub-package or top-level module of the package (``""``: the package's own ``__init__``) and the start-up hook
#: -> its layer; a module key (``reporting.plots``) would place
#: one module of a sub-package elsewhere. The same table as CONTRIBUTING.md's, whose every name exists (tested).
LAYERS = {
    "version": 0,
    "utils": 0,
    "ops": 0,
    "jobs": 0,
    "cli": 0,
    "registry": 0,
    "parameters": 0,
    "archs": 1,
    "preparation": 1,
    "evaluation": 1,
    "scoring": 2,
    "selection": 2,
    "data": 2,
    "efficiency": 3,
    "models": 3,
    "distillation": 3,
    "": 3,  # installs the start-up hook (and registers when basicsr was imported first)
    "register": 3,  # imports the archs, datasets and models (BasicSR's registries)
    HOOK: 3,
    "training": 4,
    "train": 4,
    "test": 4,
    "commands": 5,
    "__main__": 5,  # python -m basicsr_distill: the console command
    "tables": 5,
    "reporting": 5,
    "runners": 5,
    "demo": 5,
    "synthesis": 5,  # the synthesis methods: run the distillation stages, and SRDD's fine-tuning
}
#: The one circle allowed: the hook registers the package once ``basicsr`` is imported; the package installs the hook
#: (and registers itself when ``basicsr`` came first).
ALLOWED_CIRCLES = [{PACKAGE, HOOK, f"{PACKAGE}.register"}]
#: Imports known to break the order, fixed by work in progress: (importer, imported). An entry that no longer occurs
#: fails the test, so that it is removed here when the fix lands.
PENDING: set[tuple[str, str]] = set()


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package, and the hook."""
    found = {HOOK: REPO / f"{HOOK}.py"}
    for path in sorted((REPO / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package modules (and the hook) that module ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from package import module` imports that module; `from module import name` the module
            targets += [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            targets.append(node.args[0].value)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "import_modules_with_suffix"
            and len(node.args) == 3
            and isinstance(node.args[2], ast.Constant)
        ):  # a registering package's __init__: every `<package>/*<suffix>.py`
            targets += [
                module
                for module in known
                if module.rpartition(".")[0] == package and module.endswith(node.args[2].value)
            ]
    found = set()
    for target in targets:
        parts = target.split(".")
        while parts and ".".join(parts) not in known:
            parts.pop()  # `import package.module.attribute` -> the longest module prefix
        if parts and ".".join(parts) != name:
            found.add(".".join(parts))
    return found


def sub_package(name: str) -> str:
    """The sub-package (or top-level module) of the package that module ``name`` belongs to."""
    if name == HOOK:
        return HOOK
    return name.split(".")[1] if "." in name else ""


def layer_key(name: str) -> str:
    """The most specific key of :data:`LAYERS` that module ``name`` falls under."""
    parts = name.split(".")[1:] if name != HOOK else []
    while parts and ".".join(parts) not in LAYERS:
        parts.pop()
    return ".".join(parts) if parts else sub_package(name)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def circles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


def test_every_sub_package_has_a_layer() -> None:
    unknown = sorted({sub_package(name) for name in modules()} - set(LAYERS))
    assert not unknown, (
        f"{', '.join(f'{PACKAGE}/{key}' for key in unknown)}: not in the layer table; add each to LAYERS in "
        "tests/test_layers.py and to the layer order in CONTRIBUTING.md"
    )


def test_no_module_imports_a_higher_layer() -> None:
    upward = set()
    for name, targets in graph().items():
        for target in targets:
            if LAYERS[layer_key(target)] > LAYERS[layer_key(name)]:
                upward.add((name, target))

    def describe(name: str) -> str:
        layer = LAYERS[layer_key(name)]
        return f"{name} ({LAYER_NAMES[layer]}, layer {layer})"

    violations = sorted(upward - PENDING)
    assert not violations, "imports of a higher layer:\n" + "\n".join(
        f"{describe(name)} imports {describe(target)}" for name, target in violations
    )
    fixed = sorted(PENDING - upward)
    assert not fixed, f"no longer imported upwards, remove from PENDING in tests/test_layers.py: {fixed}"


def test_no_import_circle_but_the_start_up_hook() -> None:
    found = [component for component in circles(graph()) if component not in ALLOWED_CIRCLES]
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(sorted(component)) for component in found)


def test_the_graph_sees_lazy_imports_and_the_hook() -> None:
    edges = graph()
    assert "basicsr_distill.jobs.manifests" in edges["basicsr_distill.preparation.folder_jobs"]  # module level
    assert "basicsr_distill.selection.coreset" in edges["basicsr_distill.efficiency.methods.static"]  # in a method
    assert edges[HOOK] == {f"{PACKAGE}.register"} and HOOK in edges[PACKAGE]
    assert "basicsr_distill.archs.srcnn_arch" in edges["basicsr_distill.archs"]  # registered by suffix
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert layer_key("basicsr_distill.synthesis.methods.srdd") == "synthesis"
    assert layer_key("basicsr_distill.distillation.dit") == "distillation" and layer_key(PACKAGE) == ""


def test_the_training_layer_asks_the_model_and_names_no_method() -> None:
    # The training entry builds a model's batch sampler and checks its options through the model class's hooks
    # (batch_sampler_for, check_options, OPTION_KEYS): nothing in training/ imports a method or a model module.
    edges = graph()
    training = [name for name in edges if layer_key(name) == "training"]
    assert "basicsr_distill.training.pipeline" in training and "basicsr_distill.training.validation" in training
    named = sorted(
        (name, target)
        for name in training
        for target in edges[name]
        if layer_key(target) == "efficiency" or (layer_key(target) == "models" and target.endswith("_model"))
    )
    assert named == []


def contributing_layers() -> dict[str, int]:
    """The layer table of CONTRIBUTING.md ("Layers"): each sub-package (``name/``) or module it names -> its layer."""
    table = {}
    for line in CONTRIBUTING.read_text().splitlines():
        if row := re.match(r"\| (\d) [^|]+\| ([^|]+) \|", line):
            table.update({name: int(row.group(1)) for name in re.findall(r"`([^`]+)`", row.group(2))})
    return table


def contributing_layout() -> list[str]:
    """The paths of CONTRIBUTING.md's layout table (first column; a bare name is beside the row's first path)."""
    paths = []
    for line in CONTRIBUTING.read_text().splitlines():
        if row := re.match(r"\| (`[^|]+) \| ", line):
            first, *others = re.findall(r"`([^`]+)`", row.group(1))
            folder = first.rstrip("/").rpartition("/")[0]
            paths += [first] + [other if "/" in other or not folder else f"{folder}/{other}" for other in others]
    return paths


def test_contributing_names_what_exists_and_its_layers_are_these() -> None:
    layout = contributing_layout()
    assert "basicsr_distill/runners/" in layout and "basicsr_distill/tables/" in layout
    missing = [path for path in layout if not any(REPO.glob(path.rstrip("/")))]
    missing += [f"{path} (not a folder)" for path in layout if path.endswith("/") and not (REPO / path).is_dir()]
    named = contributing_layers()
    for name in named:
        path = REPO / (name if name == HOOK else f"{PACKAGE}/{name}")
        if name.endswith("/"):
            missing += [] if (path / "__init__.py").is_file() else [f"{PACKAGE}/{name} (a sub-package)"]
        elif name != "__init__" and not (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
            missing.append(f"{PACKAGE}/{name} (a module or sub-package)")
    assert not missing, f"CONTRIBUTING.md names what does not exist: {missing}"
    keys = {
        "" if name == "__init__" else name.removesuffix("/").removesuffix(".py"): layer for name, layer in named.items()
    }
    assert keys == LAYERS, "CONTRIBUTING.md's layer table and LAYERS differ"
