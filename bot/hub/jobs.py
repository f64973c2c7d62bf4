"""HF Jobs, run locally: each job is a subprocess on this machine, with a log and a stage.

What differs from Hugging Face's Jobs, on purpose:
- No container and no image pull: the job's command runs here, in `ROOT/jobs/<id>/work`, in its own
  process group. `uv run SCRIPT` runs SCRIPT with the Python serving the local Hub (see uvshim.py: uv
  cannot install PEP 723 dependencies offline, so this machine's packages stand in for them); `python`
  and `python3` are that Python too. The flavor is checked against the hardware table, then ignored.
- The environment is the job's `environment` and `secrets` on top of a minimal base (PATH with the shims
  first, HOME in the job's folder, LANG, PYTHONUNBUFFERED=1, JOB_ID, HF_ENDPOINT of the local Hub): never
  the server's own environment, so no token of the process that serves the Hub leaks into a job.
- Volumes (buckets such as jobs-artifacts, model/dataset/space repos) are copied into the job's folder,
  and arguments that start with a mount path are rewritten to that copy; what a job writes there stays local.
- Labels are checked as the Hub checks them (keys and values: letters, digits, `-` and `_`; a `.` or `/`
  is refused), since the Hub also keeps them as tags.
- Stages are the client's (`JobStage`): RUNNING, then COMPLETED (exit 0), ERROR (non-zero exit, message
  "Job failed with exit code: N"; or past `timeoutSeconds`, default 30 minutes, "Job timeout after Ns"),
  CANCELED. There is no TIMEOUT stage in huggingface_hub. A job left running by a stopped server is ERROR.
- Logs are stored as the SSE events `fetch_job_logs` reads: {"timestamp", "data"} per output line, after
  a first "===== Job started at ... =====" event the client skips. Secret values are never written to disk.
POSIX only (process groups, `sh` shims), and one serving process per root: a server that starts marks
the jobs a previous one left RUNNING as ERROR, since it cannot reattach to them.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

from bot.hub.errors import HubError, bad_request
from bot.hub.store import HubStore, now_iso, read_json, write_json

TERMINAL = ("COMPLETED", "CANCELED", "ERROR", "DELETED")
DEFAULT_TIMEOUT = 30 * 60
GRACE = 3.0  # seconds between SIGTERM and SIGKILL
BASE_ENV = ("LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "SYSTEMROOT")
SHIM = Path(__file__).with_name("uvshim.py")
LABEL = re.compile(r"[A-Za-z0-9_-]*")


class Jobs:
    def __init__(self, store: HubStore, repos, buckets):
        self.store, self.repos, self.buckets = store, repos, buckets
        self.folder = store.root / "jobs"
        self._procs: dict[str, subprocess.Popen] = {}
        self._ended: dict[str, threading.Event] = {}
        self._reason: dict[str, str] = {}
        for path in self.folder.glob("*/job.json"):  # jobs a previous server left behind cannot be resumed
            job = read_json(path)
            if job["status"]["stage"] not in TERMINAL:
                self._finish(job, "ERROR", "The local Hub stopped while the job ran")

    def get(self, job_id: str) -> dict | None:
        return read_json(self.folder / job_id / "job.json") if job_id.isalnum() else None

    def all(self) -> list[dict]:
        return sorted((read_json(p) for p in self.folder.glob("*/job.json")), key=lambda j: j["createdAt"])

    def log_path(self, job_id: str) -> Path:
        return self.folder / job_id / "logs.jsonl"

    # --- starting --------------------------------------------------------------------------------
    def start(self, spec: dict, owner: dict, endpoint: str, flavors: set[str]) -> dict:
        command = spec.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(c, str) for c in command):
            raise bad_request("command must be a non-empty list of strings")
        flavor = spec.get("flavor") or "cpu-basic"
        if flavor not in flavors:
            raise bad_request(f"Invalid flavor {flavor!r}: see GET /api/jobs/hardware")
        timeout = int(spec.get("timeoutSeconds") or DEFAULT_TIMEOUT)
        for key, value in (spec.get("labels") or {}).items():  # the Hub keeps labels as tags too
            if not (key and LABEL.fullmatch(str(key)) and LABEL.fullmatch(str(value))):
                raise bad_request(f"Invalid label {key}={value!r}: label keys and values may only use letters, "
                                  "digits, '-' and '_'")
        job_id = secrets.token_hex(12)
        folder = self.folder / job_id
        for sub in ("work", "home", "bin", "mounts"):
            (folder / sub).mkdir(parents=True)
        arguments: list[str] = [str(a) for a in spec.get("arguments") or []]
        environment: dict[str, str] = {str(k): str(v) for k, v in (spec.get("environment") or {}).items()}
        job = {"id": job_id, "createdAt": now_iso(), "startedAt": None, "finishedAt": None,
               "dockerImage": spec.get("dockerImage"), "spaceId": spec.get("spaceId"), "command": command,
               "arguments": arguments, "environment": environment,
               "secrets": {k: "*****" for k in spec.get("secrets") or {}}, "flavor": flavor,
               "labels": spec.get("labels"), "volumes": spec.get("volumes"), "timeoutSeconds": timeout,
               "status": {"stage": "SCHEDULING", "message": None}, "owner": owner,
               "initiator": {"type": "user", "id": owner["id"], "name": owner["name"]}}
        try:
            mounts = self._mount(folder / "mounts", spec.get("volumes") or [])
        except HubError:
            shutil.rmtree(folder)
            raise
        write_json(folder / "job.json", job)
        argv = [_remount(arg, mounts) for arg in [*command, *arguments]]
        env = self._environment(folder, job_id, endpoint, environment, spec.get("secrets") or {})
        self._ended[job_id] = threading.Event()
        try:
            proc = subprocess.Popen(argv, cwd=folder / "work", env=env, stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            self._log(job_id, f"cannot start {argv[0]!r}: {exc}")
            self._ended[job_id].set()
            return self._finish(job, "ERROR", f"Job failed to start: {exc.strerror or exc}")
        self._procs[job_id] = proc
        job.update(startedAt=now_iso(), status={"stage": "RUNNING", "message": None})
        write_json(folder / "job.json", job)
        threading.Thread(target=self._watch, args=(job_id, proc, timeout), daemon=True, name=f"job-{job_id}").start()
        return job

    def _environment(self, folder: Path, job_id: str, endpoint: str, environment: dict, secret: dict) -> dict:
        python = shlex.quote(sys.executable)
        for name, line in (("uv", f'exec {python} {shlex.quote(str(SHIM))} "$@"'), ("python", f'exec {python} "$@"'),
                           ("python3", f'exec {python} "$@"')):
            shim = folder / "bin" / name
            shim.write_text(f"#!/bin/sh\n{line}\n")
            shim.chmod(0o755)
        env = {k: os.environ[k] for k in BASE_ENV if k in os.environ}
        env.update(PATH=os.pathsep.join([str(folder / "bin"), os.environ.get("PATH", os.defpath)]),
                   HOME=str(folder / "home"), PYTHONUNBUFFERED="1", JOB_ID=job_id, HF_ENDPOINT=endpoint)
        env.update({str(k): str(v) for k, v in {**environment, **secret}.items()})
        return env

    def _mount(self, root: Path, volumes: list[dict]) -> dict[str, Path]:
        """Copy each volume's files under `root`; mount path -> local folder."""
        mounts = {}
        for number, volume in enumerate(volumes):
            kind, source, sub = volume.get("type", "model"), volume["source"], volume.get("path") or ""
            if kind == "bucket":
                if self.buckets.get(source) is None:
                    raise HubError(404, f"Bucket not found: {source}", "RepoNotFound")
                files = self.buckets.folder_files(source, sub)
            else:
                if self.repos.get(kind, source) is None:
                    raise HubError(404, f"Repository not found: {source}", "RepoNotFound")
                prefix = sub.strip("/") + "/" if sub.strip("/") else ""
                _, entries = self.repos.files(kind, source, volume.get("revision"))
                files = {p[len(prefix):]: e["sha256"] for p, e in entries.items() if p.startswith(prefix)}
            target = root / str(number)
            for relative, sha in files.items():
                dest = target / relative
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(self.store.object_path(sha), dest)
            target.mkdir(parents=True, exist_ok=True)
            mounts[volume["mountPath"].rstrip("/") or "/"] = target
        return mounts

    # --- running ---------------------------------------------------------------------------------
    def _watch(self, job_id: str, proc: subprocess.Popen, timeout: int) -> None:
        timer = threading.Timer(timeout, self._stop, args=(job_id, "timeout"))
        timer.daemon = True
        timer.start()
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                self._log(job_id, raw.decode("utf-8", "replace").rstrip("\r\n"))
            code = proc.wait()
        finally:
            timer.cancel()
        reason = self._reason.pop(job_id, None)
        stage, message = {"canceled": ("CANCELED", None), "timeout": ("ERROR", f"Job timeout after {timeout}s"),
                          "shutdown": ("ERROR", "The local Hub stopped while the job ran")}.get(
            reason or "", ("COMPLETED", None) if code == 0 else ("ERROR", f"Job failed with exit code: {code}"))
        job = self.get(job_id) or {}
        self._finish(job, stage, message)
        self._procs.pop(job_id, None)
        self._ended[job_id].set()

    def _log(self, job_id: str, line: str) -> None:
        path = self.log_path(job_id)
        if not path.exists():
            started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
            with path.open("a") as out:
                out.write(json.dumps({"timestamp": now_iso(), "data": f"===== Job started at {started} ====="}) + "\n")
        with path.open("a") as out:
            out.write(json.dumps({"timestamp": now_iso(), "data": line}) + "\n")

    def _finish(self, job: dict, stage: str, message: str | None) -> dict:
        with self.store.lock:
            job.update(finishedAt=now_iso(), status={"stage": stage, "message": message})
            write_json(self.folder / job["id"] / "job.json", job)
        return job

    # --- stopping --------------------------------------------------------------------------------
    def cancel(self, job_id: str) -> dict:
        """Stop the job's whole process group and return once it is gone, stage CANCELED."""
        self._stop(job_id, "canceled")
        return self.get(job_id) or {}

    def _stop(self, job_id: str, reason: str) -> None:
        proc, ended = self._procs.get(job_id), self._ended.get(job_id)
        if proc is None or ended is None or ended.is_set():
            return
        self._reason.setdefault(job_id, reason)
        for sig, wait in ((signal.SIGTERM, GRACE), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            if ended.wait(wait):
                return

    def stop_all(self) -> None:
        for job_id in list(self._procs):
            self._stop(job_id, "shutdown")


def _remount(arg: str, mounts: dict[str, Path]) -> str:
    """`/data/train.py` -> `<job>/mounts/0/train.py` when a volume is mounted at /data."""
    for mount, local in mounts.items():
        if mount != "/" and (arg == mount or arg.startswith(mount + "/")):
            return str(local) + arg[len(mount):]
    return arg
