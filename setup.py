"""Packaging (the rest is in pyproject.toml): the firmware project, the board definitions with
the offline PlatformIO platforms, the example models and the docs ship inside the wheel as
micromel/_data/, where micromel.paths finds them. A checkout keeps them at its top level
(editable installs read them there)."""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("firmware", "boards", "models", "docs")     # docs: what messages and --help name
# build outputs and caches a development checkout may hold; never shipped
SKIP = shutil.ignore_patterns(".pio", "__pycache__", "*.pyc", ".*.swp")


class BuildWithResources(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return      # an editable install reads the checkout's own folders
        dest = Path(self.build_lib) / "micromel" / "_data"
        for name in SHIPPED:
            # a fresh copy: build_lib outlives a build, and a file deleted from the checkout
            # since the last wheel would ship again
            shutil.rmtree(dest / name, ignore_errors=True)
            shutil.copytree(ROOT / name, dest / name, ignore=SKIP)


setup(cmdclass={"build_py": BuildWithResources})
