"""The hf-jobs backend and HF Jobs prices, through the REAL huggingface_hub client against the local Hub.

Each job runs the shipped launcher as a local subprocess (bot/hub/jobs.py); its `uv run train.py` runs
tiny stand-in scripts with this machine's Python. The stand-ins do what the real ones promise the
runners (docs/ARTIFACTS.md): JSON progress lines on stdout, `out/model.txt`, `out/metrics.json`; they
also read the in-repo data file their config names, and say whether they could see HF_TOKEN.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from runners.base import SECRET_PATTERN, BackendError, JobRef, RunRequest
from runners.hf_jobs import LAUNCHER, HfJobsBackend, runs_repo
from runners.prices import OFFLINE_PRICES, hourly_price, worst_case_cost
from tests.hub.conftest import ALICE, ORG, api, hub, online  # noqa: F401 - the local Hub's fixtures
from tests.hub.test_jobs import alive

SHA = "0123456789abcdef0123456789abcdef01234567"
FOLDER = "ml-intern/issue-7"
TRAIN = '''# /// script
# dependencies = ["torch"]
# ///
import argparse, json, os, pathlib, subprocess, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--output", required=True)
args = parser.parse_args()
config = dict(line.split(": ", 1) for line in open(args.config).read().splitlines() if ": " in line)
rows = len(open(config["dataset"]).read().splitlines()) - 1
print(json.dumps({"event": "start", "train_rows": rows, "token_seen": "HF_TOKEN" in os.environ}), flush=True)
mode = os.environ.get("STANDIN_MODE", "ok")
pids = [os.getpid()]
if mode == "slow":
    pids.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"]).pid)
print(json.dumps({"event": "progress", "step": 1, "total_steps": 2, "epoch": 0.5, "loss": 0.69, "elapsed": 0.1,
                  "pids": pids}), flush=True)
if mode == "fail":
    print(json.dumps({"event": "error", "message": "label column `intent` is not in the data"}), flush=True)
    sys.exit(1)
out = pathlib.Path(args.output)
out.mkdir(parents=True, exist_ok=True)
(out / "model.txt").write_text("weights\\n")
if mode == "slow":
    time.sleep(120)
print(json.dumps({"event": "done", "stopped_reason": "completed", "train_seconds": 0.1}), flush=True)
'''
EVALUATE = '''import argparse, json, pathlib
parser = argparse.ArgumentParser()
parser.add_argument("--config", required=True)
parser.add_argument("--output", required=True)
out = pathlib.Path(parser.parse_args().output)
assert (out / "model.txt").read_text() == "weights\\n"
(out / "metrics.json").write_text(json.dumps({"finetuned": {"accuracy": 0.9}, "shipped": "finetuned"}))
print("evaluated", flush=True)
'''


def checkout(root: Path) -> Path:
    """A checkout of the approved commit: the scripts' folder and the in-repo data its config names."""
    scripts = root / FOLDER
    scripts.mkdir(parents=True)
    (scripts / "train.py").write_text(TRAIN)
    (scripts / "evaluate.py").write_text(EVALUATE)
    (scripts / "config.yaml").write_text("dataset: ../../data/tickets.csv\nlabel_column: intent\n")
    (root / "data").mkdir()
    (root / "data" / "tickets.csv").write_text("text,intent\nhi,greet\nbye,leave\nrefund please,refund\n")
    return root


def request(source: Path, mode: str = "ok", budget_s: float = 120, hardware: str = "hf-t4-small") -> RunRequest:
    return RunRequest(repo="octo/tickets.v2", issue=7, sha=SHA, folder=FOLDER, source=source, budget_s=budget_s,
                      hardware=hardware, env={"STANDIN_MODE": mode, "LEAKY_TOKEN": "must-not-travel"})


@pytest.fixture
def backend(hub, api) -> HfJobsBackend:  # noqa: F811 - the fixtures imported above
    return HfJobsBackend(api, ALICE, hub.tokens[ALICE], install_margin_s=0, upload_margin_s=30)


