"""Fixtures for the publishing tests: the OUT folder of one REAL run of the generated scripts, and the
same run as it would be had train.py shipped each of the other predictors.

Once per session, as the bot would: the rule-based planner plans GOAL on the 1,100-row Bitext sample,
laid out as the catalog's offline copy of Bitext (so the plan credits the Hub data set and its
licence), with the overrides a maintainer would comment (PLAN_COMMENT); codegen renders the PR's
files; LocalRunner runs the rendered train.py and then evaluate.py. Nothing in metrics.json is
computed by the tests, so the card, the Space and the report are checked against evaluate.py itself.

With 200 fine-tune rows and one epoch, TF-IDF (trained on the whole train split) wins on Bitext and
the real run ships the baseline; whatever it ships, the fixtures of the three kinds are:
- `baseline_*`: the TF-IDF + LinearSVC model alone ships (`model/tfidf/tfidf.json` weight 0.0);
- `ensemble_*`: the fine-tune + TF-IDF average ships (0 < weight < 1);
- `alone_*`: the fine-tune ships alone (no `model/tfidf/`).
The kind the real run shipped is the real run, unchanged. The others are DERIVED from it: its model and
splits (hard links), the TF-IDF model it saved (or, if it saved none, one fitted as train.py fits it)
saved with the weight that kind ships with, and train_metrics.json's decision edited to name that kind;
then the rendered evaluate.py runs on the derived folder, so its metrics.json, report and confusion matrix
are evaluate.py's own, for a decision train.py did not take (its `reason` says DERIVED).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.planner.rules import make_plan
from bot.planner.schema import Plan, normalize_overrides
from bot.research.tfidf import COMPANION_DIR, TfidfClassifier
from bot.writing import codegen
from bot.writing.artifacts import SHIPPED_TITLES
from bot.writing.smoke import write_files
from runners.local import LocalRunner

GOAL = "Support tickets\n\nBuild a text classification model that labels customer support tickets by issue type."
# One small epoch: ~200 fine-tune rows, ~110 validation and ~110 test rows, so the run takes seconds.
PLAN_COMMENT = {"epochs": "1", "rows": "200", "batch_size": "16"}
RUN_BUDGET_S = 400
EVALUATE_BUDGET_S = 300
CHROMIUM = Path("/usr/bin/chromium")
KINDS = ("baseline", "finetuned", "ensemble")
DERIVED_WEIGHT = 0.5  # the ensemble's weight when the real decision chose none below 1


@dataclass(frozen=True)
class RealRun:
    plan: Plan  # the planner's plan with PLAN_COMMENT applied
    inspection: dict  # the planner's inspection, as research.json stores it
    src: Path  # the rendered PR files
    out: Path  # what train.py and evaluate.py left


@pytest.fixture(scope="session")
def real_run(tmp_path_factory, bitext_sample) -> RealRun:
    """Plan, render and run the real scripts once per session (train.py, then evaluate.py)."""
    root = tmp_path_factory.mktemp("publish_run")
    copy = root / "data" / "bitext" / "bitext.csv"  # where the catalog looks for its offline Bitext copy
    copy.parent.mkdir(parents=True)
    shutil.copy(bitext_sample, copy)
    planned = make_plan(GOAL, {}, normalize_overrides(PLAN_COMMENT), data_dirs=[root / "data"])
    src, out = root / "src", root / "out"
    write_files(codegen.render_pr_files(planned.plan, examples=[]), src)
    # config.yaml names the Hub ID; the scripts read the sample through train.py's data override.
    env = {**os.environ, "ML_INTERN_DATASET": str(copy)}
    result = LocalRunner().run(src, out, budget_s=RUN_BUDGET_S, env=env)
    assert result.ok, f"the generated scripts failed ({result.status}): {result.message}\n{result.log_tail}"
    inspection = json.loads(json.dumps(planned.research["inspection"]))
    return RealRun(planned.plan, inspection, src, out)


def _tfidf(real_out: Path) -> TfidfClassifier:
    """The TF-IDF model the real run saved, or one fitted as train.py fits it (whole train split, then a
    softmax temperature on validation) when the fine-tune shipped alone."""
    saved = real_out / "model" / COMPANION_DIR
    if (saved / "tfidf.json").is_file():
        return TfidfClassifier.load(saved)
    import pandas as pd

    labels = json.loads((real_out / "model" / "config.json").read_text())["id2label"]
    index = {name: int(i) for i, name in labels.items()}
    train, val = (pd.read_csv(real_out / "splits" / f"{s}.csv", dtype=str) for s in ("train", "validation"))
    model = TfidfClassifier(len(index)).fit(train["text"].tolist(), train["label"].map(index))
    return model.calibrate(val["text"].tolist(), val["label"].map(index))


def _derive(real_run: RealRun, target: Path, kind: str) -> tuple[Path, subprocess.Popen]:
    """A copy of the real run's folder whose files and decision ship `kind`, and its evaluate.py, started."""
    real = real_run.out
    out = target / "out"
    for folder in ("splits", "model"):  # hard links: the same files, without copying the weights
        shutil.copytree(real / folder, out / folder, ignore=shutil.ignore_patterns(COMPANION_DIR), copy_function=os.link)
    train = json.loads((real / "train_metrics.json").read_text())
    chosen = train["decision"]
    weight = chosen.get("finetuned_weight")
    weight = weight if isinstance(weight, float) and 0.0 < weight < 1.0 else DERIVED_WEIGHT
    if kind != "finetuned":
        companion = _tfidf(real)
        companion.finetuned_weight = weight if kind == "ensemble" else 0.0
        companion.save(out / "model" / COMPANION_DIR)
    candidates = list(dict.fromkeys([*chosen.get("candidates", KINDS), "ensemble"]))
    decision = {
        **chosen, "shipped": kind, "finetuned_weight": weight, "candidates": candidates,
        "reason": f"DERIVED for the tests: the {SHIPPED_TITLES[kind]} ships (the real run shipped the "
        f"{SHIPPED_TITLES[chosen['shipped']]}).",
    }
    (out / "train_metrics.json").write_text(json.dumps({**train, "decision": decision}, indent=2))
    command = [sys.executable, "evaluate.py", "--config", "config.yaml", "--output", str(out)]
    log = open(target / "evaluate.log", "w")  # noqa: SIM115 -- closed with the process below
    return out, subprocess.Popen(command, cwd=real_run.src, stdout=log, stderr=subprocess.STDOUT)


