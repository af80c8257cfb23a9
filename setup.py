"""The one C module, `proxy._wirescan` (docs/decisions.md, 49); the rest is pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("proxy._wirescan", ["proxy/_wirescan.c"])])
