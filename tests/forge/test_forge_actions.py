"""The forge's Actions API and runner: dispatch with run details, runs, jobs, logs, artifacts, cancel,
webhooks, and every answer checked against GitHub's OpenAPI description (the `api` client).

Workflows here run tiny shell and Python steps; tests/forge/test_forge_actions_train.py runs the
repository's own train.yml.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile

import pytest
import requests
from github import GithubException
from github.WorkflowRun import WorkflowRun

from tests.forge.actions_helpers import (
    ACTION_EVENTS,
    actions_repo,
    process_gone,
    validate_webhook,
    wait_for,
    webhook_definitions,
)
from tests.forge.conftest import REPO, SHARED_GITHUB

BUILD = """name: build
run-name: build ${{ inputs.word }} by ${{ github.actor }}
on:
  workflow_dispatch:
    inputs:
      word:
        required: true
      shout:
        type: boolean
        default: false
env:
  GREETING: hello
jobs:
  build:
    name: Build it
    runs-on: ubuntu-latest
    env:
      REF: ${{ github.ref }}
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065
        with:
          python-version: "3.11"
      - name: Write the file
        id: write
        working-directory: app
        env:
          WORD: ${{ inputs.word }}
          SHOUT: ${{ inputs.shout }}
        run: |
          python make.py
          echo "wrote=$(cat out/result.txt)" >> "$GITHUB_OUTPUT"
          echo "FROM_STEP=yes" >> "$GITHUB_ENV"
      - name: Report
        env:
          WROTE: ${{ steps.write.outputs.wrote }}
        run: echo "step output $WROTE, env $FROM_STEP, greeting $GREETING, ref $REF."
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with:
          name: result-${{ inputs.word }}
          path: app/out/
  after:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo "second job after ${{ '$' }}"
        if: false
      - run: echo second job
"""
MAKE_PY = """import os, pathlib
word = os.environ["WORD"].upper() if os.environ["SHOUT"] == "true" else os.environ["WORD"]
out = pathlib.Path("out")
out.mkdir()
(out / "result.txt").write_text(f"{os.environ['GREETING']} {word}")
(out / "sub").mkdir()
(out / "sub" / "more.txt").write_text("more")
print("made", word)
"""
FAILING = """name: failing
on: workflow_dispatch
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: |
          echo "about to fail"
          exit 3
      - run: echo "never printed"
      - if: failure()
        run: echo "cleaning up after the failure"
      - uses: some-org/some-action@v1
        if: always()
      - if: always()
        run: echo "${{ github.sha }}"
"""
SLEEPY = """name: sleepy
on:
  workflow_dispatch:
    inputs:
      pidfile:
        required: true
jobs:
  sleep:
    runs-on: ubuntu-latest
    steps:
      - env:
          PIDFILE: ${{ inputs.pidfile }}
        run: |
          sleep 300 &
          echo "$$ $!" > "$PIDFILE"
          echo "sleeping"
          wait
      - run: echo "not after a cancel"
      - if: always()
        run: echo "always runs, even after a cancel"
