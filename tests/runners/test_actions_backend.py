"""ActionsBackend against the forge: the real PyGithub client over HTTP, the repository's own train.yml run
by the forge's runner, and tiny train.py/evaluate.py stand-ins (no ML) that print train.py's progress lines.

pip runs with PIP_NO_INDEX, so train.yml's install steps only confirm the pinned packages are installed.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import io
import json
import re
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from bot.playground.world import TRAIN_YML
from runners.actions import ActionsBackend
from runners.base import BackendError, JobRef, JobStatus, RunRequest
from tests.forge.actions_helpers import process_gone, wait_for

TRAIN_PY = """# /// script
# dependencies = ["pyyaml"]
# ///
import argparse, json, os, pathlib, sys, time, yaml
parser = argparse.ArgumentParser()
parser.add_argument("--config")
parser.add_argument("--output")
args = parser.parse_args()
config = yaml.safe_load(open(args.config))
def say(**event):
    print(json.dumps(event), flush=True)
say(event="start", train_rows=8, val_rows=2, test_rows=2, epochs=1)
print('{"loss": 1.0}')
print("{not json", flush=True)
if config.get("fail"):
    say(event="error", message=config["fail"])
    sys.exit(1)
if config.get("pidfile"):
    pathlib.Path(config["pidfile"]).write_text(str(os.getpid()))
deadline = time.time() + config.get("wait_s", 0)
while time.time() < deadline and not os.path.exists(config.get("gate", "/nonexistent")):
    time.sleep(0.05)
say(event="progress", step=1, total_steps=1, epoch=1.0, loss=0.5, elapsed=0.1)
out = pathlib.Path(args.output)
(out / "model").mkdir(parents=True, exist_ok=True)
(out / "model" / "weights.bin").write_bytes(config["label"].encode())
say(event="epoch", epoch=1, epochs=1, val_accuracy=0.5, val_macro_f1=0.5, elapsed=0.2)
say(event="done", stopped_reason="completed", train_seconds=0.2)
"""
EVALUATE_PY = """# /// script
# dependencies = ["pyyaml"]
# ///
import argparse, json, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--config")
parser.add_argument("--output")
args = parser.parse_args()
out = pathlib.Path(args.output)
(out / "metrics.json").write_text(json.dumps({"model": (out / "model" / "weights.bin").read_text()}))
"""
BOT = "ml-intern[bot]"


def _torch_pin() -> str:
    match = re.search(r"torch==([\w.]+)", TRAIN_YML.read_text())
    assert match, "train.yml pins torch"
    return match.group(1)


@pytest.fixture(autouse=True)
def _pinned_torch():
    """train.yml installs its pinned torch; offline, that only works when this environment has it."""
    try:
        installed = importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        installed = "none"
    if installed != _torch_pin():
        pytest.skip(f"train.yml pins torch {_torch_pin()}, this environment has {installed}")


class Trainer:
    """A repository holding train.yml and one scripts folder per behaviour, and a backend for it."""

    def __init__(self, forge, gh, tokens, tmp_path: Path, workflow: str | None = None, private: bool = False):
        forge.actions.extra_env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
        forge.actions.grace_s = (0.5, 0.5)
        self.forge, self.tmp = forge, tmp_path
        self.gate, self.pidfile = tmp_path / "gate", tmp_path / "pid"
        configs = {
            "ok": {"label": "intent"},
            "gated": {"label": "gated", "gate": str(self.gate), "wait_s": 60},
            "fail": {"label": "x", "fail": "label column `intent` not found"},
            "slow": {"label": "slow", "pidfile": str(self.pidfile), "wait_s": 300},
        }
        files: dict[str, str | bytes] = {"README.md": "# trainer\n"}
        if workflow is not None:
            files[".github/workflows/train.yml"] = workflow
        for name, config in configs.items():
            files |= {f"ml/{name}/train.py": TRAIN_PY, f"ml/{name}/evaluate.py": EVALUATE_PY,
                      f"ml/{name}/config.yaml": json.dumps(config)}
        self.name = "acme/trainer"
        forge.create_repo(self.name, owner_type="Organization", files=files, private=private)
        forge.set_permission(self.name, BOT, "write")
        forge.set_permission(self.name, "reader", "read")
        self.repo = gh(BOT).get_repo(self.name)
        self.sha = self.repo.get_branch("main").commit.sha
        self.backend = ActionsBackend(self.repo, tokens[BOT])

    def request(self, folder: str, issue: int = 7) -> RunRequest:
        return RunRequest(repo=self.name, issue=issue, sha=self.sha, folder=f"ml/{folder}", source=self.tmp,
                          budget_s=600, hardware="actions-cpu")

    def wait(self, job: JobRef, *stages: str, timeout: float = 60) -> JobStatus:
        """Poll status() until the job reaches one of `stages`; that status."""
        seen: list[JobStatus] = []

        def reached():
            seen.append(self.backend.status(job))
            return seen[-1] if seen[-1].stage in stages else None
        return wait_for(reached, timeout=timeout, what=f"stage in {stages}")


@pytest.fixture
def trainer(forge, gh, tokens, tmp_path) -> Trainer:
    return Trainer(forge, gh, tokens, tmp_path, workflow=TRAIN_YML.read_text())


class DownloadHost:
    """Stands in for GitHub's download host (another hostname): forwards GETs to the forge's signed URLs
    and records the headers each request carried; `artifact` replaces the artifact zip it hands out."""

    def __init__(self, upstream: str):
        self.seen: list[dict] = []
        self.artifact: bytes | None = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                outer.seen.append({"path": self.path, "headers": dict(self.headers)})
                answer = requests.get(upstream + self.path, timeout=10)
                body = answer.content
                if outer.artifact is not None and "/artifacts/" in self.path:
                    body = outer.artifact
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("Content-Type", "application/octet-stream"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def download_host(forge, server):
    """The forge's 302s for logs and artifacts now point at a DownloadHost on `localhost`."""
    host = DownloadHost(server.url)
    forge.actions.download_url = host.url
    yield host
    host.close()


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


