"""Shared benchmark plumbing: render the bot's scripts for a Plan, run them, time the reference, print JSON.

The benchmarks measure the product itself: `bot.writing.codegen.render_pr_files(plan)` writes train.py and
evaluate.py exactly as a pull request would carry them, and they run in subprocesses (offline, MiniLM
from the PyPI package). Accuracy comes from evaluate.py's metrics.json (official or de-duplicated
test split); training time from train.py's train_metrics.json (`trainer.train()` wall time, per-epoch
validation included). The reference (benchmarks/reference.py) trains on the same OUT/splits.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
WORK = ROOT / ".ml-intern" / "bench"  # git-ignored
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SPEED_TARGET = 3.0  # >= 3x faster than the reference (issue "ML core", point 8)


def parse_args(description: str, argv=None) -> argparse.Namespace:
    """Common flags: where to work, and how much of the reference to run."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workdir", type=Path, default=None, help="keep scripts and outputs here")
    parser.add_argument("--reference-fraction", type=float, default=0.1,
                        help="time this share of one reference epoch and extrapolate to 3 epochs (default 0.1)")
    parser.add_argument("--reference", choices=["fraction", "full", "skip"], default="fraction",
                        help="'full' trains the reference's 3 epochs and scores it (about an hour on 2 cores)")
    return parser.parse_args(argv)


def log(message: str) -> None:
    """Progress to stderr: stdout's last line is reserved for the result JSON."""
    print(message, file=sys.stderr, flush=True)


def offline_env(workdir: Path) -> dict[str, str]:
    """Subprocess env: the packaged MiniLM as an offline Hub cache, no credentials, all cores."""
    from bot.research.models import ensure_offline_model
    from runners.base import scrub_env

    hf_home = WORK / "hf_home"
    ensure_offline_model(hf_home)
    env = scrub_env(os.environ)
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")
    return env


def render(plan, workdir: Path) -> Path:
    """Write the pull request's files for plan into workdir/src; return that folder."""
    from bot.writing.codegen import render_pr_files

    src = workdir / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name, text in render_pr_files(plan, examples=[]).items():
        (src / name).write_text(text, encoding="utf-8")
    return src


def run_script(cmd: list[str], cwd: Path, env: dict, timeout_s: float) -> list[str]:
    """Run a subprocess, echo its stdout lines to stderr, return them; raise on failure."""
    log("$ " + " ".join(cmd))
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines, deadline = [], time.time() + timeout_s
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        log("  " + lines[-1][:300])
        if time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"{cmd[1]} ran past {timeout_s:.0f} s")
    if proc.wait() != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])} exited {proc.returncode}: {lines[-1:]}")
    return lines


def run_product(plan, workdir: Path, env: dict) -> dict:
    """Render and run train.py then evaluate.py; return metrics.json (with train_metrics inside)."""
    src = render(plan, workdir)
    out = workdir / "out"
    shutil.rmtree(out, ignore_errors=True)
    limit = 60.0 * plan.time_budget_minutes + 600  # the script stops itself at its budget
    run_script([sys.executable, "train.py", "--config", "config.yaml", "--output", str(out)], src, env, limit)
    run_script([sys.executable, "evaluate.py", "--config", "config.yaml", "--output", str(out)], src, env, 1800)
    return json.loads((out / "metrics.json").read_text())


def run_reference(splits: Path, model: str, mode: str, fraction: float, env: dict) -> dict | None:
    """benchmarks/reference.py on the product's own splits; None when skipped."""
    if mode == "skip":
        return None
    cmd = [sys.executable, str(ROOT / "benchmarks" / "reference.py"), "--splits", str(splits), "--model", model]
    cmd += ["--full"] if mode == "full" else ["--fraction", str(fraction)]
    lines = run_script(cmd, ROOT, env, 6 * 3600)
    return json.loads(lines[-1])


