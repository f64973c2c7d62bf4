"""Training as a GitHub Actions run: dispatch train.yml for one approved commit, follow it, fetch its outputs.

The workflow is dispatched on the default branch, so the file that runs is the trusted one there (a PR
cannot change it); it checks out the approved SHA and uploads `<folder>/out/` as the artifact
`ml-intern-issue-<issue>-<sha>`. Progress comes from the job log (train.py's JSON lines), which GitHub
serves, like artifact zips, as a 302 to a short-lived signed URL on another host: no credential goes
there (`_download`). Every refusal is a BackendError whose message says what to fix.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import urljoin, urlsplit

import requests
from github import GithubException
from github.Repository import Repository
from github.Workflow import Workflow
from github.WorkflowJob import WorkflowJob
from github.WorkflowRun import WorkflowRun
from github.WorkflowStep import WorkflowStep

from runners.base import BackendError, JobRef, JobStatus, RunRequest, Stage

QUEUED = frozenset({"queued", "waiting", "pending", "requested"})
ENDED: dict[str, Stage] = {"success": "succeeded", "cancelled": "cancelled", "timed_out": "timed_out"}
WHY = {  # conclusions that are not a step failing, in words
    "startup_failure": "the workflow could not start: check {path} on the default branch",
    "action_required": "the run waits for a maintainer's approval on GitHub",
    "stale": "GitHub marked the run stale",
}
TIMEOUT_MARK = "has exceeded the maximum execution time"  # the runner's line when timeout-minutes ran out
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")  # each job log line's UTC prefix
TAIL_LINES = 40
MAX_REDIRECTS = 5
TIMEOUT_S = (10, 300)  # connect, read


class ActionsBackend:
    """Trains on GitHub Actions through the repository's own train.yml."""

    name = "actions"

    def __init__(self, repo: Repository, token: str, workflow: str = "train.yml"):
        self.repo = repo
        self._token = token  # only for artifact zips, only to the API host
        self.workflow = workflow
        self.path = f".github/workflows/{workflow}"
        self._http = requests.Session()

    # --- submit ---------------------------------------------------------------------------------
    def submit(self, request: RunRequest) -> JobRef:
        """Dispatch the default branch's workflow for request.sha; the run's id is the job's id."""
        branch = self.repo.default_branch
        workflow = self._workflow(branch)
        inputs = {"issue": str(request.issue), "sha": request.sha, "directory": request.folder}
        try:
            run = workflow.create_dispatch(branch, inputs, throw=True, return_run_details=True)
        except GithubException as exc:
            raise BackendError(self._refused(exc, branch)) from exc
        except requests.RequestException as exc:
            raise BackendError("GitHub could not be reached to start the training run; try again later.") from exc
        if not isinstance(run, WorkflowRun):  # a GitHub that ignores return_run_details answers 204
            raise BackendError(f"GitHub started {self.workflow} without saying which run it is; "
                               "this bot needs a GitHub that returns the run's details on dispatch.")
        return JobRef(backend=self.name, id=str(run.id), url=run.html_url,
                      artifacts=f"ml-intern-issue-{request.issue}-{request.sha}")

    def _workflow(self, branch: str) -> Workflow:
        """The workflow, refused unless its file is on the default branch (the only copy that runs)."""
        missing = (f"GitHub Actions training needs `{self.path}` on the default branch `{branch}`: "
                   f"copy .github/workflows/train.yml from the bot's repository to `{branch}`, then approve again.")
        with _github("read the training workflow", {404: missing}):
            self.repo.get_contents(self.path, ref=branch)
            return self.repo.get_workflow(self.workflow)

    def _refused(self, exc: GithubException, branch: str) -> str:
        said = _said(exc)
        if exc.status in (403, 404):
            return (f"GitHub refused to start {self.workflow} ({said}): the token needs `actions: write` on "
                    f"{self.repo.full_name} (a GitHub App: Actions, read and write).")
        if exc.status == 422:
            return (f"GitHub refused to start {self.workflow} ({said}): on `{branch}` it must be enabled, keep "
                    f"the `workflow_dispatch` trigger and the inputs issue, sha and directory; copy the bot's "
                    f"train.yml to `{branch}`.")
        return f"GitHub did not start the training run ({said}); try again later."

    # --- status ---------------------------------------------------------------------------------
    def status(self, job: JobRef) -> JobStatus:
        """Where the run is, with train.py's progress lines once the job log can be read."""
        run = self._run(job)
        stage = _stage(run.status, run.conclusion)
        jobs = self._jobs(run) if stage != "queued" else []
        lines = self._log_lines(jobs) if stage != "queued" else []
        if stage in ("failed", "cancelled") and any(TIMEOUT_MARK in line for line in lines):
            stage = "timed_out"  # GitHub ends a job past timeout-minutes `failure` or `cancelled`, not timed_out
        # cost_usd 0.0: Actions minutes are free on public repositories and come out of the owner's plan
        # otherwise; nothing is billed per run to the bot, and the run's own price is not in the API.
        return JobStatus(stage=stage, message=self._message(stage, run, jobs, lines), seconds=_seconds(run, stage),
                         cost_usd=0.0, events=_events(lines),
                         log_tail="\n".join(lines[-TAIL_LINES:]) if stage in ("failed", "timed_out") else "")

    def _run(self, job: JobRef) -> WorkflowRun:
        gone = f"GitHub has no workflow run {job.id} in {self.repo.full_name} any more (was it deleted?)."
        with _github("read the training run", {404: gone}):
            return self.repo.get_workflow_run(int(job.id))

    def _jobs(self, run: WorkflowRun) -> list[WorkflowJob]:
        with _github("read the training run's jobs"):
            return list(run.jobs())

    def _log_lines(self, jobs: list[WorkflowJob]) -> list[str]:
        """The jobs' log lines without their timestamps; [] while GitHub has no log to give yet."""
        lines: list[str] = []
        for wf_job in jobs:
            if wf_job.status == "queued":
                continue
            try:
                resp = self._http.get(wf_job.logs_url(), timeout=TIMEOUT_S)  # signed URL: no credential
            except (GithubException, requests.RequestException):
                continue  # GitHub serves a job's log once it can; progress then shows up on a later poll
            if resp.ok:
                lines += [STAMP.sub("", line) for line in resp.text.splitlines()]
        return lines

    def _message(self, stage: Stage, run: WorkflowRun, jobs: list[WorkflowJob], lines: list[str]) -> str:
        """Which step runs, or why the run did not succeed, in a sentence."""
        if stage == "running":
            step = _step(jobs, lambda s: s.status == "in_progress")
            return f"step `{step}` is running" if step else ""
        if stage == "timed_out":
            return next((_after_marker(line) for line in lines if TIMEOUT_MARK in line), "the run timed out")
        if stage != "failed":
            return ""
        if run.conclusion in WHY:
            return WHY[run.conclusion].format(path=self.path)
        step = _step(jobs, lambda s: s.conclusion == "failure")
        why = f"step `{step}` failed" if step else f"the run ended `{run.conclusion}`"
        said = _error(lines)
        return f"{why}: {said}" if said else why

    # --- cancel ---------------------------------------------------------------------------------
    def cancel(self, job: JobRef) -> None:
        """Ask GitHub to stop the run; one that already ended is left as it is."""
        run = self._run(job)
        if run.status == "completed":
            return
        with _github("cancel the training run"):
            if run.cancel():  # 202; GitHub answers 409 for a run that completed meanwhile
                return
        if self._run(job).status != "completed":
            raise BackendError(f"GitHub refused to cancel run {job.id}: the token needs `actions: write` on "
                               f"{self.repo.full_name}.")

    # --- fetch ----------------------------------------------------------------------------------
    def fetch(self, job: JobRef, dest: Path) -> Path:
        """Download the run's artifact (metrics.json at its top) and unzip it into dest."""
        run = self._run(job)
        if run.status != "completed":
            raise BackendError(f"The training run has no outputs yet: it is still {run.status}.")
        gone = (f"The run's outputs (artifact `{job.artifacts}`) are gone: GitHub deletes artifacts after the "
                "retention days (30 for train.yml). Train again with /retry.")
        with _github("list the run's artifacts"):
            found = [a for a in run.get_artifacts() if a.name == job.artifacts and not a.expired]
        if not found:
            raise BackendError(gone)
        with tempfile.TemporaryFile() as archive:
            if not self._download(found[0].archive_download_url, archive):
                raise BackendError(gone)
            _unzip(archive, dest)
        return dest

    def _download(self, url: str, sink: IO[bytes]) -> bool:
        """GET url into sink, following redirects; the token goes to the API host only. False when gone."""
        api = urlsplit(self.repo.url)
        for _ in range(MAX_REDIRECTS + 1):
            here = urlsplit(url)
            headers = {"Accept": "application/vnd.github+json"}
            if (here.scheme, here.netloc) == (api.scheme, api.netloc):
                headers["Authorization"] = f"Bearer {self._token}"
            try:
                with self._http.get(url, headers=headers, allow_redirects=False, stream=True,
                                    timeout=TIMEOUT_S) as resp:
                    if resp.is_redirect:
                        url = urljoin(url, resp.headers["Location"])
                        continue
                    if resp.status_code in (404, 410):
                        return False
                    if not resp.ok:
                        raise BackendError(f"GitHub did not hand out the run's outputs (HTTP {resp.status_code}); "
                                           "try again later.")
                    for chunk in resp.iter_content(1 << 20):
                        sink.write(chunk)
                    return True
            except requests.RequestException as exc:
                raise BackendError("GitHub could not be reached to download the run's outputs; "
                                   "try again later.") from exc
        raise BackendError("GitHub redirected the download of the run's outputs too often; try again later.")


