"""Build step for the one C extension (everything else is in pyproject.toml).

The in-memory state backend has a C implementation (``antiscrape/_native.c``). It is
optional: where no compiler is available the build skips it and the package falls back to the
pure-Python backend, which gives the same answers (see ``antiscrape/native.py``).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "antiscrape._native",
            ["antiscrape/_native.c"],
            optional=True,
            extra_compile_args=["-O2", "-fno-strict-aliasing"],
        ),
    ],
)
