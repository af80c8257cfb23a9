"""vecgate's C modules (docs/decisions.md, 49 and 50); the rest is pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("proxy._wirescan", ["proxy/_wirescan.c"], depends=["proxy/_densevector.h"]),
        # -O3: the map loops are vectorised (AVX2 + FMA where the CPU has them)
        Extension(
            "proxy._mapkernel",
            ["proxy/_mapkernel.c"],
            depends=["proxy/_densevector.h"],
            extra_compile_args=["-O3"],
        ),
    ]
)
