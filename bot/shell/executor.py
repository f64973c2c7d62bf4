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
import time
from collections.abc import Callable
from pathlib import Path

from bot.config import Settings
from bot.core import effects as fx
from bot.core.events import JobNews
from bot.core.records import Publication, Run, RunSummary, checked_metrics
from bot.core.render import note, render
from bot.core.routing import BRANCH_PREFIX, pr_marker
from bot.errors import UserError
from bot.planner.schema import Plan, run_limit_s
from bot.shell.backends import backend_named, backend_of
from bot.shell.ports import Repository
from bot.writing.artifacts import shipped_eval, shipped_key
from runners.base import Backend, JobRef, RunRequest

log = logging.getLogger(__name__)
CANCEL_CONFIRM_S = 30.0  # how long `/cancel` waits for the backend to confirm the job stopped
RESEARCH_FILE = "research.json"  # the plan's evidence, committed with the scripts and read by the card


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
        """Check out exactly the approved commit and submit it as a job; its result comes back as a poll."""
        plan = Plan(**effect.plan)
        run_dir = self.run_dir(effect.sha)
        shutil.rmtree(run_dir, ignore_errors=True)
        self._checkout(effect.sha, plan, run_dir / "repo")
        request = RunRequest(repo=self.repo, issue=self.number, sha=effect.sha, folder=folder_for(self.number),
                             source=run_dir / "repo", hardware=plan.hardware,
                             budget_s=run_limit_s(plan))
        self.on_progress(note("submitting", backend=backend_of(plan.hardware)))
        job = self.backend(backend_of(plan.hardware)).submit(request)
        log.info("issue #%s: %s submitted as %s job %s", self.number, effect.sha[:7], job.backend, job.id)
        return fx.RunSubmitted(effect.sha, job.to_dict())

    def backend(self, name: str) -> Backend:
        return backend_named(name, getattr(self.client, "repo", None), self.settings)

    def news(self, job: dict[str, str]) -> JobNews:
        """What the job's backend says now, as the core reads it."""
        status = self.backend(job["backend"]).status(JobRef.from_dict(job))
        return JobNews(stage=status.stage, message=status.message, seconds=status.seconds,
                       cost_usd=status.cost_usd, latest=_last(status.events, ("start", "progress", "done")),
                       epoch=_last(status.events, ("epoch",)))

    def collect(self, effect: fx.Collect) -> fx.Outcome:
        """The ended job's outcome: its outputs fetched from wherever it ran, or why there are none."""
        job = JobRef.from_dict(effect.job)
        backend = self.backend(job.backend)
        status = backend.status(job)
        if status.stage != "succeeded":
            why = note("run_failed", status=status.stage, message=status.message, cost=status.cost_usd)
            return fx.StepFailed("training", why, status.log_tail)
        out = backend.fetch(job, self.run_dir(effect.sha) / "out")
        metrics = checked_metrics(_read_json(out / "metrics.json"))
        run = _run_summary(effect.sha, effect.job, status.seconds, status.cost_usd, metrics)
        return fx.Trained(effect.sha, run, metrics)

    def cancel_run(self, effect: fx.CancelRun) -> fx.Outcome:
        """Stop the job and wait briefly for its backend to confirm, so the status can say billing stopped."""
        job = JobRef.from_dict(effect.job)
        backend = self.backend(job.backend)
        backend.cancel(job)
        deadline = time.monotonic() + CANCEL_CONFIRM_S
        status = backend.status(job)
        while not status.ended and time.monotonic() < deadline:
            time.sleep(1.0)
            status = backend.status(job)
        return fx.JobEnded(job.id, status.stage, status.seconds, status.cost_usd)

    def run_dir(self, sha: str) -> Path:
        return self.issue_dir / "runs" / sha

    def _checkout(self, sha: str, plan: Plan, dest: Path) -> Path:
        """The issue's folder at `sha` (plus the dataset when it lives in the repository), laid out as in a clone."""
        folder = folder_for(self.number)
        in_repo = plan.dataset_in_repo
        self.client.checkout(sha, [folder, *([in_repo] if in_repo else [])], dest)
        return dest / folder

    def publish(self, effect: fx.Publish) -> fx.Outcome:
        from bot.writing import publish

        out = self._outputs(effect.run)
        plan = Plan(**effect.plan)
        metrics = checked_metrics(_read_json(out / "metrics.json"))
        owner, name = self.repo.split("/", 1)
        namespace = self.settings.hf_namespace or owner
        repo_id = space_id = f"{namespace}/{name}-issue-{self.number}"
        inspection = self._research(effect.sha).get("inspection")
        if self.settings.publish_target:
            done = publish.publish_local(self.settings.publish_target, out, plan, metrics, repo_id, space_id, inspection)
        elif self.settings.hf_token:
            done = publish.publish_hub(self.settings.hf_token, out, plan, metrics, repo_id, space_id, inspection,
                                       endpoint=self.settings.hf_endpoint)
        else:
            return fx.StepFailed("publish", note("hf_token_missing"))
        how_to_run = f"python {Path(done.space_url) / 'app.py'}" if self.settings.publish_target else None
        return fx.Published(effect.sha, Publication(effect.sha, done.model_url, done.space_url, how_to_run))

    def _outputs(self, run: Run) -> Path:
        """The run's outputs on this machine, fetched from its job's backend when this runner is new."""
        if not run.job:
            raise UserError(note("artifacts_missing", sha=run.sha))
        return self.backend(run.job["backend"]).fetch(JobRef.from_dict(run.job), self.run_dir(run.sha) / "out")

    def _research(self, sha: str) -> dict:
        """The plan's evidence committed with the scripts (research.json), read at the trained commit."""
        dest = self.run_dir(sha) / "research"
        path = f"{folder_for(self.number)}/{RESEARCH_FILE}"
        if not (dest / path).is_file():
            try:
                self.client.checkout(sha, [path], dest)
            except FileNotFoundError:
                return {}  # scripts from before research.json was committed
        return _read_json(dest / path) or {}


class RepoData:
    """The repository's default branch as the planner's `repo_files`: what an issue names is read from there."""

    def __init__(self, client: Repository, scratch: Path):
        self.client, self.scratch = client, scratch

    def fetch(self, path: str) -> Path | None:
        shutil.rmtree(self.scratch / path, ignore_errors=True)
        return self.client.fetch_default_branch(path, self.scratch)


def _research_record(research: dict) -> dict:
    """What the PR keeps of the research: the inspection, baseline and estimate (not the examples)."""
    return {key: research[key] for key in ("dataset", "inspection", "baseline", "estimate", "split_rows") if key in research}


def _last(events: list[dict], kinds: tuple[str, ...]) -> dict:
    return next((e for e in reversed(events) if e.get("event") in kinds), {})


def _run_summary(sha: str, job: dict[str, str], seconds: float, cost_usd: float | None, metrics: dict) -> Run:
    """The run as the state marker keeps it; the numbers are those of the shipped predictor."""
    shipped, bl = shipped_eval(metrics), metrics.get("baseline", {})
    summary = RunSummary(shipped=shipped_key(metrics), accuracy=shipped.get("accuracy"),
                         macro_f1=shipped.get("macro_f1"), baseline_accuracy=bl.get("accuracy"),
                         baseline_macro_f1=bl.get("macro_f1"),
                         stopped_reason=metrics.get("train", {}).get("stopped_reason"))
    return Run(sha=sha, status="succeeded", job=job, seconds=round(seconds, 1), cost_usd=cost_usd, summary=summary)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
