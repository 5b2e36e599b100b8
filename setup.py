"""Builds the guards' one compiled module, `bot/guards/_model_sums.pyx` (the rest is in
pyproject.toml).

Optional on purpose: where no C++ compiler is found, the install goes on without it and the
bot uses the pure-Python sums, with the same answers, more slowly (see bot/guards/model.py).
"""

from Cython.Build import cythonize
from setuptools import Extension, setup

extensions = cythonize(
    [
        Extension(
            "bot.guards._model_sums",
            ["bot/guards/_model_sums.pyx"],
            language="c++",
            extra_compile_args=["-O2", "-std=c++17"],
        )
    ],
    compiler_directives={"language_level": 3},
)
for extension in extensions:
    # Set here: `cythonize` makes new Extension objects and drops `optional=True` if given above
    # (an install without a compiler then failed instead of going on without the module).
    extension.optional = True

setup(ext_modules=extensions)
