"""What the shell tests feed the bot: webhook payloads shaped like GitHub's, and the slow steps' results.

The plan, the research and metrics.json are small but keep their contracts (`Plan`, the plan comment's
template, `bot/core/records.py::Metrics` as docs/ARTIFACTS.md describes it), so nothing here trains.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.core.records import checked_metrics
from bot.planner.schema import Plan
from runners.base import JobRef, JobStatus, RunRequest
from tests.shell.fake_github import FakeRepository

REPO, BOT = "acme/support-bot", "ml-intern[bot]"
MAINTAINER, READER = "maria", "alice"
LABELS = ["ACCOUNT", "ORDER"]

PLAN = Plan.model_validate({"goal": "Label support tickets by issue type", "labels": LABELS, "epochs": 1,
                           "dataset": "bitext/Bitext-customer-support-llm-chatbot-training-dataset",
                           "text_column": "instruction", "label_column": "category"}).model_dump()

RESEARCH: dict[str, Any] = {
    "dataset": {"source": PLAN["dataset"], "resolved": PLAN["dataset"], "why": "named in the issue", "note": ""},
    "inspection": {"rows": 60, "splits": {"train": 60}, "reasons": ["`category` matches the goal's wording"],
                   "imbalance_ratio": 1.0, "tiny_classes": [], "exact_duplicates": 0, "normalized_duplicates": 0,
                   "label_conflicts": 0, "token_lengths": {"p50": 12, "p95": 20, "p99": 24, "max": 30},
                   "placeholder_rows": 0, "columns": ["instruction", "category"]},
    "leakage_text": "none", "split_rows": {"train": 48, "validation": 6, "test": 6},
    "baseline": {"accuracy": 0.7, "macro_f1": 0.69, "seconds": 0.1},
    "estimate": {"train_rows": 48, "minutes": 0.5, "hardware": "local-cpu", "cost": "$0", "basis": "measured"},
    "choices": [], "examples": [["I cannot log in", "ACCOUNT"], ["Where is my order?", "ORDER"]],
}


def _evaluation(accuracy: float) -> dict[str, Any]:
    row = {"precision": accuracy, "recall": accuracy, "f1": accuracy, "support": 3}
    return {"accuracy": accuracy, "macro_f1": accuracy, "per_class": {label: row for label in LABELS},
            "confusion": {"labels": LABELS, "matrix": [[2, 1], [0, 3]]},
            "most_confused": [{"true": "ACCOUNT", "pred": "ORDER", "count": 1}],
            "misclassified": [{"text": "my account order", "true": "ACCOUNT", "pred": "ORDER", "confidence": 0.6}],
            "ece": 0.05, "abstain": {"threshold": 0.5, "coverage": 0.9, "accuracy": 0.9},
            "stress": {"typos": {"accuracy": accuracy - 0.1, "drop": 0.1}, "out_of_domain": {"abstain_rate": 0.4}}}


METRICS = checked_metrics({
    "dataset": PLAN["dataset"], "model": PLAN["model"], "label_column": "category", "labels": LABELS,
    "rows": {"train": 48, "validation": 6, "test": 6}, "finetuned": _evaluation(0.83), "baseline": _evaluation(0.67),
    "ensemble": None, "shipped": "finetuned",
    "train": {"train_seconds": 3.0, "finetune_seconds": 2.5, "epochs_run": 1, "best_val_macro_f1": 0.8,
              "stopped_reason": "completed", "history": [],
              "ensemble": {"finetuned_weight": 1.0, "shipped": False,
                           "val_accuracy": {"finetuned": 0.83, "tfidf": 0.67, "ensemble": 0.8}}},
    "verdict": "The fine-tune beats the TF-IDF baseline by 16 points of macro-F1.",
})


class FakeBackend:
    """Stands in for a training backend (runners.base.Backend): records what it was given, never trains.

    `stage` is what `status` answers; `events` the progress lines it reports; `fetch` writes `metrics`.
    """

    name = "local"

    def __init__(self) -> None:
        self.stage, self.metrics, self.cost = "running", METRICS, 0.0
        self.events: list[dict] = []
        self.runs: list[dict[str, str]] = []
        self.cancelled: list[str] = []

    def submit(self, request: RunRequest) -> JobRef:
        src = request.source / request.folder
        self.runs.append({name: (src / name).read_text() for name in ("train.py", "config.yaml")})
        return JobRef(backend=self.name, id=f"job{len(self.runs)}", url=f"https://jobs.example/{len(self.runs)}")

    def status(self, job: JobRef) -> JobStatus:
        return JobStatus(stage=self.stage, seconds=3.0, cost_usd=self.cost, events=list(self.events),  # type: ignore[arg-type]
                         message="Job timeout after 600s" if self.stage == "timed_out" else "", log_tail="epoch 1/1")

    def cancel(self, job: JobRef) -> None:
        self.cancelled.append(job.id)
        self.stage = "cancelled"

    def fetch(self, job: JobRef, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "metrics.json").write_text(json.dumps(self.metrics))
        return dest


# --- webhook payloads, as GitHub sends them --------------------------------------------------------


def _common(sender: str, sender_type: str) -> dict[str, Any]:
    return {"repository": {"full_name": REPO}, "sender": {"login": sender, "type": sender_type}}


def _issue(github: FakeRepository, number: int) -> dict[str, Any]:
    thread = github.threads[number]
    issue = {"number": number, "title": thread.title, "body": thread.body, "user": {"login": thread.author},
             "labels": [{"name": name} for name in sorted(thread.labels)]}
    if number in github.pulls:
        issue["pull_request"] = {"url": f"https://api.github.com/repos/{REPO}/pulls/{number}"}
    return issue


def labeled(github: FakeRepository, number: int, label: str, sender: str = MAINTAINER) -> tuple[str, dict]:
    """Someone adds `label` to the issue (GitHub applies it, then sends `issues` labeled)."""
    github.threads[number].labels.add(label)
    return "issues", {"action": "labeled", "issue": _issue(github, number), "label": {"name": label},
                      **_common(sender, "User")}


def commented(github: FakeRepository, number: int, body: str, sender: str = MAINTAINER,
              sender_type: str = "User") -> tuple[str, dict]:
    """Someone comments on issue or PR `number` (GitHub stores it, then sends `issue_comment` created)."""
    comment = github.add_comment(number, sender, body, sender_type)
    stamp = comment.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "issue_comment", {"action": "created", "issue": _issue(github, number),
                             "comment": {"id": comment.id, "body": body, "created_at": stamp},
                             **_common(sender, sender_type)}


def pushed(github: FakeRepository, pr: int, files: dict[str, str], sender: str = READER) -> tuple[str, dict]:
    """Someone pushes a commit to the PR's branch (GitHub then sends `pull_request` synchronize)."""
    branch = github.pulls[pr].branch
    sha = github.commit(branch, files, author=sender)
    return "pull_request", {"action": "synchronize", "number": pr,
                            "pull_request": {"number": pr, "head": {"ref": branch, "sha": sha}},
                            **_common(sender, "User")}


def polled(number: int) -> tuple[str, dict]:
    """The job watcher's poll for issue `number` (`ml-intern-bot serve` queues one every few seconds)."""
    return "ml_intern_poll", {"repository": {"full_name": REPO}, "issue": {"number": number}}
