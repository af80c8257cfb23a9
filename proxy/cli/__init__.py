"""The `vecgate` command line (typer + rich): serve, hash-key, config check, admin client.

`main` runs it; each module has one job (options, client, output, render, commands).

Before numpy loads, OpenBLAS is held to one thread unless the operator says otherwise
(OPENBLAS_NUM_THREADS): the gateway's only BLAS work is the drift watch's small
matrices (a few hundred rows), where OpenBLAS's extra threads add no speed and, on a
busy machine, spin: a drift scoring cost 3-30x the CPU with them (docs/decisions.md).
"""

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from proxy.cli.app import app, main

__all__ = ["app", "main"]
