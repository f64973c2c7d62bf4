"""HF Jobs on the local Hub through the real client: run_uv_job / run_job, inspect_job, fetch_job_logs,
cancel_job, list_jobs and list_jobs_hardware; each job is a local subprocess."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.hub.conftest import ALICE, ORG

HELLO = '''# /// script
# requires-python = ">=3.10"
# dependencies = ["numpy"]
# ///
import os, sys
print("hello from", os.environ["JOB_ID"], sys.argv[1:])
print("secret seen:", os.environ.get("HF_TOKEN") == "hf_job_secret", "env:", os.environ.get("MODE"))
with open("result.txt", "w") as out:
    out.write("trained\\n")
'''
SLEEPER = '''import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
print("pids", os.getpid(), child.pid, flush=True)
time.sleep(120)
'''


def wait_for(api, job_id: str):
    """The client's own `wait_for_job` (it polls inspect_job until a terminal stage)."""
    return api.wait_for_job(job_id, timeout=20, poll_interval=0.1)


def alive(pid: int) -> bool:
    """A zombie (killed, not yet reaped by its new parent) counts as gone."""
    stat = Path(f"/proc/{pid}/stat")
    if stat.parent.parent.exists() and Path("/proc/self").exists():
        return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_uv_job_of_a_local_script(hub, api, tmp_path):
    script = tmp_path / "hello.py"
    script.write_text(HELLO)

    job = api.run_uv_job(script=str(script), script_args=["--epochs", "1"], env={"MODE": "smoke"},
                         secrets={"HF_TOKEN": "hf_job_secret"}, flavor="cpu-basic", timeout="5m")
    logs = list(api.fetch_job_logs(job_id=job.id, follow=True))
    done = api.inspect_job(job_id=job.id)

    assert job.status.stage in ("SCHEDULING", "RUNNING") and job.url == f"{hub.url}/jobs/{ALICE}/{job.id}"
    assert done.status.stage == "COMPLETED" and done.finished_at is not None
    assert done.command == ["uv", "run", "/data/hello.py", "--epochs", "1"]  # shipped in the jobs-artifacts bucket
    assert done.secrets == {"HF_TOKEN": "*****"} and done.environment == {"MODE": "smoke"}
    assert f"hello from {job.id} ['--epochs', '1']" in logs
    assert "secret seen: True env: smoke" in logs
    assert any("inline dependencies" in line for line in logs)  # says plainly that uv installed nothing
    assert list(api.fetch_job_logs(job_id=job.id)) == logs  # no-follow replays the finished log
    work = hub.store.root / "jobs" / job.id
    assert (work / "work" / "result.txt").read_text() == "trained\n"
    assert "hf_job_secret" not in (work / "job.json").read_text()


def test_run_uv_job_of_a_script_on_the_hub_by_url(hub, api):
    api.create_repo(f"{ORG}/scripts", repo_type="dataset", exist_ok=True)
    api.upload_file(path_or_fileobj=b"print('from the hub')\n", path_in_repo="train.py", repo_id=f"{ORG}/scripts",
                    repo_type="dataset")

    url = f"{hub.url}/datasets/{ORG}/scripts/resolve/main/train.py"
    job = api.run_uv_job(script=url, namespace=ORG, flavor="t4-small")
    logs = list(api.fetch_job_logs(job_id=job.id, namespace=ORG, follow=True))

    assert "from the hub" in logs and job.owner.name == ORG and job.flavor == "t4-small"
    assert api.inspect_job(job_id=job.id, namespace=ORG).status.stage == "COMPLETED"


def test_logs_stream_while_the_job_runs(api):
    code = "import time\nfor i in range(3):\n    print('tick', i, flush=True)\n    time.sleep(0.3)\n"
    job = api.run_job(image="python:3.12", command=["python", "-c", code])

    first = next(iter(api.fetch_job_logs(job_id=job.id, follow=True)))
    running = api.inspect_job(job_id=job.id).status.stage
    rest = list(api.fetch_job_logs(job_id=job.id, follow=True))

    assert first == "tick 0" and running == "RUNNING"
    assert rest == ["tick 0", "tick 1", "tick 2"] and wait_for(api, job.id).status.stage == "COMPLETED"


def test_cancel_job_stops_the_process_and_its_children(api):
    job = api.run_job(image="python:3.12", command=["python", "-c", SLEEPER])
    line = next(line for line in api.fetch_job_logs(job_id=job.id, follow=True) if line.startswith("pids"))
    pids = [int(p) for p in line.split()[1:]]
    assert all(alive(pid) for pid in pids)

    api.cancel_job(job_id=job.id)

    assert api.inspect_job(job_id=job.id).status.stage == "CANCELED"
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running after cancel_job: {pids}"
        time.sleep(0.05)


def test_failures_timeouts_and_unknown_flavors(api):
    from huggingface_hub.errors import BadRequestError

    failing = api.run_job(image="python:3.12", command=["python", "-c", "import sys; print('oops'); sys.exit(3)"])
    slow = api.run_job(image="python:3.12", command=["python", "-c", "import time; time.sleep(60)"], timeout=1)
    missing = api.run_job(image="python:3.12", command=["no-such-program-here"])

    assert wait_for(api, failing.id).status.message == "Job failed with exit code: 3"
    assert list(api.fetch_job_logs(job_id=failing.id)) == ["oops"]
    timed_out = wait_for(api, slow.id).status
    assert (timed_out.stage, timed_out.message) == ("ERROR", "Job timeout after 1s")
    assert wait_for(api, missing.id).status.stage == "ERROR"
    with pytest.raises(BadRequestError, match="Invalid flavor"):
        api.run_job(image="python:3.12", command=["true"], flavor="quantum-xl")


def test_list_jobs_by_stage_and_label_and_the_hardware_table(api):
    job = api.run_job(image="python:3.12", command=["python", "-c", "print(1)"], labels={"issue": "42"})
    wait_for(api, job.id)

    labelled = [j.id for j in api.list_jobs(namespace=ALICE, labels={"issue": "42"})]
    completed = [j.id for j in api.list_jobs(namespace=ALICE, status="COMPLETED")]
    hardware = {h.name: h for h in api.list_jobs_hardware()}

    assert labelled == [job.id] and job.id in completed
    assert hardware["cpu-basic"].unit_cost_micro_usd == 167 and hardware["cpu-basic"].unit_label == "minute"
    assert hardware["a100-large"].accelerator.model == "A100" and hardware["a100-large"].unit_cost_usd > 0