# --- the tests ------------------------------------------------------------------------------------
def test_submit_runs_the_approved_commit_reports_progress_and_fetch_brings_the_outputs(trainer, forge, tmp_path):
    approved = trainer.sha
    # main moves on after the approval: the run still trains the approved commit, with main's workflow
    old = trainer.repo.get_contents("ml/gated/config.yaml", ref="main")
    trainer.repo.update_file(old.path, "later change", json.dumps({"label": "later"}), old.sha, branch="main")
    job = trainer.backend.submit(trainer.request("gated"))
    assert job.backend == "actions" and job.artifacts == f"ml-intern-issue-7-{approved}"
    run = trainer.repo.get_workflow_run(int(job.id))
    assert job.url == run.html_url and run.head_branch == "main"

    running = trainer.wait(job, "running")
    assert running.cost_usd == 0.0 and running.log_tail == ""
    running = wait_for(lambda: (s := trainer.backend.status(job)).events and s, what="the first progress line")
    assert running.stage == "running" and running.message == "step `Train` is running"
    assert running.events == [{"event": "start", "train_rows": 8, "val_rows": 2, "test_rows": 2, "epochs": 1}]

    trainer.gate.touch()
    done = trainer.wait(job, "succeeded")
    assert [e["event"] for e in done.events] == ["start", "progress", "epoch", "done"]
    assert done.message == "" and done.log_tail == "" and done.seconds > 0 and done.cost_usd == 0.0

    dest = tmp_path / "outputs"
    assert trainer.backend.fetch(job, dest) == dest
    assert json.loads((dest / "metrics.json").read_text()) == {"model": "gated"}  # the approved config
    assert (dest / "model" / "weights.bin").read_bytes() == b"gated"


