"""Carries out the core's slow effects (research, PR, training, publishing) and reports Outcomes.

Every failure becomes a StepFailed outcome, so the machine records it and the user gets a
comment that says what happened and what to do next.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.core import effects as fx
from bot.core.commands import CommandError, may_run, parse_commands
from bot.core.records import Publication, Run, RunSummary, checked_metrics
from bot.core.render import note, render
from bot.core.routing import BRANCH_PREFIX, pr_marker
from bot.errors import Interrupted
from bot.planner.schema import Plan
from bot.shell.ports import Repository
from bot.writing.artifacts import shipped_eval, shipped_key
from runners.local import LocalRunner

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 10.0
EVAL_ALLOWANCE_S = 300.0  # evaluate.py runs after the training budget
RESEARCH_FILE = "research.json"  # the plan's evidence, committed with the scripts and read by the card
RESULT_FILE = "result.json"  # how a run ended, written before it is reported: a bot that dies in between can report it
_running: dict[tuple[str, int], LocalRunner] = {}
_running_lock = threading.Lock()


def branch_for(number: int) -> str:
    return f"{BRANCH_PREFIX}{number}"


def folder_for(number: int) -> str:
    """Where the scripts live in the repository: one folder per goal issue."""
    return f"ml-intern/issue-{number}"


class Executor:
    def __init__(self, client: Repository, settings: Settings, repo: str, number: int,
                 on_progress: Callable[[str], None]):
        self.client, self.settings, self.repo, self.number = client, settings, repo, number
        self.on_progress = on_progress
        slug = re.sub(r"[^\w.-]", "_", repo)
        self.issue_dir = settings.workdir.resolve() / "issues" / slug / f"issue-{number}"

    def research(self, effect: fx.Research) -> fx.Outcome:
        from bot.planner.rules import make_plan
        from bot.research.data import default_data_dirs

        config = self.client.read_config()
        result = make_plan(effect.goal, config, effect.overrides, advisor=self._advisor(),
                           repo_files=RepoData(self.client, self.repo_data), data_dirs=default_data_dirs())
        research = {**result.research, "examples": result.examples}
        return fx.Planned(result.plan.model_dump(), research)

    def _advisor(self):
        """The Claude planner when ANTHROPIC_API_KEY is set; otherwise the deterministic planner alone."""
        if not self.settings.anthropic_api_key:
            return None
        from bot.planner.claude import ClaudeAdvisor

        model = os.environ.get("ML_INTERN_CLAUDE_MODEL")
        if model:
            return ClaudeAdvisor(self.settings.anthropic_api_key, model=model)
        return ClaudeAdvisor(self.settings.anthropic_api_key)

    def open_pull_request(self, effect: fx.OpenPullRequest) -> fx.Outcome:
        from bot.writing.codegen import render_pr_files
        from bot.writing.smoke import smoke_test

        plan = Plan(**effect.plan)
        files = render_pr_files(plan, examples=effect.research.get("examples"))
        files[RESEARCH_FILE] = json.dumps(_research_record(effect.research), indent=2, sort_keys=True) + "\n"
        self.on_progress("Smoke-testing train.py and evaluate.py on a tiny sample…")
        smoke = smoke_test(files, self.issue_dir / "smoke", env=self._smoke_env(plan))
        if not smoke.ok:
            return fx.StepFailed("smoke", note("smoke_failed"),
                                 smoke.log_tail)
        folder = folder_for(self.number)
        sha, tested_at = self.client.push_files(branch_for(self.number), folder, files,
                                                f"ml-intern: training scripts for #{self.number}")
        body = render("comments/pull_request.md.j2", number=self.number, plan=plan, smoke=smoke, sha=sha,
                      folder=folder, files=sorted(files)) + pr_marker(self.number) + "\n"
        pr = self.client.ensure_pull(branch_for(self.number), f"ml-intern: {plan.goal[:60]} (#{self.number})", body)
        return fx.PullRequestReady(pr, branch_for(self.number), sha,
                                   {"seconds": smoke.seconds, "summary": smoke.summary}, tested_at)

    @property
    def repo_data(self) -> Path:
        """Where data files named from the repository are copied for research and the smoke test."""
        return self.issue_dir / "repo-data"

    def _smoke_env(self, plan: Plan) -> dict[str, str] | None:
        """The smoke test reads repository data from the copy research made (train.py honours ML_INTERN_DATASET)."""
        if not plan.dataset_in_repo:
            return None
        local = self.repo_data / plan.dataset_in_repo
        if not local.exists() and RepoData(self.client, self.repo_data).fetch(plan.dataset_in_repo) is None:
            raise FileNotFoundError(f"the repository no longer has `{plan.dataset_in_repo}`")
        return {**os.environ, "ML_INTERN_DATASET": str(local)}

    def train(self, effect: fx.Train) -> fx.Outcome:
        """Check out exactly the approved commit and run it; the result is kept on disk before it is reported."""
        from runners.local import LocalRunner, reap

        plan = Plan(**effect.plan)
        run_dir = self.run_dir(effect.sha)
        if reap(run_dir / "out"):
            log.warning("stopped scripts a killed bot left running for %s", effect.sha[:7])
        shutil.rmtree(run_dir, ignore_errors=True)
        src = self._checkout(effect.sha, plan, run_dir / "repo")
        runner = LocalRunner()
        watch = CancelWatch(self.client, self.number, runner.cancel)
        with _running_lock:
            _running[(self.repo, self.number)] = runner
        watch.start()
        try:
            result = runner.run(src, run_dir / "out", budget_s=plan.time_budget_minutes * 60 + EVAL_ALLOWANCE_S,
                                on_progress=ProgressReporter(self.on_progress))
        finally:
            watch.stop.set()
            with _running_lock:
                _running.pop((self.repo, self.number), None)
        record = {"status": result.status, "seconds": result.seconds, "log_tail": result.log_tail}
        _write_json(run_dir / RESULT_FILE, record)
        if result.status == "interrupted":
            raise Interrupted(f"training of {effect.sha[:7]} was stopped because the bot shut down")
        return self._outcome(effect.sha, run_dir, record)

    def run_dir(self, sha: str) -> Path:
        return self.issue_dir / "runs" / sha

    def _checkout(self, sha: str, plan: Plan, dest: Path) -> Path:
        """The issue's folder at `sha` (plus the dataset when it lives in the repository), laid out as in a clone."""
        folder = folder_for(self.number)
        in_repo = plan.dataset_in_repo
        self.client.checkout(sha, [folder, *([in_repo] if in_repo else [])], dest)
        return dest / folder

    def recover(self, lease: dict, state) -> fx.Outcome | None:
        """The outcome of a run whose bot died before reporting it, when the run itself finished."""
        sha = lease.get("sha")
        if lease.get("step") != "training" or not sha:
            return None
        record = _read_json(self.run_dir(sha) / RESULT_FILE)
        if record is None or record.get("status") == "interrupted":
            return None
        log.info("issue #%s: reporting the finished run of %s that was never reported", self.number, sha[:7])
        return self._outcome(sha, self.run_dir(sha), record)

    def _outcome(self, sha: str, run_dir: Path, record: dict) -> fx.Outcome:
        status = record.get("status")
        if status == "cancelled":  # the queued /cancel event records the phase next
            return fx.Stopped(note("stopped_by_cancel"))
        out = run_dir / "out"
        metrics = _read_json(out / "metrics.json") if status == "succeeded" else None
        if metrics is None:
            return fx.StepFailed("training", note("run_failed", status=status), str(record.get("log_tail", "")))
        checked_metrics(metrics)
        return fx.Trained(sha, _run_summary(sha, out, float(record.get("seconds", 0)), metrics), metrics)

    def publish(self, effect: fx.Publish) -> fx.Outcome:
        from bot.writing import publish

        out = Path(effect.run.out_dir)
        if not (out / "metrics.json").exists():
            return fx.StepFailed("publish", note("artifacts_missing", sha=effect.sha))
        plan = Plan(**effect.plan)
        metrics = checked_metrics(json.loads((out / "metrics.json").read_text()))
        owner, name = self.repo.split("/", 1)
        namespace = self.settings.hf_namespace or owner
        repo_id = space_id = f"{namespace}/{name}-issue-{self.number}"
        record = out.parent / "repo" / folder_for(self.number) / RESEARCH_FILE
        inspection = json.loads(record.read_text()).get("inspection") if record.exists() else None
        if self.settings.publish_target:
            done = publish.publish_local(self.settings.publish_target, out, plan, metrics, repo_id, space_id, inspection)
        elif self.settings.hf_token:
            done = publish.publish_hub(self.settings.hf_token, out, plan, metrics, repo_id, space_id, inspection)
        else:
            return fx.StepFailed("publish", note("hf_token_missing"))
        how_to_run = f"python {Path(done.space_url) / 'app.py'}" if self.settings.publish_target else None
        return fx.Published(effect.sha, Publication(effect.sha, done.model_url, done.space_url, how_to_run))

    def cancel(self) -> None:
        with _running_lock:
            runner = _running.get((self.repo, self.number))
        if runner is not None:
            runner.cancel()


