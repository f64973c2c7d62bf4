"""The workflows a user copies and the composite Action: linted, schema-checked, audited, least privilege."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TOOLS = Path(sys.executable).parent  # actionlint, check-jsonschema and zizmor come from the venv
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
ACTION = ROOT / "action.yml"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def triggers(workflow: dict) -> dict:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True


def steps_of(doc: dict) -> list[dict]:
    if "runs" in doc:
        return doc["runs"]["steps"]
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOOLS / name), *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_expected_files_exist():
    assert {p.name for p in WORKFLOWS} >= {"ml-intern.yml", "train.yml", "ci.yml"}
    assert ACTION.is_file()


def test_actionlint_passes():
    done = tool("actionlint", *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflows_match_githubs_schema():
    done = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert done.returncode == 0, done.stdout + done.stderr


def test_action_matches_githubs_schema():
    done = tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION))
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_finds_nothing_medium_or_worse():
    done = tool("zizmor", "--offline", "--format", "json", *map(str, WORKFLOWS), str(ACTION))
    findings = json.loads(done.stdout)
    serious = [
        (f["ident"], f["determinations"]["severity"])
        for f in findings
        if f["determinations"]["severity"] in {"Medium", "High"}
    ]
    assert serious == [], done.stdout


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_no_expression_is_interpolated_into_a_shell_script(path):
    """Untrusted text stays data: values reach `run:` only through `env:`."""
    for step in steps_of(load(path)):
        script = step.get("run", "")
        assert "${{" not in script, f"{path.name}: step {step.get('name')!r} interpolates into its script"
        assert not re.search(r"github\.event\.[\w.]*(body|title)", script)


@pytest.mark.parametrize("path", [*WORKFLOWS, ACTION], ids=lambda p: p.name)
def test_remote_actions_are_pinned_to_a_full_commit_sha(path):
    for step in steps_of(load(path)):
        uses = step.get("uses")
        if uses and not uses.startswith("./"):
            assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a commit SHA"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_checkouts_do_not_persist_the_token(path):
    for step in steps_of(load(path)):
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_ml_intern_workflow_reacts_to_issues_comments_and_pushes_one_issue_at_a_time():
    workflow = load(ROOT / ".github" / "workflows" / "ml-intern.yml")
    on = triggers(workflow)
    assert on["issues"]["types"] == ["opened", "labeled", "edited"]
    assert on["issue_comment"]["types"] == ["created"]
    assert on["pull_request"]["types"] == ["synchronize"]
    assert "pull_request_target" not in on
    assert workflow["permissions"] == {}
    job = workflow["jobs"]["handle"]
    assert job["permissions"] == {
        "contents": "write",
        "issues": "write",
        "pull-requests": "write",
        "actions": "write",
    }
    assert job["needs"] == "route" and workflow["jobs"]["route"]["permissions"] == {"contents": "read"}
    assert "needs.route.outputs.issue" in job["concurrency"]["group"]
    assert job["concurrency"]["cancel-in-progress"] is False
    assert workflow["jobs"]["route"]["steps"][-1]["with"] == {"mode": "route"}


def test_the_routing_step_puts_a_comment_on_the_bots_pr_in_its_issues_group(tmp_path):
    """Regression: the workflow keyed a PR comment by the PR number, so an issue and its PR ran at once."""
    from bot.core.routing import pr_marker

    comment = {"action": "created", "comment": {"id": 1, "body": "/status"},
               "issue": {"number": 40, "pull_request": {"url": "u"}, "body": f"scripts\n{pr_marker(12)}",
                         "user": {"login": "github-actions[bot]"}}}
    outputs = []
    for payload in (comment, {"action": "synchronize", "pull_request": {"number": 40, "head": {"ref": "ml-intern/issue-12"}}},
                    {"action": "opened", "issue": {"number": 12}}):
        event = tmp_path / "event.json"
        event.write_text(json.dumps(payload))
        done = subprocess.run([sys.executable, "-I", str(ROOT / "bot" / "core" / "routing.py")], capture_output=True,
                              text=True, env={"GITHUB_EVENT_PATH": str(event),
                                              "ML_INTERN_BOT_LOGIN": "github-actions[bot]"}, check=True)
        outputs.append(done.stdout.strip())
    assert outputs == ["issue=12"] * 3


def test_ml_intern_workflow_runs_the_bot_from_the_default_branch_with_its_secrets():
    job = load(ROOT / ".github" / "workflows" / "ml-intern.yml")["jobs"]["handle"]
    checkout, bot = job["steps"]
    assert checkout["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    assert bot["uses"] == "./"
    assert bot["with"]["hf-token"] == "${{ secrets.HF_TOKEN }}"
    assert bot["with"]["anthropic-api-key"] == "${{ secrets.ANTHROPIC_API_KEY }}"


def test_train_workflow_checks_out_exactly_the_approved_sha_without_write_tokens():
    path = ROOT / ".github" / "workflows" / "train.yml"
    workflow = load(path)
    inputs = triggers(workflow)["workflow_dispatch"]["inputs"]
    assert inputs["issue"]["required"] and inputs["sha"]["required"]
    assert workflow["permissions"] == {"contents": "read"}
    [job] = workflow["jobs"].values()
    assert job["permissions"] == {"contents": "read"}
    checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
    assert checkout["with"]["ref"] == "${{ inputs.sha }}"
    scripts = "\n".join(s.get("run", "") for s in job["steps"])
    assert "python train.py --config config.yaml --output out" in scripts
    assert "python evaluate.py --config config.yaml --output out" in scripts
    upload = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["with"]["path"].endswith("out/")
    assert "secrets." not in path.read_text()


def test_train_workflow_refuses_a_sha_that_is_not_a_full_commit(tmp_path):
    [job] = load(ROOT / ".github" / "workflows" / "train.yml")["jobs"].values()
    guard = job["steps"][0]["run"]

    def run(sha: str, issue: str = "3") -> int:
        env = {"SHA": sha, "ISSUE": issue, "PATH": "/usr/bin:/bin"}
        return subprocess.run(["bash", "-c", guard], env=env, capture_output=True, timeout=30).returncode

    assert run("a" * 40) == 0
    assert run("main") != 0
    assert run("a" * 39 + "; echo injected") != 0
    assert run("a" * 40, issue="3 && true") != 0


def test_train_workflow_reads_dependencies_from_the_scripts_pep723_blocks(tmp_path):
    """The install step's reader, run on scripts shaped like the ones the bot writes."""
    [job] = load(ROOT / ".github" / "workflows" / "train.yml")["jobs"].values()
    install = next(s["run"] for s in job["steps"] if "requirements-run.txt" in s.get("run", ""))
    reader = textwrap.dedent(install.split("<<'PY'\n", 1)[1].split("\nPY\n", 1)[0])
    block = '# /// script\n# requires-python = ">=3.11"\n# dependencies = [\n#   "{}",\n#   "pandas",\n# ]\n# ///\n'
    (tmp_path / "train.py").write_text(block.format("transformers>=5") + "print('train')\n")
    (tmp_path / "evaluate.py").write_text(block.format("scikit-learn") + "print('eval')\n")
    done = subprocess.run([sys.executable, "-c", reader], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["pandas", "scikit-learn", "transformers>=5"]
    # The scripts the bot writes open with such a block (bounded versions, a CPU torch index): the reader
    # finds their dependencies and not the uv index settings.
    from bot.writing import codegen
    from tests.scripts import make_plan

    files = codegen.render_pr_files(make_plan("data.csv", ["a", "b"]), examples=[])
    for name in ("train.py", "evaluate.py"):
        (tmp_path / name).write_text(files[name])
    done = subprocess.run([sys.executable, "-c", reader], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    found = done.stdout.split()
    assert any(d.startswith("torch>=") and "<" in d for d in found)
    assert any(d.startswith("transformers>=") and "<" in d for d in found)
    assert not any("pytorch-cpu" in d or "download.pytorch.org" in d for d in found)


def test_ci_runs_the_same_command_as_the_readme():
    [job] = load(ROOT / ".github" / "workflows" / "ci.yml")["jobs"].values()
    assert any(step.get("run") == "make test" for step in job["steps"])
    ci_run = ROOT / ".ci" / "run"
    assert ci_run.stat().st_mode & 0o111, ".ci/run must be executable"
    lines = ci_run.read_text().splitlines()
    assert lines[0] == "#!/usr/bin/env bash" and "set -euo pipefail" in lines and lines[-1] == "make test"


def test_action_is_composite_and_passes_secrets_only_through_env():
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    assert action["inputs"]["python-version"]["default"] == "3.11"
    handle = next(s for s in action["runs"]["steps"] if "handle-event" in s.get("run", ""))
    assert handle["run"].strip() == "ml-intern-bot handle-event"
    assert handle["env"] == {
        "GITHUB_TOKEN": "${{ inputs.github-token }}",
        "HF_TOKEN": "${{ inputs.hf-token }}",
        "ANTHROPIC_API_KEY": "${{ inputs.anthropic-api-key }}",
        "ML_INTERN_BOT_LOGIN": "${{ inputs.bot-login }}",
    }
    assert action["inputs"]["bot-login"]["default"] == "github-actions[bot]"
    install = next(s for s in action["runs"]["steps"] if "pip install" in s.get("run", ""))
    assert "torch==2.13.0" in install["run"] and '"$ACTION_PATH"' in install["run"]