def wait(backend: HfJobsBackend, job: JobRef, until=lambda s: s.ended, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        status = backend.status(job)
        if until(status):
            return status
        assert time.monotonic() < deadline, f"job still {status.stage}: {status.log_tail}"
        time.sleep(0.2)


def run_json(api, job: JobRef) -> dict:  # noqa: F811
    repo, sha = job.artifacts.rsplit("/", 2)[0], job.artifacts.split("/")[2]
    return json.loads(Path(api.hf_hub_download(repo, f"{sha}/out/run.json")).read_text())


def job_files(hub, job: JobRef) -> str:  # noqa: F811
    """What the local Hub keeps of a job on disk: its record and its log."""
    folder = hub.store.root / "jobs" / job.id
    return (folder / "job.json").read_text() + (folder / "logs.jsonl").read_text()


# --- the backend ------------------------------------------------------------------------------------
def test_a_job_trains_evaluates_and_its_outputs_can_be_fetched_anywhere(hub, api, backend, tmp_path):  # noqa: F811
    job = backend.submit(request(checkout(tmp_path / "src")))
    done = wait(backend, job)
    outputs = backend.fetch(job, tmp_path / "elsewhere")

    repo = runs_repo(ALICE, "octo/tickets.v2", 7)
    assert repo == f"{ALICE}/tickets.v2-issue-7-runs"
    assert (job.backend, job.artifacts) == ("hf-jobs", f"{repo}/{SHA}/out")
    assert job.url == f"{hub.url}/jobs/{ALICE}/{job.id}"
    assert done.stage == "succeeded" and done.message == "" and done.seconds > 0
    price = hourly_price("t4-small", api)
    assert done.cost_usd == pytest.approx(done.seconds * price / 3600) and done.cost_usd > 0
    start, progress = done.events[0], done.events[1]
    assert start == {"event": "start", "train_rows": 3, "token_seen": False}  # in-repo data came; no token
    assert progress["event"] == "progress" and progress["step"] == 1
    assert [e["event"] for e in done.events] == ["start", "progress", "done"]  # the launcher's line is not one
    assert "evaluated" in done.log_tail
    assert json.loads((outputs / "metrics.json").read_text())["finetuned"]["accuracy"] == 0.9
    assert (outputs / "model.txt").read_text() == "weights\n" and outputs.is_relative_to(tmp_path / "elsewhere")
    assert json.loads((outputs / "run.json").read_text())["status"] == "succeeded"
    assert api.repo_info(repo).private is True
    assert api.file_exists(repo, f"{SHA}/src/{FOLDER}/train.py")
    assert api.file_exists(repo, f"{SHA}/src/data/tickets.csv")


def test_the_job_is_labelled_and_its_token_stays_secret(hub, api, backend, tmp_path):  # noqa: F811
    from huggingface_hub.errors import BadRequestError

    job = backend.submit(request(checkout(tmp_path / "src")))
    wait(backend, job)
    info = api.inspect_job(job_id=job.id, namespace=ALICE)

    assert info.flavor == "t4-small" and info.secrets == {"HF_TOKEN": "*****"}
    assert info.command is not None and info.command[-2:] == ["--deadline-s", "120"]  # budget, no install margin
    stored = json.loads((hub.store.root / "jobs" / job.id / "job.json").read_text())
    assert stored["timeoutSeconds"] == backend.timeout_s(120) == 150  # the Hub stops it 30 s later: time to upload
    assert info.labels is not None
    assert {k: info.labels[k] for k in ("ml-intern-repo", "ml-intern-issue", "ml-intern-sha")} == {
        "ml-intern-repo": "octo-tickets-v2", "ml-intern-issue": "7", "ml-intern-sha": SHA}
    assert info.environment is not None and "LEAKY_TOKEN" not in info.environment
    assert info.environment["STANDIN_MODE"] == "ok" and info.environment["ML_INTERN_SHA"] == SHA
    assert hub.tokens[ALICE] not in job_files(hub, job)
    with pytest.raises(BadRequestError, match="Invalid label"):  # why the repository's name is rewritten
        api.run_job(image="python:3.12", command=["true"], labels={"ml-intern-repo": "octo/tickets.v2"})


def test_a_failing_train_py_fails_with_its_message_and_still_uploads_run_json(api, backend, tmp_path):  # noqa: F811
    source = checkout(tmp_path / "src")
    earlier = backend.submit(request(source))  # the same commit once trained fine: its outputs must not linger
    assert wait(backend, earlier).stage == "succeeded"

    job = backend.submit(request(source, mode="fail"))
    done = wait(backend, job)

    assert done.stage == "failed" and done.message == "label column `intent` is not in the data"
    assert "label column `intent` is not in the data" in done.log_tail
    record = run_json(api, job)
    assert record["status"] == "failed"
    assert [(s["script"], s["exit_code"]) for s in record["steps"]] == [("train.py", 1)]  # evaluate.py never ran
    with pytest.raises(BackendError, match="no metrics.json"):  # not the earlier run's metrics.json
        backend.fetch(job, tmp_path / "fetched")
    assert not (tmp_path / "fetched" / SHA / "out" / "model.txt").exists()


def test_cancel_stops_a_running_job_and_its_processes(backend, tmp_path):
    job = backend.submit(request(checkout(tmp_path / "src"), mode="slow"))
    running = wait(backend, job, until=lambda s: any("pids" in e for e in s.events))
    pids = next(e["pids"] for e in running.events if "pids" in e)

    backend.cancel(job)
    cancelled = backend.status(job)
    backend.cancel(job)  # an ended job: nothing to do, no error

    assert running.stage == "running" and running.seconds > 0
    assert running.cost_usd == pytest.approx(running.seconds * 0.40 / 3600, rel=0.01)  # t4-small, offline table
    assert cancelled.stage == "cancelled"
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, f"still running after cancel: {pids}"
        time.sleep(0.05)


def test_a_run_past_its_budget_times_out_and_still_uploads_what_it_made(api, backend, tmp_path):  # noqa: F811
    job = backend.submit(request(checkout(tmp_path / "src"), mode="slow", budget_s=6))
    done = wait(backend, job)
    pids = next(e["pids"] for e in done.events if "pids" in e)

    assert done.stage == "timed_out" and "time limit" in done.message
    assert not any(alive(pid) for pid in pids)
    record = run_json(api, job)
    assert record["status"] == "timed_out" and record["steps"][0]["exit_code"] == 124
    repo, sha = job.artifacts.rsplit("/", 2)[0], SHA
    assert api.file_exists(repo, f"{sha}/out/model.txt")  # what train.py had written before it was stopped


def test_the_hubs_own_timeout_is_timed_out_not_failed(api, backend):  # noqa: F811
    info = api.run_job(image="python:3.12", command=["python", "-c", "import time; time.sleep(60)"], timeout=1)
    job = JobRef(backend="hf-jobs", id=info.id)

    done = wait(backend, job)

    assert (done.stage, done.message) == ("timed_out", "Job timeout after 1s")


@pytest.mark.parametrize(("token", "namespace", "hardware", "says"), [
    ("hf_not_a_real_token", ALICE, "hf-cpu-basic", "token was refused"),
    ("alice-read", ALICE, "hf-cpu-basic", f"may not create the runs repository and upload the scripts in `{ALICE}`"),
    (ALICE, "bob", "hf-cpu-basic", "give it write access to `bob`"),
    (ALICE, ORG, "hf-quantum-xl", "refused the flavor `quantum-xl`"),
])
def test_hub_refusals_say_what_to_fix_without_the_token(hub, online, tmp_path, token, namespace, hardware,  # noqa: F811
                                                         says):
    from huggingface_hub import HfApi

    secret = hub.tokens.get(token, token)
    backend = HfJobsBackend(HfApi(endpoint=hub.url, token=secret), namespace, secret)

    with pytest.raises(BackendError) as refused:
        backend.submit(request(checkout(tmp_path / "src"), hardware=hardware))

    assert says in str(refused.value) and secret not in str(refused.value)


def test_a_job_the_hub_does_not_know_is_a_backend_error(backend):
    job = JobRef(backend="hf-jobs", id="abc123" * 4, artifacts=f"{ALICE}/tickets-issue-7-runs/{SHA}/out")

    with pytest.raises(BackendError, match=f"the Hub has no job {job.id} .* check the configured namespace"):
        backend.status(job)
    with pytest.raises(BackendError, match=f"the Hub has no job {job.id}"):
        backend.cancel(job)


def test_fetch_of_a_job_that_wrote_nothing_says_to_retry(api, backend, tmp_path):  # noqa: F811
    repo = f"{ALICE}/empty-issue-1-runs"
    api.create_repo(repo, private=True)
    job = JobRef(backend="hf-jobs", id="0" * 24, artifacts=f"{repo}/{SHA}/out")

    with pytest.raises(BackendError, match="the job wrote no outputs; `/retry`"):
        backend.fetch(job, tmp_path / "out")


def test_submit_refuses_what_is_not_an_approved_checkout(backend, tmp_path):
    source = checkout(tmp_path / "src")
    with pytest.raises(BackendError, match="not a full commit SHA"):
        backend.submit(replace(request(source), sha="main"))
    with pytest.raises(BackendError, match="train.py is not in the checkout"):
        backend.submit(replace(request(source), folder="../elsewhere"))
    with pytest.raises(BackendError, match="not an HF Jobs flavor"):
        backend.submit(request(source, hardware="local-cpu"))


def test_the_launcher_hides_the_same_variables_from_the_scripts_as_the_bot():
    assert f're.compile(r"{SECRET_PATTERN.pattern}")' in LAUNCHER.read_text()  # it cannot import runners.base


def test_runs_repo_names_are_valid_on_the_hub():
    assert runs_repo("acme", "octo/my--repo..x", 3) == "acme/my-repo.x-issue-3-runs"
    assert runs_repo("acme", "octo/-.dotty.-", 3) == "acme/dotty-issue-3-runs"
    long = runs_repo("acme", "octo/" + "a" * 200, 12)
    assert len(long.split("/")[1]) == 96 and long.endswith("-issue-12-runs")


# --- prices -----------------------------------------------------------------------------------------
def test_prices_come_from_the_hub_when_it_answers(api):  # noqa: F811
    listed = {h.name: h for h in api.list_jobs_hardware()}

    assert hourly_price("t4-small", api) == pytest.approx(listed["t4-small"].unit_cost_usd * 60)
    assert worst_case_cost("a100-large", 1800, api) == pytest.approx(listed["a100-large"].unit_cost_usd * 30)


def test_prices_fall_back_to_the_offline_table_and_unknown_flavors_fail_closed(online):  # noqa: F811
    from huggingface_hub import HfApi

    unreachable = HfApi(endpoint="http://127.0.0.1:9", token="hf_x")

    assert hourly_price("a10g-small") == OFFLINE_PRICES["a10g-small"] == 1.00
    assert hourly_price("t4-small", unreachable) == 0.40
    assert worst_case_cost("t4-small", 3600 * 2) == pytest.approx(0.80)
    with pytest.raises(BackendError, match="no price known for flavor rtx-pro-6000; choose one of: a100-large"):
        hourly_price("rtx-pro-6000")
