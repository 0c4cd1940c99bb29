"""The registries users extend: lookup by name, one-line errors, built-ins imported on first use, plugin modules from
the environment (``BASICSR_DISTILL_PLUGINS``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from basicsr_distill.registry import Registry, UnknownNameError


def test_register_get_and_names() -> None:
    registry: Registry[type] = Registry("toy thing")

    @registry.register()
    class Plain:
        pass

    @registry.register()
    class Named:
        name = "named"

    registry.register(int, name="integer")
    assert registry.get("Plain") is Plain
    assert registry.get("named") is Named
    assert registry.names() == ["Plain", "named", "integer"]
    assert "integer" in registry and "nothing" not in registry
    assert dict(registry) == {"Plain": Plain, "named": Named, "integer": int}


def test_unknown_name_is_one_line_with_a_close_match() -> None:
    registry: Registry[type] = Registry("strategy")
    registry.register(int, name="descending")
    registry.register(float, name="ascending")
    with pytest.raises(UnknownNameError) as error:
        registry.get("decending")
    assert str(error.value) == (
        "unknown strategy 'decending' (registered: descending, ascending); did you mean 'descending'?"
    )


def test_a_name_registered_twice_is_refused() -> None:
    registry: Registry[type] = Registry("scorer")
    registry.register(int, name="loss")
    registry.register(int, name="loss")  # the same class again (a module imported twice) is harmless
    with pytest.raises(ValueError, match="scorer 'loss' is registered already"):
        registry.register(float, name="loss")


def test_builtins_and_plugins_in_a_fresh_process(tmp_path: Path) -> None:
    """Built-in modules are imported on first lookup; a plugin module named in the environment registers too; torch
    is never imported."""
    package = tmp_path / "toy_builtins"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from basicsr_distill.registry import Registry\nTHINGS = Registry('thing', builtins='toy_builtins.things')\n"
    )
    (package / "things").mkdir()
    (package / "things" / "__init__.py").write_text("")
    for name in ("b_second", "a_first"):
        (package / "things" / f"{name}.py").write_text(
            f"from toy_builtins import THINGS\n\n@THINGS.register()\nclass Thing:\n    name = {name!r}\n"
        )
    (tmp_path / "my_plugin.py").write_text(
        "from toy_builtins import THINGS\n\n@THINGS.register()\nclass Extra:\n    name = 'extra'\n"
    )
    script = textwrap.dedent(
        """
        import sys

        from toy_builtins import THINGS
        print(THINGS.names())
        print(THINGS.get("extra").__module__)
        print(sorted({"torch", "basicsr", "cv2"} & set(sys.modules)))
        """
    )
    env = {"PYTHONPATH": str(tmp_path), "BASICSR_DISTILL_PLUGINS": "my_plugin", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split("\n")[:3] == ["['a_first', 'b_second', 'extra']", "my_plugin", "[]"]

    env["BASICSR_DISTILL_PLUGINS"] = "no_such_plugin"
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "BASICSR_DISTILL_PLUGINS: plugin module 'no_such_plugin' not found" in result.stderr