class RepoData:
    """The repository's default branch as the planner's `repo_files`: what an issue names is read from there."""

    def __init__(self, client: Repository, scratch: Path):
        self.client, self.scratch = client, scratch

    def fetch(self, path: str) -> Path | None:
        shutil.rmtree(self.scratch / path, ignore_errors=True)
        return self.client.fetch_default_branch(path, self.scratch)


class CancelWatch(threading.Thread):
    """Polls the issue for a maintainer's `/cancel` while a run is in flight.

    Events for one issue are handled one at a time, so the `/cancel` event itself only arrives
    after the run; this watcher is what stops the run promptly.
    """

    def __init__(self, client: Repository, number: int, on_cancel: Callable[[], None], every_s: float = 5.0):
        super().__init__(name=f"cancel-watch-{number}", daemon=True)
        self.client, self.number, self.on_cancel, self.every_s = client, number, on_cancel, every_s
        self.since = datetime.now(UTC).replace(microsecond=0)
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            try:
                if self._requested():
                    self.on_cancel()
                    return
            except Exception:  # noqa: BLE001 -- a failed poll must not kill the run; the next poll tries again
                log.warning("could not poll #%s for /cancel", self.number)


    def _requested(self) -> bool:
        """A `/cancel` typed since the run started by someone the one rule (`may_run`) allows."""
        for login, kind, body in self.client.comments_since(self.number, self.since):
            try:
                cancels = [c for c in parse_commands(body) if c.name == "cancel"]
            except CommandError:
                continue
            if cancels and may_run(cancels[0], sender_type=kind, permission=self.client.permission(login)):
                return True
        return False