# --- helpers --------------------------------------------------------------------------------------
@contextlib.contextmanager
def _github(doing: str, known: dict[int, str] | None = None) -> Iterator[None]:
    """Turn PyGithub's and requests' exceptions into BackendError: `known` by status, else generic."""
    try:
        yield
    except GithubException as exc:
        if known and exc.status in known:
            raise BackendError(known[exc.status]) from exc
        denied = exc.status in (401, 403)
        hint = " (check the token's `actions` and `contents` permissions)" if denied else "; try again later"
        raise BackendError(f"GitHub did not let the bot {doing}: {_said(exc)}{hint}.") from exc
    except requests.RequestException as exc:
        raise BackendError(f"GitHub could not be reached to {doing}; try again later.") from exc


def _said(exc: GithubException) -> str:
    """GitHub's own message for a refusal, e.g. `403 Resource not accessible by integration`."""
    data = exc.data if isinstance(exc.data, dict) else {}
    return f"{exc.status} {data.get('message') or exc.message or 'error'}".strip()


def _stage(status: str | None, conclusion: str | None) -> Stage:
    """GitHub's run status and conclusion as a Stage; any conclusion but these three is a failure."""
    if status != "completed":
        return "queued" if status in QUEUED or status is None else "running"
    return ENDED.get(conclusion or "", "failed")


