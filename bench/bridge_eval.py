"""The figures of `vecgate bridge train` on the full data set, for docs/ and the README.

    python -m bench.bridge_eval [--data ../shared/data/embeddings]

Fine-tuned MiniLM (minilm@2) and mpnet (mpnet@1, 768-d) into MiniLM (minilm@1) with
2%, 5% and 10% of the 6,000 pairs, through a real gateway's `TrainBridge` RPC.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bridge import bridge_figures, figures_table  # noqa: E402


def main() -> int:
    """Train every bridge and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "embeddings")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vecgate-bridge-eval-"))
    try:
        views = bridge_figures(args.data, work, lambda m: print(f"[bench] {m}", file=sys.stderr))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(figures_table(views))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
