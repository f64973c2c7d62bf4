"""Workflow runs, their jobs and artifacts: the forge's SQLite rows and files for GitHub Actions.

A run is created by a `workflow_dispatch` (api_actions.py) and executed by actions_runner.py. Job
logs are text files under `<root>/actions/logs/`, artifacts zip files under `<root>/actions/artifacts/`,
so a server and the CLI on the same root see the same runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bot.forge.rows import Row, present

if TYPE_CHECKING:
    import threading

ACTIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, repo_id INTEGER, workflow_id INTEGER, path TEXT,
    name TEXT, display_title TEXT, run_number INTEGER, event TEXT, status TEXT, conclusion TEXT,
    head_branch TEXT, head_sha TEXT, inputs TEXT, actor TEXT, created_at TEXT, updated_at TEXT,
    run_started_at TEXT, error TEXT);
CREATE TABLE IF NOT EXISTS jobs (id INTEGER PRIMARY KEY, run_id INTEGER, job_key TEXT, name TEXT, status TEXT,
    conclusion TEXT, labels TEXT, steps TEXT, created_at TEXT, started_at TEXT, completed_at TEXT);
CREATE TABLE IF NOT EXISTS artifacts (id INTEGER PRIMARY KEY, run_id INTEGER, repo_id INTEGER, name TEXT,
    size INTEGER, digest TEXT, created_at TEXT, expires_at TEXT);
"""
RUN_FIELDS = ("name", "display_title", "status", "conclusion", "run_started_at", "error")
JOB_FIELDS = ("name", "status", "conclusion", "steps", "started_at", "completed_at")


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class ActionsMixin:
    """Run, job and artifact rows; mixed into Forge, which provides q/one/x, root and the lock."""

    if TYPE_CHECKING:  # Forge's, as the methods below use them
        _lock: threading.RLock
        root: Path

        def q(self, sql: str, *args) -> list[Row]: ...
        def one(self, sql: str, *args) -> Row | None: ...
        def x(self, sql: str, *args) -> int: ...

    # --- runs -----------------------------------------------------------------------------------
    def create_run(self, repo: Row, workflow: dict, branch: str | None, sha: str, inputs: dict, actor: str,
                   display_title: str) -> Row:
        """A queued `workflow_dispatch` run, numbered per workflow like GitHub's run_number."""
        with self._lock:
            number = present(self.one("SELECT COALESCE(MAX(run_number), 0) + 1 AS n FROM runs WHERE repo_id=? "
                                      "AND workflow_id=?", repo["id"], workflow["id"]))["n"]
            ts = now_iso()
            rid = self.x("INSERT INTO runs (repo_id, workflow_id, path, name, display_title, run_number, event, "
                         "status, conclusion, head_branch, head_sha, inputs, actor, created_at, updated_at, "
                         "run_started_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", repo["id"], workflow["id"],
                         workflow["path"], workflow["name"], display_title, number, "workflow_dispatch", "queued",
                         None, branch, sha, json.dumps(inputs), actor, ts, ts, ts)
            return self.run_row(rid)

    def run_row(self, run_id: int) -> Row:
        """A run by id (ids come from the forge's own rows)."""
        return present(self.one("SELECT * FROM runs WHERE id=?", run_id))

    def run(self, repo: Row, run_id: int) -> Row | None:
        """A run of this repository, or None."""
        return self.one("SELECT * FROM runs WHERE id=? AND repo_id=?", run_id, repo["id"])

    def runs(self, repo: Row, workflow_id: int | None = None) -> list[Row]:
        """Runs newest first, as GitHub lists them."""
        if workflow_id is None:
            return self.q("SELECT * FROM runs WHERE repo_id=? ORDER BY id DESC", repo["id"])
        return self.q("SELECT * FROM runs WHERE repo_id=? AND workflow_id=? ORDER BY id DESC", repo["id"], workflow_id)

    def update_run(self, run_id: int, **fields) -> Row:
        sets = {k: v for k, v in fields.items() if k in RUN_FIELDS}
        sets["updated_at"] = now_iso()
        self.x(f"UPDATE runs SET {', '.join(f'{k}=?' for k in sets)} WHERE id=?", *sets.values(), run_id)
        return self.run_row(run_id)

    # --- jobs -----------------------------------------------------------------------------------
    def create_job(self, run_id: int, key: str, name: str, labels: list[str], steps: list[dict]) -> Row:
        ts = now_iso()
        jid = self.x("INSERT INTO jobs (run_id, job_key, name, status, conclusion, labels, steps, created_at, "
                     "started_at, completed_at) VALUES (?,?,?,?,?,?,?,?,?,?)", run_id, key, name, "queued", None,
                     json.dumps(labels), json.dumps(steps), ts, None, None)
        return self.job_row(jid)

    def job_row(self, job_id: int) -> Row:
        return present(self.one("SELECT * FROM jobs WHERE id=?", job_id))

    def job(self, repo: Row, job_id: int) -> Row | None:
        """A job of one of this repository's runs, or None."""
        return self.one("SELECT j.* FROM jobs j JOIN runs r ON r.id=j.run_id WHERE j.id=? AND r.repo_id=?",
                        job_id, repo["id"])

    def jobs(self, run_id: int) -> list[Row]:
        """A run's jobs in the order the workflow declares them."""
        return self.q("SELECT * FROM jobs WHERE run_id=? ORDER BY id", run_id)

    def update_job(self, job_id: int, **fields) -> Row:
        sets = {k: (json.dumps(v) if k == "steps" else v) for k, v in fields.items() if k in JOB_FIELDS}
        self.x(f"UPDATE jobs SET {', '.join(f'{k}=?' for k in sets)} WHERE id=?", *sets.values(), job_id)
        return self.job_row(job_id)

    def job_log_path(self, job_id: int) -> Path:
        """Where a job's log is (it grows while the job runs)."""
        return self.root / "actions" / "logs" / f"{job_id}.log"

    def job_log(self, job_id: int) -> bytes:
        path = self.job_log_path(job_id)
        return path.read_bytes() if path.exists() else b""

    # --- artifacts ------------------------------------------------------------------------------
    def add_artifact(self, run: Row, name: str, data: bytes, digest: str, retention_days: int) -> Row:
        """Store a run's artifact (the zip's bytes); replaces one of the same name (upload-artifact's overwrite)."""
        with self._lock:
            old = self.one("SELECT id FROM artifacts WHERE run_id=? AND name=?", run["id"], name)
            if old:
                self.x("DELETE FROM artifacts WHERE id=?", old["id"])
                self.artifact_path(old["id"]).unlink(missing_ok=True)
            ts = time.time()
            aid = self.x("INSERT INTO artifacts (run_id, repo_id, name, size, digest, created_at, expires_at) "
                         "VALUES (?,?,?,?,?,?,?)", run["id"], run["repo_id"], name, len(data), digest,
                         now_iso(), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts + retention_days * 86400)))
            path = self.artifact_path(aid)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return present(self.one("SELECT * FROM artifacts WHERE id=?", aid))

    def artifact(self, repo: Row, artifact_id: int) -> Row | None:
        return self.one("SELECT * FROM artifacts WHERE id=? AND repo_id=?", artifact_id, repo["id"])

    def artifacts(self, repo: Row, run_id: int | None = None) -> list[Row]:
        """A run's (or the repository's) artifacts, newest first."""
        if run_id is None:
            return self.q("SELECT * FROM artifacts WHERE repo_id=? ORDER BY id DESC", repo["id"])
        return self.q("SELECT * FROM artifacts WHERE run_id=? ORDER BY id DESC", run_id)

    def artifact_named(self, run_id: int, name: str) -> Row | None:
        return self.one("SELECT * FROM artifacts WHERE run_id=? AND name=?", run_id, name)

    def artifact_path(self, artifact_id: int) -> Path:
        return self.root / "actions" / "artifacts" / f"{artifact_id}.zip"