def test_a_failing_train_py_fails_naming_the_step_and_its_error_with_a_log_tail(trainer, tmp_path):
    job = trainer.backend.submit(trainer.request("fail"))
    status = trainer.wait(job, "succeeded", "failed", "cancelled", "timed_out")
    assert status.stage == "failed"
    assert status.message == "step `Train` failed: label column `intent` not found"
    assert status.events[-1] == {"event": "error", "message": "label column `intent` not found"}
    tail = status.log_tail.splitlines()
    assert 10 < len(tail) <= 40
    assert "##[error]Process completed with exit code 1." in tail
    assert not any(re.match(r"\d{4}-\d\d-\d\dT", line) for line in tail)  # without the timestamps
    # train.py wrote no outputs, so the run uploaded none: fetch says so and how to go on
    with pytest.raises(BackendError, match=r"gone.*/retry"):
        trainer.backend.fetch(job, tmp_path / "outputs")
    assert not (tmp_path / "outputs").exists()


def test_cancel_stops_the_training_process(trainer, forge):
    job = trainer.backend.submit(trainer.request("slow"))
    pid = int(wait_for(lambda: trainer.pidfile.exists() and trainer.pidfile.read_text(), what="train.py's pid"))
    assert not process_gone(pid)
    assert trainer.wait(job, "running").message == "step `Train` is running"
    trainer.backend.cancel(job)
    status = trainer.wait(job, "cancelled", "failed", "succeeded", timeout=20)
    assert status.stage == "cancelled" and status.events[0]["event"] == "start"
    wait_for(lambda: process_gone(pid), timeout=5, what="train.py to stop")
    trainer.backend.cancel(job)  # the run already ended: not an error (GitHub answers 409)
    assert trainer.backend.status(job).stage == "cancelled"


def test_cancel_without_actions_write_is_refused(trainer, gh, tokens):
    job = trainer.backend.submit(trainer.request("slow"))
    wait_for(lambda: trainer.pidfile.exists(), what="train.py to start")
    reader = ActionsBackend(gh("reader").get_repo(trainer.name), tokens["reader"])
    with pytest.raises(BackendError, match=r"actions: write"):
        reader.cancel(job)
    assert trainer.backend.status(job).stage == "running"
    trainer.backend.cancel(job)
    assert trainer.wait(job, "cancelled", "failed", "succeeded", timeout=20).stage == "cancelled"


def test_a_run_past_timeout_minutes_is_timed_out(forge, gh, tokens, tmp_path):
    workflow = TRAIN_YML.read_text()
    assert "timeout-minutes: 350" in workflow
    trainer = Trainer(forge, gh, tokens, tmp_path, workflow=workflow.replace("timeout-minutes: 350",
                                                                             "timeout-minutes: 0.1"))
    job = trainer.backend.submit(trainer.request("slow"))
    status = trainer.wait(job, "succeeded", "failed", "cancelled", "timed_out", timeout=30)
    assert status.stage == "timed_out"
    assert "exceeded the maximum execution time of 0.1 minutes" in status.message
    assert "maximum execution time" in status.log_tail


def test_a_workflow_missing_on_the_default_branch_is_refused_with_the_fix(forge, gh, tokens, tmp_path):
    trainer = Trainer(forge, gh, tokens, tmp_path, workflow=None)
    # on another branch (a PR's, say) it does not count: the default branch's copy is the one that runs
    trainer.repo.create_git_ref("refs/heads/pr", trainer.sha)
    trainer.repo.create_file(".github/workflows/train.yml", "add train.yml", TRAIN_YML.read_text(), branch="pr")
    with pytest.raises(BackendError, match=r"copy \.github/workflows/train\.yml .* to `main`") as refused:
        trainer.backend.submit(trainer.request("ok"))
    assert "127.0.0.1" not in str(refused.value)
    assert list(trainer.repo.get_workflow_runs()) == []


