"""The start-up hook: BasicSR 1.4.2 imports on current torchvision and finds this package's components."""

from __future__ import annotations

import subprocess
import sys


def run_python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (the installed ``.pth`` hook is active there) and return stdout."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_hook_does_not_import_torch_at_startup() -> None:
    out = run_python(
        "import sys; print('torch' in sys.modules, "
        "any(type(f).__name__ == 'BasicsrDistillFinder' for f in sys.meta_path))"
    )
    assert out == "False True"


def test_import_basicsr_works_and_registers_this_package() -> None:
    # Only `basicsr` is imported by the user; the hook must alias torchvision's removed module and
    # then register basicsr-distill's types.
    out = run_python(
        "import basicsr, sys\n"
        "from basicsr.utils.registry import ARCH_REGISTRY, DATASET_REGISTRY, MODEL_REGISTRY\n"
        "print('basicsr_distill' in sys.modules, 'SRCNN' in ARCH_REGISTRY, "
        "'CoreSetPairedImageDataset' in DATASET_REGISTRY, 'DiTDiffFitModel' in MODEL_REGISTRY)"
    )
    assert out == "True True True True"


def test_functional_tensor_alias_points_at_functional() -> None:
    out = run_python(
        "import torchvision.transforms.functional_tensor as ft, torchvision.transforms.functional as f\n"
        "print(ft.rgb_to_grayscale is f.rgb_to_grayscale)"
    )
    assert out == "True"


def test_alias_without_hook_on_meta_path_fails_as_upstream() -> None:
    # Guard that the alias is really needed: with the hook removed, BasicSR 1.4.2 cannot import.
    code = (
        "import sys\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != 'BasicsrDistillFinder']\n"
        "try:\n    import basicsr\nexcept ModuleNotFoundError as e:\n    print(e.name)\n"
    )
    assert run_python(code) == "torchvision.transforms.functional_tensor"


def test_import_basicsr_imports_neither_diffusers_nor_open_clip() -> None:
    # `import basicsr` registers DiTDiffFitModel, whose module must import diffusers only when a DiT is built
    # (diffusers was ~1.2 s of every import). Checked twice: sys.modules, and -X importtime's own list
    # (which also catches a module imported and then removed from sys.modules).
    code = (
        "import sys, basicsr\n"
        "from basicsr.utils.registry import MODEL_REGISTRY\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'diffusers', 'open_clip', 'sklearn'})\n"
        "print(MODEL_REGISTRY.get('DiTDiffFitModel').__module__, heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "basicsr_distill.models.dit_difffit_model []"
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines() if "|" in line}
    assert "basicsr_distill" in imported  # the -X importtime listing is really there
    assert not imported & {"diffusers", "open_clip"}
