"""Training as a job on this machine: the `local` backend (`hardware: local-cpu`).

Each job gets a folder `ROOT/<id>/` holding a copy of the approved checkout, its request, the
scripts' progress lines, their outputs (`out/`) and, once ended, `result.json`. The job runs in a
process of its own session (`runners.local_job`), so it survives a restart of the bot, and its
environment carries no credential. The job's ID is all the issue's state keeps: no server path.
Outputs live only on this machine; `fetch` from another machine says so.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from runners.base import BackendError, JobRef, JobStatus, RunRequest, scrub_env
from runners.local import _start_ticks
from runners.local_job import EVENTS, REQUEST, RESULT

PID_FILE = "job.pid"
TAIL = 40
PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # so `-m runners.local_job` imports from a source checkout too


class LocalBackend:
    name = "local"

    def __init__(self, root: Path, python: str | None = None):
        self.root, self.python = Path(root), python or sys.executable

    def submit(self, request: RunRequest) -> JobRef:
        job_id = secrets.token_hex(8)
        folder = self.root / job_id
        shutil.copytree(request.source, folder / "repo", symlinks=True)
        (folder / REQUEST).write_text(json.dumps({"folder": request.folder, "budget_s": request.budget_s,
                                                  "sha": request.sha, "issue": request.issue}), encoding="utf-8")
        env = {**scrub_env(), **request.env, "PYTHONPATH": str(PACKAGE_ROOT)}
        with (folder / "job.log").open("wb") as log:
            proc = subprocess.Popen([self.python, "-m", "runners.local_job", str(folder)], cwd=folder, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        (folder / PID_FILE).write_text(f"{proc.pid} {_start_ticks(proc.pid)}")
        return JobRef(backend=self.name, id=job_id, artifacts=f"local job {job_id}")

    def status(self, job: JobRef) -> JobStatus:
        folder = self._folder(job)
        events = _events(folder / EVENTS)
        result = _read_json(folder / RESULT)
        if result is not None:
            return JobStatus(stage=result["status"], message=result.get("message", ""),
                             seconds=float(result.get("seconds", 0)), cost_usd=0.0, events=events,
                             log_tail=result.get("log_tail", ""))
        if self._alive(folder):
            elapsed = events[-1].get("elapsed", 0.0) if events else 0.0
            return JobStatus(stage="running", seconds=float(elapsed or 0.0), cost_usd=0.0, events=events)
        return JobStatus(stage="failed", message="the job's process ended without a result (killed, or the machine "
                         "restarted)", cost_usd=0.0, events=events, log_tail=_tail(folder / "job.log"))

    def cancel(self, job: JobRef) -> None:
        """SIGTERM the job's process: it stops its scripts and records `cancelled`."""
        pid = self._pid(self._folder(job))
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def fetch(self, job: JobRef, dest: Path) -> Path:
        out = self._folder(job) / "out"
        if not (out / "metrics.json").is_file():
            raise BackendError(f"local job {job.id} has no outputs on this machine: local runs keep them where "
                               "they trained. Retrain with `/retry` here, or train on `actions-cpu` or an `hf-` "
                               "flavor so the outputs outlive the machine.")
        if Path(dest).resolve() != out.resolve():
            shutil.copytree(out, dest, dirs_exist_ok=True)
        return Path(dest)

    def _folder(self, job: JobRef) -> Path:
        if not job.id.isalnum():
            raise BackendError(f"`{job.id}` is not a local job ID")
        folder = self.root / job.id
        if not folder.is_dir():
            raise BackendError(f"local job {job.id} is not on this machine (local jobs stay where they ran)")
        return folder

    def _pid(self, folder: Path) -> int | None:
        try:
            pid, ticks = (folder / PID_FILE).read_text().split()
        except (OSError, ValueError):
            return None
        return int(pid) if _start_ticks(int(pid)) == ticks else None

    def _alive(self, folder: Path) -> bool:
        pid = self._pid(folder)
        if pid is None:
            return False
        try:  # a zombie (ended, not yet reaped) is not running
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")


def _events(path: Path) -> list[dict]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue  # a line being written
    return events


def _tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-TAIL:])
    except OSError:
        return ""


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
