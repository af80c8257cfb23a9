"""The README's walk-through runs as written against a real gateway and prints what it says."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.gatewayproc import ROOT, running_gateway


def _walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## A five-minute walk-through", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)  # type: ignore[union-attr]


def _expected_lines(code: str) -> list[str]:
    return [line[2:] for line in code.splitlines() if line.startswith("# ")]


def test_readme_walkthrough_runs_as_written(tmp_path):
    """The walk-through's output matches the comments under each print, against vecgate."""
    code = _walkthrough()
    with running_gateway(tmp_path / "data") as gw:
        # The README dials the default ports; point the same code at this test's ports.
        wired = code.replace(
            'QdrantClient("localhost", prefer_grpc=True,',
            f'QdrantClient("localhost", prefer_grpc=True, grpc_port={gw.grpc_port}, '
            f"port={gw.http_port},",
        )
        assert wired.count(f"grpc_port={gw.grpc_port}") == 1
        result = subprocess.run(
            [sys.executable, "-W", "error", "-c", wired],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    printed = result.stdout.splitlines()
    expected = _expected_lines(code)
    assert len(printed) == len(expected), (printed, expected)
    for got, want in zip(printed, expected, strict=True):
        if want.endswith("..."):
            assert got.startswith(want[:-3].rstrip()), (got, want)
        else:
            assert got == want
