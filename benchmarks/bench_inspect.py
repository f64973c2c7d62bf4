"""Timing check: inspecting Bitext (26,872 rows) incl. tokenization must take <= 5 s.

Prints one JSON line; exits 1 when over the limit. Tokenizer loading is timed separately (a one-off
per process: importing transformers dominates it). Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_inspect.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
LIMIT_S = 5.0


def main() -> int:
    """Load, inspect with the default model's tokenizer, report seconds as JSON."""
    from bot.research.data import load_frames
    from bot.research.inspect import inspect_frames
    from bot.research.models import MODEL_ID, load_tokenizer

    started = time.perf_counter()
    tokenizer = load_tokenizer(MODEL_ID)
    tokenizer_s = time.perf_counter() - started

    started = time.perf_counter()
    frames = load_frames(str(DATA / "bitext" / "bitext.csv"))
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    ins = inspect_frames(frames, "labels customer support tickets by issue type", tokenizer)
    inspect_s = time.perf_counter() - started

    seconds = load_s + inspect_s
    print(
        json.dumps(
            {
                "benchmark": "inspect_bitext",
                "rows": ins.rows,
                "seconds": round(seconds, 3),
                "inspect_seconds": round(inspect_s, 3),
                "load_seconds": round(load_s, 3),
                "tokenizer_load_seconds": round(tokenizer_s, 3),
                "limit_seconds": LIMIT_S,
                "ok": seconds <= LIMIT_S,
                "label_column": ins.label_column,
                "token_lengths": ins.token_lengths,
            }
        )
    )
    return 0 if seconds <= LIMIT_S else 1


if __name__ == "__main__":
    sys.exit(main())