"""


@pytest.fixture
def build_repo(forge):
    return actions_repo(forge, "build", {".github/workflows/build.yml": BUILD, "app/make.py": MAKE_PY,
                                         "README.md": "# build\n"})


def _zip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_dispatch_returns_the_run_and_it_succeeds_with_jobs_logs_and_artifact(forge, gh, tokens, build_repo):
    repo = gh("ml-intern[bot]").get_repo(build_repo)
    started = time.monotonic()
    run = repo.get_workflow("build.yml").create_dispatch("main", {"word": "bitext", "shout": "true"},
                                                         return_run_details=True)
    assert time.monotonic() - started < 2  # answered at once; the run executes in the background
    assert isinstance(run, WorkflowRun) and run.id > 0
    assert run.url.endswith(f"/repos/{build_repo}/actions/runs/{run.id}")
    assert forge.actions.wait(run.id, timeout=30)

    run = repo.get_workflow_run(run.id)
    main = repo.get_branch("main").commit.sha
    assert (run.status, run.conclusion, run.event, run.head_branch, run.head_sha) == (
        "completed", "success", "workflow_dispatch", "main", main)
    assert run.display_title == "build bitext by ml-intern[bot]" and run.name == "build" and run.run_number == 1
    jobs = list(run.jobs())
    assert [(j.name, j.status, j.conclusion) for j in jobs] == [("Build it", "completed", "success"),
                                                                 ("after", "completed", "success")]
    steps = [(s.number, s.name, s.conclusion) for s in jobs[0].steps]
    assert steps == [(1, "Set up job", "success"),
                     (2, "Run actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683", "success"),
                     (3, "Run actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065", "success"),
                     (4, "Write the file", "success"), (5, "Report", "success"),
                     (6, "Run actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02", "success"),
                     (7, "Complete job", "success")]
    assert [s.conclusion for s in jobs[1].steps] == ["success", "skipped", "success", "success"]

    location = jobs[0].logs_url()  # PyGithub reads the 302's Location
    log = requests.get(location, timeout=10).text  # a signed URL: no token needed, as on GitHub
    assert "made BITEXT" in log
    assert "step output hello BITEXT, env yes, greeting hello, ref refs/heads/main." in log
    first = log.splitlines()[0]
    assert first[10] == "T" and first[27:29] == "Z " and first.endswith("Current runner version: 'forge'")
    assert requests.get(location.replace("signature=", "signature=0"), timeout=10).status_code == 403

    artifacts = list(run.get_artifacts())
    assert [(a.name, a.expired) for a in artifacts] == [("result-bitext", False)]
    art = artifacts[0]
    download = requests.get(art.archive_download_url, headers={"Authorization": f"token {tokens['reader']}"},
                            timeout=10)
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    files = _zip(download.content)
    assert files == {"result.txt": b"hello BITEXT", "sub/more.txt": b"more"}  # relative to app/out/
    assert art.size_in_bytes == len(download.content)
    assert art.digest == "sha256:" + hashlib.sha256(download.content).hexdigest()
    assert repo.get_artifact(art.id).name == "result-bitext"


def test_failing_step_fails_the_run_with_its_log(forge, gh, build_repo):
    name = actions_repo(forge, "failing", {".github/workflows/failing.yml": FAILING})
    repo = gh("ml-intern[bot]").get_repo(name)
    run = repo.get_workflow("failing.yml").create_dispatch("main", return_run_details=True)
    assert forge.actions.wait(run.id, timeout=30)
    run = repo.get_workflow_run(run.id)
    assert (run.status, run.conclusion) == ("completed", "failure")
    job = next(iter(run.jobs()))
    assert job.conclusion == "failure"
    assert [(s.name, s.conclusion) for s in job.steps] == [
        ("Set up job", "success"), ('Run echo "about to fail"', "failure"), ('Run echo "never printed"', "skipped"),
        ('Run echo "cleaning up after the failure"', "success"), ("Run some-org/some-action@v1", "failure"),
        ('Run echo "${{ github.sha }}"', "failure"), ("Complete job", "success")]
    log = requests.get(job.logs_url(), timeout=10).text
    assert "about to fail" in log and "##[error]Process completed with exit code 3." in log
    assert "never printed" not in log
    assert "cleaning up after the failure" in log
    assert "cannot run `some-org/some-action@v1`" in log and "actions/checkout" in log
    assert "does not write expressions into `run:` scripts" in log


def test_cancel_stops_the_sleeping_step_and_its_processes(forge, gh, tmp_path):
    forge.actions.grace_s = (0.5, 0.5)
    name = actions_repo(forge, "sleepy", {".github/workflows/sleepy.yml": SLEEPY})
    repo = gh("ml-intern[bot]").get_repo(name)
    pidfile = tmp_path / "pids"
    run = repo.get_workflow("sleepy.yml").create_dispatch("main", {"pidfile": str(pidfile)}, return_run_details=True)
    pids = [int(p) for p in wait_for(lambda: pidfile.exists() and pidfile.read_text().split(), what="pids")]
    assert all(not process_gone(pid) for pid in pids)
    assert repo.get_workflow_run(run.id).status == "in_progress"
    assert gh("reader").get_repo(name).get_workflow_run(run.id).cancel() is False  # 403: read access only
    assert repo.get_workflow_run(run.id).status == "in_progress"
    started = time.monotonic()
    assert repo.get_workflow_run(run.id).cancel() is True  # 202
    assert forge.actions.wait(run.id, timeout=20)
    assert time.monotonic() - started < 5
    wait_for(lambda: all(process_gone(pid) for pid in pids), timeout=5, what="the step's processes to end")
    run = repo.get_workflow_run(run.id)
    assert (run.status, run.conclusion) == ("completed", "cancelled")
    job = next(iter(run.jobs()))
    assert job.conclusion == "cancelled"
    assert [s.conclusion for s in job.steps] == ["success", "cancelled", "skipped", "success", "success"]
    log = requests.get(job.logs_url(), timeout=10).text
    assert "sleeping" in log and "##[error]The operation was canceled." in log
    assert "always runs, even after a cancel" in log and "not after a cancel" not in log
    with pytest.raises(GithubException) as again:  # 409 once completed
        repo._requester.requestJsonAndCheck("POST", run.cancel_url)
    assert again.value.status == 409


def test_webhooks_follow_the_run_and_validate(forge, gh, receiver, build_repo):
    forge.add_hook(build_repo, url=receiver.url, secret="s", events=ACTION_EVENTS)
    repo = gh("ml-intern[bot]").get_repo(build_repo)
    run = repo.get_workflow("build.yml").create_dispatch("main", {"word": "x"}, return_run_details=True)
    assert forge.actions.wait(run.id, timeout=30)
    assert forge.wait_for_deliveries(timeout=10)
    seen = [(r["headers"]["X-GitHub-Event"], r["json"].get("action"),
             r["json"].get("workflow_job", {}).get("name")) for r in receiver.requests]
    assert seen == [("workflow_dispatch", None, None), ("workflow_run", "requested", None),
                    ("workflow_job", "queued", "Build it"), ("workflow_job", "queued", "after"),
                    ("workflow_run", "in_progress", None),
                    ("workflow_job", "in_progress", "Build it"), ("workflow_job", "completed", "Build it"),
                    ("workflow_job", "in_progress", "after"), ("workflow_job", "completed", "after"),
                    ("workflow_run", "completed", None)]
    definitions = webhook_definitions()
    for r in receiver.requests:
        validate_webhook(definitions, r["headers"]["X-GitHub-Event"], r["json"])
    by = {(r["headers"]["X-GitHub-Event"], r["json"].get("action")): r["json"] for r in receiver.requests}
    assert by["workflow_dispatch", None]["inputs"] == {"word": "x"}
    assert by["workflow_dispatch", None]["ref"] == "refs/heads/main"
    done = by["workflow_run", "completed"]["workflow_run"]
    assert (done["id"], done["status"], done["conclusion"]) == (run.id, "completed", "success")
    assert by["workflow_run", "completed"]["workflow"]["path"] == ".github/workflows/build.yml"
    assert by["workflow_run", "requested"]["sender"]["login"] == "ml-intern[bot]"
    _same_keys_as_real_examples(receiver.requests)


def _same_keys_as_real_examples(requests_seen: list[dict]) -> None:
    real: dict = {}
    for group in json.loads((SHARED_GITHUB / "webhooks-examples.json").read_text()):
        for ex in group["examples"]:
            real.setdefault((group["name"], ex.get("action")), ex)
    optional = {"installation", "organization", "enterprise", "deployment"}
    for req in requests_seen:
        event, ours = req["headers"]["X-GitHub-Event"], req["json"]
        example = real.get((event, ours.get("action")))
        if example is None:
            continue
        assert set(example) - optional <= set(ours), (event, set(example) - set(ours))
        for key in ("workflow_run", "workflow_job", "workflow"):
            if isinstance(example.get(key), dict):
                missing = set(example[key]) - set(ours[key]) - {"referenced_workflows"}
                assert not missing, (event, ours.get("action"), key, missing)


def test_actions_endpoints_conform_to_the_spec(forge, api, build_repo, tmp_path):
    r = f"/repos/{build_repo}"
    details = api.call("POST", f"{r}/actions/workflows/build.yml/dispatches",
                       json={"ref": "main", "inputs": {"word": "spec"}, "return_run_details": True}).json()
    assert set(details) == {"workflow_run_id", "run_url", "html_url"}
    run_id = details["workflow_run_id"]
    api.call("GET", f"{r}/actions/runs/{run_id}")  # while queued or in progress
    assert forge.actions.wait(run_id, timeout=30)
    api.call("POST", f"{r}/actions/workflows/build.yml/dispatches", expect=204,
             json={"ref": "main", "inputs": {"word": "second"}, "return_run_details": False})
    runs = api.call("GET", f"{r}/actions/runs").json()
    assert runs["total_count"] == 2 and [x["run_number"] for x in runs["workflow_runs"]] == [2, 1]
    for second in runs["workflow_runs"]:
        assert forge.actions.wait(second["id"], timeout=30)
    page = api.call("GET", f"{r}/actions/runs", params={"per_page": 1})
    assert 'rel="next"' in page.headers["Link"] and len(page.json()["workflow_runs"]) == 1
    assert api.call("GET", f"{r}/actions/runs", params={"status": "success"}).json()["total_count"] == 2
    assert api.call("GET", f"{r}/actions/runs", params={"status": "failure"}).json()["total_count"] == 0
    wf = api.call("GET", f"{r}/actions/workflows/build.yml").json()
    assert api.call("GET", f"{r}/actions/workflows/{wf['id']}/runs").json()["total_count"] == 2
    run = api.call("GET", f"{r}/actions/runs/{run_id}").json()
    assert run["conclusion"] == "success" and run["head_commit"]["message"] == "Initial commit"
    jobs = api.call("GET", f"{r}/actions/runs/{run_id}/jobs").json()
    assert jobs["total_count"] == 2
    job_id = jobs["jobs"][0]["id"]
    assert api.call("GET", f"{r}/actions/jobs/{job_id}").json()["run_id"] == run_id
    logs = api.call("GET", f"{r}/actions/jobs/{job_id}/logs", expect=302, allow_redirects=False)
    assert "made spec" in requests.get(logs.headers["Location"], timeout=10).text
    run_logs = api.call("GET", f"{r}/actions/runs/{run_id}/logs", expect=302, allow_redirects=False)
    assert sorted(_zip(requests.get(run_logs.headers["Location"], timeout=10).content)) == ["0_Build it.txt",
                                                                                            "1_after.txt"]
    arts = api.call("GET", f"{r}/actions/runs/{run_id}/artifacts").json()
    assert [a["name"] for a in arts["artifacts"]] == ["result-spec"]
    art_id = arts["artifacts"][0]["id"]
    assert api.call("GET", f"{r}/actions/artifacts", params={"name": "result-second"}).json()["total_count"] == 1
    api.call("GET", f"{r}/actions/artifacts/{art_id}")
    zipped = api.call("GET", f"{r}/actions/artifacts/{art_id}/zip", expect=302, allow_redirects=False)
    assert _zip(requests.get(zipped.headers["Location"], timeout=10).content)["result.txt"] == b"hello spec"
    api.call("POST", f"{r}/actions/runs/{run_id}/cancel", expect=409)
    api.call("GET", f"{r}/actions/runs/999999", expect=404)
    api.call("GET", f"{r}/actions/jobs/999999/logs", expect=404)
    api.call("GET", f"{r}/actions/artifacts/999999", expect=404)
    api.call("GET", f"{r}/actions/artifacts/{art_id}/tar", expect=404)
    api.call("POST", f"{r}/actions/workflows/build.yml/dispatches", as_user="reader", expect=403,
             json={"ref": "main", "inputs": {"word": "no"}})
    api.call("POST", f"{r}/actions/workflows/build.yml/dispatches", expect=422,
             json={"ref": "main", "return_run_details": "yes"})
    # a run cancelled through the API while its step sleeps answers 202 with {}
    forge.actions.grace_s = (0.5, 0.5)
    name = actions_repo(forge, "sleepy-spec", {".github/workflows/sleepy.yml": SLEEPY})
    pidfile = tmp_path / "pids"
    sleepy = api.call("POST", f"/repos/{name}/actions/workflows/sleepy.yml/dispatches",
                      json={"ref": "main", "inputs": {"pidfile": str(pidfile)}, "return_run_details": True}).json()
    wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), what="the step to start")
    assert api.call("POST", f"/repos/{name}/actions/runs/{sleepy['workflow_run_id']}/cancel", expect=202).json() == {}
    assert forge.actions.wait(sleepy["workflow_run_id"], timeout=20)
    cancelled = api.call("GET", f"/repos/{name}/actions/runs/{sleepy['workflow_run_id']}").json()
    assert cancelled["conclusion"] == "cancelled"


def test_the_seeded_workflow_still_dispatches_and_runs(forge, gh):
    workflow = gh("ml-intern[bot]").get_repo(REPO).get_workflow("train.yml")
    run = workflow.create_dispatch("main", {"run_id": "1"}, return_run_details=True)
    assert forge.actions.wait(run.id, timeout=30)
    assert forge.run_row(run.id)["conclusion"] == "success"
    assert b"train" in forge.job_log(forge.jobs(run.id)[0]["id"])


def test_steps_get_no_forge_secrets(forge, gh, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_forge_own_token")
    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    workflow = """name: env
