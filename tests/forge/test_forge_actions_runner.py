"""The runner's workflow semantics: expressions, needs/if between jobs, timeouts, concurrency groups,
and the clear refusal of syntax it does not support."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
import requests

from bot.forge.actions_expr import ExprError, condition, evaluate, interpolate
from bot.forge.actions_runner import WorkflowError, job_order, job_problems, parse_workflow
from tests.forge.actions_helpers import actions_repo

NAMES = {"inputs": {"issue": "7", "flag": True, "n": 3}, "github": {"ref": "refs/heads/main", "actor": "Alice"},
         "env": {"A": "x"}, "steps": {"s-1": {"outputs": {"out": "v"}, "outcome": "success"}}}


@pytest.mark.parametrize(("expr", "value"), [
    ("inputs.issue", "7"), ("inputs.ISSUE", "7"), ("inputs['issue']", "7"), ("inputs.missing", None),
    ("inputs.issue == 7", True), ("github.actor == 'alice'", True), ("inputs.flag && 'yes' || 'no'", "yes"),
    ("!inputs.flag", False), ("inputs.n > 2 && inputs.n <= 3", True), ("steps.s-1.outputs.out", "v"),
    ("contains(github.ref, 'MAIN')", True), ("startsWith(github.ref, 'refs/heads/')", True),
    ("format('{0}-{1}{{x}}', inputs.issue, 'a')", "7-a{x}"), ("fromJSON('[1, 2]')[1]", 2),
    ("'it''s'", "it's"), ("null == ''", True), ("0x10 == 16", True), ("(1 == 1) && (2 != 3)", True),
])
def test_expressions(expr, value):
    assert evaluate(expr, NAMES) == value


def test_interpolation_keeps_a_lone_expression_typed_and_writes_the_rest_in():
    assert interpolate("${{ inputs.n }}", NAMES) == 3
    assert interpolate("issue-${{ inputs.issue }}-${{ inputs.flag }}", NAMES) == "issue-7-true"
    assert interpolate(42, NAMES) == 42


def test_conditions_default_to_success():
    ok = {"success": True, "failure": False, "always": True, "cancelled": False}.__getitem__
    failed = {"success": False, "failure": True, "always": True, "cancelled": False}.__getitem__
    assert condition("inputs.flag", NAMES, ok) and not condition("inputs.flag", NAMES, failed)
    assert condition("${{ failure() }}", NAMES, failed) and condition("always()", NAMES, failed)
    assert not condition(False, NAMES, ok)


@pytest.mark.parametrize("expr", ["hashFiles('x')", "secretz.X", "inputs.", "1 ==", "a.*.b"])
def test_unsupported_expressions_are_refused(expr):
    with pytest.raises(ExprError):
        evaluate(expr, {**NAMES, "a": {}})


def test_workflow_shape_checks():
    with pytest.raises(WorkflowError):
        parse_workflow("jobs: [")
    with pytest.raises(WorkflowError, match="needs `nope`"):
        job_order({"a": {"needs": "nope"}})
    with pytest.raises(WorkflowError, match="itself"):
        job_order({"a": {"needs": "b"}, "b": {"needs": ["a"]}})
    assert job_order({"late": {"needs": "early"}, "early": {}}) == ["early", "late"]
    problems = job_problems({"strategy": {"matrix": {}}, "steps": [{"run": "x", "uses": "y"}, {"foo": 1}]})
    assert "job key `strategy` is not supported by the forge's runner" in problems
    assert "step 1 must have exactly one of `run` and `uses`" in problems
    assert "step 2: key `foo` is not supported" in problems


JOBS = """name: graph
on: workflow_dispatch
jobs:
  first:
    runs-on: ubuntu-latest
    outputs:
      word: ${{ steps.say.outputs.word }}
    steps:
      - id: say
        run: echo "word=hi" >> "$GITHUB_OUTPUT"
  broken:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - env:
          WORD: ${{ needs.first.outputs.word }}
        run: echo "got $WORD" && false
  after-broken:
    needs: broken
    runs-on: ubuntu-latest
    steps:
      - run: echo unreachable
  on-failure:
    needs: broken
    if: failure()
    runs-on: ubuntu-latest
    steps:
      - run: echo "broken failed"
  tolerated:
    runs-on: ubuntu-latest
    continue-on-error: true
    steps:
      - run: exit 1
  matrix:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
    steps:
      - run: echo never
  slow:
    runs-on: ubuntu-latest
    steps:
      - continue-on-error: true
        run: exit 1
      - timeout-minutes: 0.01
        run: sleep 30
