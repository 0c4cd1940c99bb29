"""basicsr-distill: data-efficient SR training (core-set pruning, dataset distillation) on BasicSR."""

from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

HOOK_PTH = "basicsr_distill.pth"


class BuildPyWithHook(build_py):
    """Also ship ``basicsr_distill.pth`` into site-packages.

    The ``.pth`` file runs ``basicsr_distill_hook.install()`` at interpreter start-up (no torch
    import), which makes ``import basicsr`` work on current torchvision and registers this package
    in BasicSR's registries whenever BasicSR is imported, e.g. by ``python -m basicsr.train``.
    """

    def run(self) -> None:
        super().run()
        self.copy_file(HOOK_PTH, str(Path(self.build_lib) / HOOK_PTH), preserve_mode=0)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), str(Path(self.build_lib) / HOOK_PTH)]


class _StrategyWithHook:
    """Wraps an editable-install strategy so the editable wheel carries the hook ``.pth`` too."""

    def __init__(self, strategy) -> None:  # noqa: ANN001 - setuptools' private strategy type
        self.strategy = strategy

    def __call__(self, wheel, files, mapping) -> None:  # noqa: ANN001
        self.strategy(wheel, files, mapping)
        wheel.writestr(HOOK_PTH, Path(HOOK_PTH).read_text())

    def __enter__(self):  # noqa: ANN204
        self.strategy.__enter__()
        return self

    def __exit__(self, *exc_info) -> None:  # noqa: ANN002
        self.strategy.__exit__(*exc_info)


class EditableWheelWithHook(editable_wheel):
    """``pip install -e .`` installs the hook ``.pth`` as a regular install does."""

    def _select_strategy(self, name, tag, build_lib):  # noqa: ANN001, ANN202
        return _StrategyWithHook(super()._select_strategy(name, tag, build_lib))


#: Package data: these suffixes anywhere up to two folders below a package (setuptools globs them per package);
#: MANIFEST.in puts the same files into the source distribution.
DATA_SUFFIXES = ("yaml", "yml", "json", "txt", "pth", "pt", "bin", "safetensors")
PACKAGE_DATA = [f"{folder}*.{ext}" for folder in ("", "*/", "*/*/") for ext in DATA_SUFFIXES]

version = {}
exec(Path("basicsr_distill/version.py").read_text(), version)

setup(
    name="basicsr-distill",
    version=version["__version__"],
    description="Core-set pruning and dataset distillation for image super-resolution, on BasicSR",
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["basicsr_distill", "basicsr_distill.*"]),
    py_modules=["basicsr_distill_hook"],
    # Every option file, record and weights file inside the package ships, present and future: the shipped
    # scorers (< 1 MB each), published.yaml, the example option files of `basicsr-distill train --example`.
    package_data={"": PACKAGE_DATA},
    entry_points={"console_scripts": ["basicsr-distill = basicsr_distill.commands:main"]},
    cmdclass={"build_py": BuildPyWithHook, "editable_wheel": EditableWheelWithHook},
    install_requires=[
        "torch>=2.0",
        "torchvision>=0.15",
        "basicsr==1.4.2",
        "diffusers>=0.30",
        "open_clip_torch>=2.24",
        "lmdb",
        "opencv-python",
        "pyyaml",
        "tensorboard",
        "tqdm",
        "numpy",
        "scikit-learn",
        "scipy",
        "scikit-image",
        "matplotlib",
    ],
    extras_require={"dev": ["pytest", "pytest-xdist", "ruff"]},
)