def test_dispatch_refusals_name_the_fix(forge, gh, tokens, tmp_path):
    old = TRAIN_YML.read_text()
    cut = old.index("      directory:")
    outdated = old[:cut] + old[old.index("\npermissions:"):]
    trainer = Trainer(forge, gh, tokens, tmp_path, workflow=outdated)  # a train.yml without `directory`
    with pytest.raises(BackendError, match=r"422 Unexpected inputs .*inputs issue, sha and directory") as refused:
        trainer.backend.submit(trainer.request("ok"))
    assert tokens[BOT] not in str(refused.value)
    reader = ActionsBackend(gh("reader").get_repo(trainer.name), tokens["reader"])
    with pytest.raises(BackendError, match=r"token needs `actions: write`"):
        reader.submit(trainer.request("ok"))
    assert list(trainer.repo.get_workflow_runs()) == []


def test_downloads_never_carry_the_token_to_the_download_host(forge, gh, tokens, tmp_path, download_host):
    # private, so the artifact API answers only with the token: the API host does get it
    trainer = Trainer(forge, gh, tokens, tmp_path, workflow=TRAIN_YML.read_text(), private=True)
    job = trainer.backend.submit(trainer.request("ok"))
    assert [e["event"] for e in trainer.wait(job, "succeeded").events] == ["start", "progress", "epoch", "done"]
    dest = trainer.backend.fetch(job, tmp_path / "outputs")
    assert (dest / "model" / "weights.bin").read_bytes() == b"intent"
    paths = [seen["path"] for seen in download_host.seen]
    assert any("/job-logs/" in p for p in paths) and any("/artifacts/" in p for p in paths)
    for seen in download_host.seen:
        assert "Authorization" not in seen["headers"], seen["path"]
        assert tokens[BOT] not in json.dumps(seen["headers"]), seen["path"]


@pytest.mark.parametrize("entry", ["../escaped.txt", "{tmp}/escaped.txt", "model/../../escaped.txt"])
def test_fetch_refuses_an_artifact_with_paths_outside_the_folder(trainer, tmp_path, download_host, entry):
    job = trainer.backend.submit(trainer.request("ok"))
    trainer.wait(job, "succeeded")
    download_host.artifact = _zip({"metrics.json": b"{}", entry.format(tmp=tmp_path): b"escaped"})
    with pytest.raises(BackendError, match="unsafe path"):
        trainer.backend.fetch(job, tmp_path / "outputs")
    assert not (tmp_path / "outputs").exists() and not (tmp_path / "escaped.txt").exists()


def test_an_expired_artifact_is_gone_and_asks_for_a_retrain(trainer, forge, tmp_path):
    job = trainer.backend.submit(trainer.request("ok"))
    trainer.wait(job, "succeeded")
    forge.x("UPDATE artifacts SET expires_at=? WHERE run_id=?", "2000-01-01T00:00:00Z", int(job.id))
    with pytest.raises(BackendError, match=r"gone: GitHub deletes artifacts after the retention days.*/retry"):
        trainer.backend.fetch(job, tmp_path / "outputs")


def test_fetch_before_the_run_ends_says_it_has_no_outputs_yet(trainer, tmp_path):
    job = trainer.backend.submit(trainer.request("gated"))
    trainer.wait(job, "running")
    with pytest.raises(BackendError, match="no outputs yet"):
        trainer.backend.fetch(job, tmp_path / "outputs")
    trainer.gate.touch()
    trainer.wait(job, "succeeded")


def test_a_failing_workflow_step_is_named_with_the_runners_error(trainer):
    job = trainer.backend.submit(dataclasses.replace(trainer.request("ok"), sha=trainer.sha[:7]))
    status = trainer.wait(job, "succeeded", "failed", "cancelled", "timed_out")
    assert status.stage == "failed" and status.events == []
    assert status.message == "step `Refuse anything but a full commit SHA` failed: sha must be a full 40-hex commit SHA"
