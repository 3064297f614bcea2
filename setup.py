"""Compiles the Cython cores (every ``src/tapeflow/**/*.pyx``); all other metadata lives in pyproject.toml.

Why a setup.py at all: pyproject.toml cannot list extension modules. Each core sits beside the pure-Python
reference it must match (tests compare the two), so adding a core is adding a ``.pyx`` file, nothing here.
"""

import os
from pathlib import Path

from Cython.Build import cythonize
from setuptools import Extension, setup

SOURCES = sorted(Path("src").rglob("*.pyx"))
EXTENSIONS = [
    Extension(".".join(path.relative_to("src").with_suffix("").parts), [path.as_posix()], extra_compile_args=["-O2"])
    for path in SOURCES
]

setup(
    # the cores compile side by side (gcc on each core's C file is most of `make demo`'s install on a fresh machine)
    options={"build_ext": {"parallel": os.cpu_count() or 1}},
    ext_modules=cythonize(
        EXTENSIONS,
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False, "cdivision": True},
    ),
)
