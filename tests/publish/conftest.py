"""Fixtures for the publishing tests: the OUT folder of one REAL run of the generated scripts.

Once per session, as the bot would: the rule-based planner plans GOAL on the 1,100-row Bitext sample,
laid out as the catalog's offline copy of Bitext (so the plan credits the Hub data set and its
licence), with the overrides a maintainer would comment (PLAN_COMMENT); codegen renders the PR's
files; LocalRunner runs the rendered train.py and then evaluate.py. Nothing in metrics.json is
computed by the tests, so the card, the Space and the report are checked against evaluate.py itself.

That run ships the fine-tune + TF-IDF ensemble (averaging wins on validation on Bitext): the
`ensemble_*` fixtures are the real run, unchanged. The `alone_*` fixtures are DERIVED from it: the
same run as if the plan had said `/plan ensemble=false`. train.py then trains the same model and only
skips saving `model/tfidf/`, so the derived folder is the real one without `model/tfidf/`, and its
metrics.json is the real one edited as evaluate.py writes it without a companion (no ensemble block,
`shipped: finetuned`), with the verdict, report and confusion matrix redone by the rendered
evaluate.py's own functions.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.planner.rules import make_plan
from bot.planner.schema import Plan, normalize_overrides
from bot.writing import codegen
from bot.writing.smoke import write_files
from runners.local import LocalRunner
from tests.scripts import load_script

GOAL = "Support tickets\n\nBuild a text classification model that labels customer support tickets by issue type."
# One small epoch: ~200 training rows, ~110 validation and ~110 test rows, so the run takes seconds.
PLAN_COMMENT = {"epochs": "1", "rows": "200", "batch_size": "16"}
RUN_BUDGET_S = 400
CHROMIUM = Path("/usr/bin/chromium")


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
    result = LocalRunner().run(src, out, budget_s=RUN_BUDGET_S)
    assert result.ok, f"the generated scripts failed ({result.status}): {result.message}\n{result.log_tail}"
    inspection = json.loads(json.dumps(planned.research["inspection"]))
    return RealRun(planned.plan, inspection, src, out)


@pytest.fixture(scope="session")
def ensemble_out(real_run) -> Path:
    """The real run's OUT folder: model/tfidf/ holds the companion, and the ensemble ships."""
    metrics = json.loads((real_run.out / "metrics.json").read_text())
    assert metrics["shipped"] == "ensemble", f"averaging did not win on validation: {metrics['train']['ensemble']}"
    return real_run.out


@pytest.fixture(scope="session")
def ensemble_metrics(ensemble_out) -> dict:
    """metrics.json of the real run, as evaluate.py wrote it."""
    return json.loads((ensemble_out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def ensemble_plan(real_run) -> Plan:
    """The Plan of the real run (the planner's default keeps the ensemble on)."""
    assert real_run.plan.ensemble_with_baseline
    return real_run.plan


@pytest.fixture(scope="session")
def alone_plan(real_run) -> Plan:
    """DERIVED: the real run's Plan after `/plan ensemble=false`."""
    return real_run.plan.model_copy(update={"ensemble_with_baseline": False})


@pytest.fixture(scope="session")
def alone_out(tmp_path_factory, real_run, ensemble_out) -> Path:
    """DERIVED: the real run as if the plan had turned the ensemble off (see this module's docstring)."""
    out = tmp_path_factory.mktemp("alone_run") / "out"
    for folder in ("splits", "model"):  # hard links: the same files, without copying the weights
        skip = shutil.ignore_patterns("tfidf")
        shutil.copytree(ensemble_out / folder, out / folder, ignore=skip, copy_function=os.link)
    evaluate = load_script(real_run.src / "evaluate.py", "rendered_evaluate")
    real = json.loads((ensemble_out / "metrics.json").read_text())
    train = {**real["train"], "ensemble": {**real["train"]["ensemble"], "shipped": False}}
    shipped, baseline = real["finetuned"], real["baseline"]
    seconds, smoke = baseline.get("train_seconds", 0.0), bool(real.get("smoke"))
    verdict = evaluate.verdict(shipped, evaluate.MODEL_NAMES["finetuned"], baseline, train, seconds, smoke)
    metrics = {**real, "ensemble": None, "shipped": "finetuned", "train": train, "verdict": verdict}
    (out / "train_metrics.json").write_text(json.dumps(train, indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False))
    title = f"Shipped model ({evaluate.MODEL_NAMES['finetuned']}), test set (row-normalised)"
    evaluate.plot_confusion(shipped["confusion"]["matrix"], real["labels"], out / "confusion_matrix.png", title)
    (out / "report.md").write_text(evaluate.report_markdown(metrics), encoding="utf-8")
    return out


@pytest.fixture(scope="session")
def alone_metrics(alone_out) -> dict:
    """DERIVED: metrics.json of the run shipped without its companion (the real numbers, edited)."""
    return json.loads((alone_out / "metrics.json").read_text())


@pytest.fixture(scope="session")
def pre_ensemble_metrics(alone_metrics) -> dict:
    """DERIVED: the run's metrics as evaluate.py wrote them before the ensemble existed (no `shipped`)."""
    old = {key: value for key, value in alone_metrics.items() if key not in ("shipped", "ensemble")}
    dropped = ("ensemble", "finetune_seconds")
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