"""


def test_jobs_needs_if_outputs_timeouts_and_unsupported_keys(forge, gh):
    forge.actions.grace_s = (0.5, 0.5)
    name = actions_repo(forge, "graph", {".github/workflows/graph.yml": JOBS})
    run = gh("ml-intern[bot]").get_repo(name).get_workflow("graph.yml").create_dispatch("main",
                                                                                      return_run_details=True)
    assert forge.actions.wait(run.id, timeout=30)
    jobs = {j["job_key"]: j for j in forge.jobs(run.id)}
    assert {k: j["conclusion"] for k, j in jobs.items()} == {
        "first": "success", "broken": "failure", "after-broken": "skipped", "on-failure": "success",
        "tolerated": "failure", "matrix": "failure", "slow": "failure"}
    assert forge.run_row(run.id)["conclusion"] == "failure"
    assert b"got hi" in forge.job_log(jobs["broken"]["id"])
    assert b"##[error]job key `strategy` is not supported" in forge.job_log(jobs["matrix"]["id"])
    slow = forge.job_log(jobs["slow"]["id"])
    assert b"##[error]The action has timed out." in slow
    assert b"##[error]Process completed with exit code 1." in slow  # continue-on-error: the job went on
    assert [s["conclusion"] for s in json.loads(jobs["slow"]["steps"])] == ["success", "success", "failure", "success"]


GROUPED = """name: grouped
on:
  workflow_dispatch:
    inputs:
      file: {required: true}
      tag: {required: true}
concurrency:
  group: one-at-a-time
jobs:
  work:
    runs-on: ubuntu-latest
    steps:
      - env:
          FILE: ${{ inputs.file }}
          TAG: ${{ inputs.tag }}
        run: |
          echo "start $TAG" >> "$FILE"
          sleep 0.4
          echo "end $TAG" >> "$FILE"
"""


def test_runs_of_one_concurrency_group_run_one_at_a_time(forge, gh, tmp_path):
    name = actions_repo(forge, "grouped", {".github/workflows/grouped.yml": GROUPED})
    workflow = gh("ml-intern[bot]").get_repo(name).get_workflow("grouped.yml")
    trace = tmp_path / "trace"
    runs = [workflow.create_dispatch("main", {"file": str(trace), "tag": tag}, return_run_details=True)
            for tag in ("a", "b")]
    assert all(forge.actions.wait(r.id, timeout=30) for r in runs)
    assert trace.read_text().split("\n")[:4] == ["start a", "end a", "start b", "end b"]


def test_a_workflow_that_cannot_start_fails_with_its_reason(forge, gh, api):
    broken = ("name: broken\nrun-name: ${{ nope.x }}\non: workflow_dispatch\n"
              "jobs:\n  a:\n    steps:\n      - run: echo\n")
    name = actions_repo(forge, "broken", {".github/workflows/broken.yml": broken})
    run = api.call("POST", f"/repos/{name}/actions/workflows/broken.yml/dispatches",
                   json={"ref": "main", "return_run_details": True}).json()
    assert forge.actions.wait(run["workflow_run_id"], timeout=30)
    got = api.call("GET", f"/repos/{name}/actions/runs/{run['workflow_run_id']}").json()
    assert (got["status"], got["conclusion"]) == ("completed", "failure")
    assert api.call("GET", f"/repos/{name}/actions/runs/{run['workflow_run_id']}/jobs").json()["total_count"] == 0
    logs = api.call("GET", f"/repos/{name}/actions/runs/{run['workflow_run_id']}/logs", expect=302,
                    allow_redirects=False)
    with zipfile.ZipFile(io.BytesIO(requests.get(logs.headers["Location"], timeout=10).content)) as zf:
        assert "Unrecognized named-value: 'nope'" in zf.read("workflow.txt").decode()


def test_a_forge_that_does_not_execute_keeps_runs_queued_until_cancelled(forge, api, receiver):
    forge.actions.execute = False
    forge.add_hook("acme/support-bot", url=receiver.url, events=["workflow_run", "workflow_job"])
    run = api.call("POST", "/repos/acme/support-bot/actions/workflows/train.yml/dispatches",
                   json={"ref": "main", "inputs": {"run_id": "1"}, "return_run_details": True}).json()
    url = f"/repos/acme/support-bot/actions/runs/{run['workflow_run_id']}"
    assert api.call("GET", url).json()["status"] == "queued"
    assert api.call("POST", f"{url}/cancel", expect=202).json() == {}
    assert api.call("GET", url).json()["conclusion"] == "cancelled"
    assert api.call("GET", f"{url}/jobs").json()["jobs"][0]["conclusion"] == "cancelled"
    api.call("POST", f"{url}/cancel", expect=409)
    assert forge.wait_for_deliveries(timeout=10)
    assert [(r["json"]["action"]) for r in receiver.requests] == ["requested", "queued", "completed", "completed"]
