"""Install-time build step: compiles the net reachability search (src/treadle/accel/_reach.c).

Hatchling runs this hook when it builds a wheel or an editable install. The C file is
compiled with setuptools' extension builder (it knows each platform's compiler and flags).
Without a working C compiler Treadle still installs: it warns, and ``treadle.accel`` falls
back to the pure-Python search.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "treadle.accel._reach"
SOURCE = Path("src", "treadle", "accel", "_reach.c")


class CompileReachability(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        self._scratch = tempfile.mkdtemp(prefix="treadle-build-")
        try:
            built = compile_extension(Path(self.root), Path(self._scratch))
        except Exception as exc:  # any failure of the toolchain: install without it
            self.app.display_warning(
                f"treadle: the compiled net search was not built ({exc}); "
                "treadle.accel will use the pure-Python search"
            )
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version == "editable":
            # An editable install imports treadle from src/, so the module goes beside its
            # source (git ignores it there). It is renamed into place, never overwritten:
            # a running process that mapped the old file keeps it intact.
            target = Path(self.root) / SOURCE.parent / built.name
            staged = target.with_name(f".{built.name}.new")
            shutil.copy2(built, staged)
            os.replace(staged, target)
        else:
            build_data["force_include"][str(built)] = f"treadle/accel/{built.name}"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        scratch = getattr(self, "_scratch", None)
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


def compile_extension(root: Path, scratch: Path) -> Path:
    """Compile the search into ``scratch``; the path of the built module."""
    from setuptools import Distribution, Extension
    from setuptools.command.build_ext import build_ext

    extension = Extension(MODULE, [str(root / SOURCE)])
    command = build_ext(Distribution({"name": "treadle", "ext_modules": [extension]}))
    command.build_lib = str(scratch / "lib")
    command.build_temp = str(scratch / "temp")
    command.ensure_finalized()
    command.run()
    return Path(command.get_ext_fullpath(MODULE))