class ProgressReporter:
    """Turns train.py's JSON progress lines into status-comment updates, at most every 10 s."""

    def __init__(self, on_progress: Callable[[str], None]):
        self.on_progress, self.last = on_progress, 0.0

    def __call__(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "epoch":
            self._say(note("epoch_done", epoch=event.get("epoch"), epochs=event.get("epochs"),
                           val_macro_f1=event.get("val_macro_f1"), elapsed=event.get("elapsed", 0)), force=True)
        elif kind == "progress":
            self._say(note("training_step", step=event.get("step", 0), total=event.get("total_steps") or 1,
                           loss=event.get("loss"), elapsed=event.get("elapsed", 0)))
        elif kind == "done":
            self._say(note("evaluating"), force=True)

    def _say(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self.last >= PROGRESS_EVERY_S:
            self.last = now
            self.on_progress(text)


def _research_record(research: dict) -> dict:
    """What the PR keeps of the research: the inspection, baseline and estimate (not the examples)."""
    return {key: research[key] for key in ("dataset", "inspection", "baseline", "estimate", "split_rows") if key in research}


def _run_summary(sha: str, out: Path, seconds: float, metrics: dict) -> Run:
    """The run as the state marker keeps it; the numbers are those of the shipped predictor."""
    shipped, bl = shipped_eval(metrics), metrics.get("baseline", {})
    summary = RunSummary(shipped=shipped_key(metrics), accuracy=shipped.get("accuracy"),
                         macro_f1=shipped.get("macro_f1"), baseline_accuracy=bl.get("accuracy"),
                         baseline_macro_f1=bl.get("macro_f1"),
                         stopped_reason=metrics.get("train", {}).get("stopped_reason"))
    return Run(sha=sha, status="succeeded", out_dir=str(out), seconds=round(seconds, 1), summary=summary)


def _write_json(path: Path, data: dict) -> None:
    """Write atomically: a reader sees the old file or the whole new one."""
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data), encoding="utf-8")
    partial.replace(path)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
