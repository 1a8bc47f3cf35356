"""The C extension only; all metadata is in pyproject.toml."""

import sys

from setuptools import Extension, setup

# jieba's scores compared bit for bit: no fused multiply-add contraction, no fast-math
_FLAGS = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-fno-fast-math"]

setup(
    ext_modules=[
        Extension("nlp._jiebac", sources=["nlp/_native/jiebac.c"], extra_compile_args=_FLAGS),
    ],
)
