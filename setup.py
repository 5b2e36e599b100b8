"""Builds the guards' compiled modules, `bot/guards/_model_sums.pyx` (the crisis model's sums)
and `bot/guards/_pieces.pyx` (the normalisation's common case); the rest is in pyproject.toml.

Optional on purpose: where no C++ compiler is found, the install goes on without them and the
guards use the Python code, with the same answers, more slowly (see bot/guards/native.py).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = cythonize(
    [
        Extension(
            f"bot.guards.{name}",
            [f"bot/guards/{name}.pyx"],
            language="c++",
            extra_compile_args=["-O2", "-std=c++17"],
        )
        for name in ("_model_sums", "_pieces")
    ],
    compiler_directives={"language_level": 3},
)
for extension in extensions:
    # Set here: `cythonize` makes new Extension objects and drops `optional=True` if given above
    # (an install without a compiler then failed instead of going on without the module).
    extension.optional = True

setup(ext_modules=extensions)
