"""The local backend's job process: a run whose evaluation is stopped at the time limit reports the
training it finished, and keeps its outputs where it ran."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

from runners.base import RunRequest
from runners.local_jobs import LocalBackend

TRAIN = """
import json, sys, pathlib
out = pathlib.Path(sys.argv[sys.argv.index("--output") + 1])
(out / "model").mkdir(parents=True, exist_ok=True)
(out / "train_metrics.json").write_text(json.dumps({"epochs_run": 5, "best_val_macro_f1": 0.93,
                                                    "stopped_reason": "completed"}))
print(json.dumps({"event": "done", "stopped_reason": "completed", "best_val_macro_f1": 0.93}), flush=True)
"""
SLOW_EVALUATE = """
import json, time
print(json.dumps({"event": "evaluate", "step": "fine-tuned"}), flush=True)
time.sleep(120)
"""


def checkout(root: Path) -> Path:
    folder = root / "ml-intern" / "issue-3"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text("dataset: x\n")
    (folder / "train.py").write_text(textwrap.dedent(TRAIN))
    (folder / "evaluate.py").write_text(textwrap.dedent(SLOW_EVALUATE))
    return root


def test_a_job_whose_evaluation_ran_out_of_time_reports_its_training(tmp_path):
    backend = LocalBackend(tmp_path / "jobs")
    request = RunRequest(repo="o/r", issue=3, sha="a" * 40, folder="ml-intern/issue-3",
                         source=checkout(tmp_path / "checkout"), budget_s=5, hardware="local-cpu")
    job = backend.submit(request)
    deadline = time.monotonic() + 60
    status = backend.status(job)
    while not status.ended and time.monotonic() < deadline:
        time.sleep(0.5)
        status = backend.status(job)
    assert status.stage == "timed_out"
    assert status.message == ("train.py finished (5 epochs, as planned, best validation macro-F1 0.9300); evaluate.py "
                              "ran out of time, so there is no test score (`/retry` trains and evaluates again).")
    assert any(event.get("event") == "done" for event in status.events)  # train.py's progress lines came back
    out = tmp_path / "jobs" / job.id / "out"
    assert json.loads((out / "train_metrics.json").read_text())["epochs_run"] == 5 and (out / "model").is_dir()