on: workflow_dispatch
jobs:
  env:
    runs-on: ubuntu-latest
    steps:
      - run: env | sort
"""
    name = actions_repo(forge, "env", {".github/workflows/env.yml": workflow})
    run = gh("ml-intern[bot]").get_repo(name).get_workflow("env.yml").create_dispatch("main", return_run_details=True)
    assert forge.actions.wait(run.id, timeout=30)
    log = forge.job_log(forge.jobs(run.id)[0]["id"]).decode()
    assert "ghp_forge_own_token" not in log and "hf_secret" not in log
    assert "HF_HUB_OFFLINE=1" in log and "GITHUB_ACTIONS=true" in log and f"GITHUB_REPOSITORY={name}" in log
    assert os.environ["GITHUB_TOKEN"] == "ghp_forge_own_token"


def test_the_web_view_shows_runs_logs_and_serves_artifacts(forge, gh, server, build_repo):
    repo = gh("ml-intern[bot]").get_repo(build_repo)
    run = repo.get_workflow("build.yml").create_dispatch("main", {"word": "web"}, return_run_details=True)
    assert forge.actions.wait(run.id, timeout=30)
    listing = requests.get(f"{server.url}/{build_repo}/actions", timeout=10)
    assert listing.status_code == 200 and "build web by ml-intern[bot]" in listing.text
    page = requests.get(run.html_url, timeout=10)  # the run's html_url
    assert page.status_code == 200 and "made web" in page.text and "result-web" in page.text
    job = next(iter(repo.get_workflow_run(run.id).jobs()))
    assert "made web" in requests.get(job.html_url, timeout=10).text
    (artifact,) = forge.artifacts(forge.repo(build_repo), run.id)
    # upload-artifact's `artifact-url` output
    url = f"{server.url}/{build_repo}/actions/runs/{run.id}/artifacts/{artifact['id']}"
    assert _zip(requests.get(url, timeout=10).content)["result.txt"] == b"hello web"
    assert requests.get(f"{server.url}/{build_repo}/actions/runs/999", timeout=10).status_code == 404