def result_record(dataset: str, plan, metrics: dict, reference: dict | None) -> dict:
    """The one JSON object the issue asks for (accuracy, macro-F1 and training time of the shipped
    predictor), plus context (the fine-tune alone, the baseline, epochs, rows, reference mode)."""
    from bot.writing.artifacts import shipped_eval, shipped_key

    shipped, ft, train = shipped_eval(metrics), metrics["finetuned"], metrics["train"]
    ref_seconds = reference["train_seconds"] if reference else None
    return {
        "dataset": dataset,
        "model": plan.model,
        "accuracy": round(shipped["accuracy"], 4),
        "macro_f1": round(shipped["macro_f1"], 4),
        "train_seconds": train["train_seconds"],
        "reference_accuracy": None if not reference or reference["accuracy"] is None else round(reference["accuracy"], 4),
        "reference_macro_f1": None if not reference or reference["macro_f1"] is None else round(reference["macro_f1"], 4),
        "reference_train_seconds": ref_seconds,
        "reference_mode": None if not reference else (
            "full" if reference["mode"] == "full"
            else f"fraction {reference['fraction_of_epoch']} of one epoch, time extrapolated to 3 epochs"),
        "speed_ratio": round(ref_seconds / train["train_seconds"], 2) if ref_seconds else None,
        "shipped": shipped_key(metrics),
        "finetuned_weight": (train.get("ensemble") or {}).get("finetuned_weight"),
        "finetuned_accuracy": round(ft["accuracy"], 4),
        "finetuned_macro_f1": round(ft["macro_f1"], 4),
        "finetune_seconds": train.get("finetune_seconds"),
        "baseline_accuracy": round(metrics["baseline"]["accuracy"], 4),
        "baseline_macro_f1": round(metrics["baseline"]["macro_f1"], 4),
        "epochs_run": train["epochs_run"],
        "stopped_reason": train["stopped_reason"],
        "rows": metrics["rows"],
        "recipe": {k: getattr(plan, k) for k in ("epochs", "learning_rate", "batch_size", "max_length",
                                                  "max_train_rows", "time_budget_minutes")},
    }


def check(record: dict, targets: dict) -> list[str]:
    """Targets missed, in words; the reference's accuracy is compared only when it was measured."""
    missed = []
    for key, (op, limit) in targets.items():
        value = record.get(key)
        if value is None:
            missed.append(f"{key} not measured")
        elif (op == ">=" and value < limit) or (op == "<=" and value > limit):
            missed.append(f"{key} {value} not {op} {limit}")
    ref = record.get("reference_accuracy")
    if ref is not None and record["accuracy"] < ref:
        missed.append(f"accuracy {record['accuracy']} below the reference's {ref}")
    return missed


def finish(record: dict, targets: dict) -> int:
    """Print the result as stdout's last line; exit status 1 when a target is missed."""
    missed = check(record, targets)
    record["targets"] = {k: f"{op} {v}" for k, (op, v) in targets.items()}
    record["missed"] = missed
    record["ok"] = not missed
    print(json.dumps(record), flush=True)
    return 0 if not missed else 1


def bench(dataset: str, plan, targets: dict, args) -> int:
    """Run product and reference for plan; print the JSON line; 1 when a target is missed or a run failed."""
    workdir = (args.workdir or WORK / dataset.lower()).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    env = offline_env(workdir)
    try:
        metrics = run_product(plan, workdir, env)
        reference = run_reference(workdir / "out" / "splits", plan.model, args.reference, args.reference_fraction, env)
    except (RuntimeError, OSError, ValueError) as exc:
        log(f"benchmark failed: {exc}")
        empty = {k: None for k in ("accuracy", "macro_f1", "train_seconds", "reference_accuracy",
                                   "reference_train_seconds", "speed_ratio")}
        print(json.dumps({"dataset": dataset, "model": plan.model, **empty, "error": str(exc), "ok": False}))
        return 1
    record = result_record(dataset, plan, metrics, reference)
    (workdir / "result.json").write_text(json.dumps(record, indent=2))
    return finish(record, targets)
