# /// script
# requires-python = ">=3.10"
# dependencies = ["huggingface_hub>=1.0"]
# ///
"""What an HF Job of ml-intern-bot runs: fetch the approved scripts, train, evaluate, upload the outputs.

`runners.hf_jobs.HfJobsBackend` ships this file with `run_uv_job`; it runs in the job's container, so it
uses the standard library and huggingface_hub only (never the bot). The job's environment says what to
run: ML_INTERN_RUNS_REPO (a private model repo), ML_INTERN_SHA (the approved commit), ML_INTERN_FOLDER
(the scripts' folder in the checkout), and HF_TOKEN as a job secret. Steps:
1. download `{sha}/src/**` of the runs repo (the checkout the bot uploaded);
2. `uv run train.py --config config.yaml --output out`, then evaluate.py the same way, with cwd = the
   scripts' folder, their output going straight to the job's log, and an environment without any
   credential (the scripts are generated code: they never see HF_TOKEN);
3. always, whatever happened: write `out/run.json` (status, exit codes, seconds) and upload `out/` to
   `{sha}/out/` of the runs repo, replacing an earlier run's files, then exit with the scripts' status.
`--deadline-s` stops the scripts (their whole process group) early enough that step 3 runs before the
Hub's own timeout would kill the job; the last log line `{"event": "launcher", ...}` tells the bot why
the job ended (a stop at the deadline exits 124 and says "timed_out").
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # one log line per event, not progress bars

SCRIPTS = ("train.py", "evaluate.py")
TIMED_OUT = 124
GRACE_S = 10.0
# Like runners.base.is_secret (this file cannot import the bot): names that may hold credentials.
SECRET = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE_KEY|API_KEY|_KEY$|^KEY$")
_child: subprocess.Popen | None = None


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline-s", type=float, default=None, help="stop the scripts after this many seconds")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _stopped)  # cancelled: take the scripts down with us
    started = time.monotonic()
    deadline = started + args.deadline_s if args.deadline_s else None
    repo, sha, folder = (os.environ[k] for k in ("ML_INTERN_RUNS_REPO", "ML_INTERN_SHA", "ML_INTERN_FOLDER"))
    from huggingface_hub import HfApi

    api = HfApi()  # HF_TOKEN and HF_ENDPOINT come from the job's environment
    record: dict = {"sha": sha, "folder": folder, "status": "failed", "message": "", "steps": []}
    root = _workspace()
    out = root / "out"
    try:
        scripts = _download(api, repo, sha, folder, root)
        out = scripts / "out"
        _run_scripts(scripts, deadline, record)
    except Exception as exc:  # noqa: BLE001 - the outputs are uploaded whatever went wrong
        record["message"] = f"the job could not run the scripts: {exc}"
    record["seconds"] = round(time.monotonic() - started, 1)
    if not _upload(api, repo, sha, out, record) and record["status"] == "succeeded":
        record.update(status="failed", message="the job could not upload its outputs to the runs repository")
    print(json.dumps({"event": "launcher", **{k: record[k] for k in ("status", "message", "seconds")},
                      "exit_codes": {s["script"]: s["exit_code"] for s in record["steps"]}}), flush=True)
    return _exit_code(record)


def _workspace() -> Path:
    """`run/` in the job's working folder, or a temporary folder where that one may not be written."""
    cwd = Path.cwd()
    return cwd / "run" if os.access(cwd, os.W_OK) else Path(tempfile.mkdtemp(prefix="ml-intern-"))


def _download(api, repo: str, sha: str, folder: str, root: Path) -> Path:
    """The approved checkout, from the runs repo; the scripts' folder must lie inside it."""
    root = root.resolve()
    api.snapshot_download(repo_id=repo, allow_patterns=f"{sha}/src/**", local_dir=root)
    source = root / sha / "src"
    scripts = (source / folder).resolve()
    if not scripts.is_relative_to(source) or not (scripts / SCRIPTS[0]).is_file():
        raise RuntimeError(f"{folder}/{SCRIPTS[0]} is not in the uploaded checkout of {sha[:12]}")
    return scripts


def _run_scripts(scripts: Path, deadline: float | None, record: dict) -> None:
    """train.py then evaluate.py; the first that fails (or the deadline) ends the run."""
    for script in SCRIPTS:
        code, seconds, late = _run(script, scripts, deadline)
        record["steps"].append({"script": script, "exit_code": code, "seconds": round(seconds, 1)})
        if late:
            record.update(status="timed_out", message=f"{script} was stopped at the job's time limit")
            return
        if code != 0:
            record.update(status="failed", message=f"{script} exited with status {code}")
            return
    record.update(status="succeeded", message="")


def _run(script: str, cwd: Path, deadline: float | None) -> tuple[int, float, bool]:
    """Run one script in its own process group (so a stop reaches its children); exit code, seconds, late."""
    global _child
    begun = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not SECRET.search(k.upper())}
    print(f"ml-intern launcher: uv run {script}", flush=True)
    _child = subprocess.Popen(["uv", "run", script, "--config", "config.yaml", "--output", "out"], cwd=cwd,
                              env=env, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        code = _child.wait(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
        return code, time.monotonic() - begun, False
    except subprocess.TimeoutExpired:
        _stop_child()
        return TIMED_OUT, time.monotonic() - begun, True
    finally:
        _child = None


def _stop_child() -> None:
    """At the deadline: SIGTERM the running script's process group, SIGKILL it after a grace period."""
    child = _child
    if child is None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=GRACE_S)
            return
        except subprocess.TimeoutExpired:
            continue


def _stopped(signum, frame) -> None:
    """The job is being cancelled (or killed at the Hub's timeout): kill the scripts at once, then end.

    No grace and no wait here: the handler may interrupt `Popen.wait`, which holds the Popen's lock, and
    the Hub kills this process soon after its SIGTERM; a script left behind would keep the job alive.
    """
    child = _child
    if child is not None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    sys.exit(128 + signum)


def _upload(api, repo: str, sha: str, out: Path, record: dict) -> bool:
    """`out/` (whatever exists, plus run.json) replaces `{sha}/out/` of the runs repo; True when uploaded."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "run.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        api.upload_folder(repo_id=repo, folder_path=out, path_in_repo=f"{sha}/out", delete_patterns="*",
                          ignore_patterns=[".cache/**"], commit_message=f"Outputs of {sha[:12]}: {record['status']}")
        return True
    except Exception as exc:  # noqa: BLE001 - report it; the job still ends with the scripts' status
        print(f"ml-intern launcher: could not upload out/: {type(exc).__name__}: {exc}", flush=True)
        return False


def _exit_code(record: dict) -> int:
    if record["status"] == "succeeded":
        return 0
    if record["status"] == "timed_out":
        return TIMED_OUT
    codes = [s["exit_code"] for s in record["steps"] if s["exit_code"] != 0]
    if not codes:
        return 1
    return codes[0] if codes[0] > 0 else 128 - codes[0]  # killed by signal N: 128 + N, as a shell says


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