def _seconds(run: WorkflowRun, stage: Stage) -> float:
    """Run time: from run_started_at to now while running, to the last update once ended."""
    started = run.run_started_at
    if stage == "queued" or started is None:
        return 0.0
    end = datetime.now(UTC) if stage == "running" else run.updated_at
    return max(0.0, (end - started).total_seconds())


def _step(jobs: list[WorkflowJob], match: Callable[[WorkflowStep], bool]) -> str:
    """The first step, in any job, that `match` accepts; its name, or ""."""
    return next((s.name for j in jobs for s in j.steps if match(s)), "")


def _events(lines: list[str]) -> list[dict]:
    """train.py's progress: log lines that are JSON objects holding "event"."""
    events = []
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and "event" in obj:
            events.append(obj)
    return events


def _error(lines: list[str]) -> str:
    """What went wrong in the log's words: train.py's last error event, else the runner's first error line."""
    said = [str(e.get("message") or "") for e in _events(lines) if e.get("event") == "error"]
    if said and said[-1]:
        return said[-1]
    return next((_after_marker(line) for line in lines if line.startswith("##[error]")), "")


def _after_marker(line: str) -> str:
    """A runner error line (`##[error]The job ... exceeded ...`) without its log marker."""
    return line.removeprefix("##[error]").strip()


def _unzip(archive: IO[bytes], dest: Path) -> None:
    """Extract into dest after checking every entry stays inside it (no absolute paths, no `..`)."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise BackendError("The run's outputs are not a readable zip; download them from the run's page.") from exc
    with zf:
        for info in zf.infolist():
            path = PurePosixPath(info.filename.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", info.filename):
                raise BackendError(f"The run's outputs hold an unsafe path ({info.filename!r}); nothing was "
                                   "extracted.")
        dest.mkdir(parents=True, exist_ok=True)
        for info in zf.infolist():
            target = dest.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