@pytest.fixture(scope="session")
def shipped_runs(tmp_path_factory, real_run) -> dict[str, Path]:
    """kind -> an OUT folder whose train.py decision, saved files and metrics.json ship that kind."""
    real_kind = json.loads((real_run.out / "metrics.json").read_text())["shipped"]
    runs, started = {real_kind: real_run.out}, {}
    for kind in KINDS:
        if kind != real_kind:  # both evaluate.py runs at once: each mostly waits on the other's torch
            started[kind] = _derive(real_run, tmp_path_factory.mktemp(f"derived_{kind}"), kind)
    for kind, (out, process) in started.items():
        status = process.wait(timeout=EVALUATE_BUDGET_S)
        log = (out.parent / "evaluate.log").read_text()
        assert status == 0, f"evaluate.py failed on the derived {kind} run:\n{log[-3000:]}"
        runs[kind] = out
    return runs


def _metrics(out: Path, kind: str) -> dict:
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["shipped"] == kind == metrics["decision"]["shipped"]
    return metrics


@pytest.fixture(scope="session")
def baseline_out(shipped_runs) -> Path:
    """The run as shipped with the TF-IDF baseline alone: model/tfidf/ with finetuned_weight 0.0."""
    return shipped_runs["baseline"]


@pytest.fixture(scope="session")
def baseline_metrics(baseline_out) -> dict:
    return _metrics(baseline_out, "baseline")


@pytest.fixture(scope="session")
def ensemble_out(shipped_runs) -> Path:
    """The run as shipped with the fine-tune + TF-IDF ensemble: model/tfidf/ with 0 < weight < 1."""
    return shipped_runs["ensemble"]


@pytest.fixture(scope="session")
def ensemble_metrics(ensemble_out) -> dict:
    return _metrics(ensemble_out, "ensemble")


@pytest.fixture(scope="session")
def alone_out(shipped_runs) -> Path:
    """The run as shipped with the fine-tune alone: no model/tfidf/."""
    return shipped_runs["finetuned"]


@pytest.fixture(scope="session")
def alone_metrics(alone_out) -> dict:
    return _metrics(alone_out, "finetuned")


@pytest.fixture(scope="session")
def ensemble_plan(real_run) -> Plan:
    """The Plan of the real run (the planner's default keeps the ensemble among the candidates)."""
    assert real_run.plan.ensemble_with_baseline
    return real_run.plan


@pytest.fixture(scope="session")
def baseline_plan(real_run) -> Plan:
    return real_run.plan


@pytest.fixture(scope="session")
def alone_plan(real_run) -> Plan:
    return real_run.plan


@pytest.fixture(scope="session")
def pre_ensemble_metrics(alone_metrics) -> dict:
    """DERIVED: the fine-tune's metrics as evaluate.py wrote them before the ship decision, the ensemble,
    intervals and off-topic abstention existed (an old run published after the bot was upgraded)."""
    newer = ("shipped", "ensemble", "decision", "comparisons", "out_of_domain")
    old = {key: value for key, value in alone_metrics.items() if key not in newer}
    old_abstain = ("threshold", "coverage", "accuracy")
    for key in ("finetuned", "baseline"):
        block = {k: v for k, v in old[key].items() if k != "interval"}
        old[key] = {**block, "abstain": {k: v for k, v in block["abstain"].items() if k in old_abstain}}
    dropped = ("ensemble", "finetune_seconds", "decision", "finetune_train_rows", "finetune_temperature")
    return {**old, "train": {key: value for key, value in alone_metrics["train"].items() if key not in dropped}}


@pytest.fixture
def inspection(real_run) -> dict:
    """The planner's inspection of the sample (a copy: a test may not change the session's)."""
    return json.loads(json.dumps(real_run.inspection))


@pytest.fixture
def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Path to the system Chromium; waits a few minutes while it is still being installed."""
    deadline = time.monotonic() + 240
    while not CHROMIUM.exists() and time.monotonic() < deadline:
        time.sleep(5)
    assert CHROMIUM.exists(), "Chromium is not installed at /usr/bin/chromium"
    return CHROMIUM
