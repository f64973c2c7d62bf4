"""The repository's own .github/workflows/train.yml runs on the forge's runner, unchanged.

The forge repository holds the real train.yml and an issue folder with tiny train.py/evaluate.py
stand-ins (no ML: they write a file each), dispatched with the inputs the bot gives. pip runs with
PIP_NO_INDEX, so its install steps only confirm that the pinned packages are already here.
"""

from __future__ import annotations

import importlib.metadata
import io
import re
import zipfile

import pytest
import requests
import yaml

from bot.playground.world import TRAIN_YML
from tests.forge.actions_helpers import actions_repo

TRAIN_PY = """# /// script
# requires-python = ">=3.11"
# dependencies = ["pyyaml"]
# ///
import argparse, pathlib, yaml
parser = argparse.ArgumentParser()
parser.add_argument("--config")
parser.add_argument("--output")
args = parser.parse_args()
config = yaml.safe_load(open(args.config))
out = pathlib.Path(args.output)
out.mkdir(exist_ok=True)
(out / "model.txt").write_text(f"trained {config['label']}\\n")
print("trained", config["label"])
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
(out / "metrics.json").write_text(json.dumps({"macro_f1": 0.5}))
print("evaluated", (out / "model.txt").read_text().strip())
"""


def _torch_pin() -> str:
    return re.search(r"torch==([\w.]+)", TRAIN_YML.read_text()).group(1)


def _dispatch(forge, gh, inputs: dict) -> tuple:
    forge.actions.extra_env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    name = actions_repo(forge, "trainer", {
        ".github/workflows/train.yml": TRAIN_YML.read_text(), "ml/issue-7/train.py": TRAIN_PY,
        "ml/issue-7/evaluate.py": EVALUATE_PY, "ml/issue-7/config.yaml": "label: intent\n"})
    repo = gh("ml-intern[bot]").get_repo(name)
    sha = repo.get_branch("main").commit.sha
    inputs = {k: v.replace("<sha>", sha) for k, v in inputs.items()}
    run = repo.get_workflow("train.yml").create_dispatch("main", inputs, return_run_details=True)
    assert forge.actions.wait(run.id, timeout=60)
    return repo, repo.get_workflow_run(run.id), sha


def test_train_yml_runs_and_uploads_the_outputs(forge, gh, tokens):
    try:
        installed = importlib.metadata.version("torch").split("+")[0]
    except importlib.metadata.PackageNotFoundError:
        installed = "none"
    if installed != _torch_pin():
        pytest.skip(f"train.yml pins torch {_torch_pin()}, this environment has {installed}")
    _, run, sha = _dispatch(forge, gh, {"issue": "7", "sha": "<sha>", "directory": "ml/issue-7"})
    job = next(iter(run.jobs()))
    log = requests.get(job.logs_url(), timeout=10).text
    assert (run.conclusion, job.conclusion) == ("success", "success"), log[-3000:]
    # The run's title is train.yml's `run-name` as YAML reads it (today "train issue": an unquoted ` #` starts
    # a YAML comment, on GitHub too), with the expressions filled in.
    run_name = yaml.safe_load(TRAIN_YML.read_text())["run-name"]
    assert run.display_title == run_name.replace("${{ inputs.issue }}", "7").replace("${{ inputs.sha }}", sha)
    assert [s.name for s in job.steps][1:-1] == [
        "Refuse anything but a full commit SHA", "Check out the approved commit", "Set up Python",
        "Install the scripts' dependencies (PEP 723 blocks; CPU torch)", "Train", "Evaluate",
        "Upload the run's outputs"]
    assert "trained intent" in log and "evaluated trained intent" in log
    assert f"HEAD is now at {sha[:7]}" in log
    (artifact,) = run.get_artifacts()
    assert artifact.name == f"ml-intern-issue-7-{sha}"
    data = requests.get(artifact.archive_download_url, timeout=10,
                        headers={"Authorization": f"token {tokens['ml-intern[bot]']}"}).content
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == ["metrics.json", "model.txt"]
        assert zf.read("model.txt") == b"trained intent\n"


def test_train_yml_refuses_a_short_sha_and_still_runs_the_upload_step(forge, gh):
    _, run, _ = _dispatch(forge, gh, {"issue": "7", "sha": "abc123", "directory": "ml/issue-7"})
    job = next(iter(run.jobs()))
    assert (run.conclusion, job.conclusion) == ("failure", "failure")
    conclusions = [s.conclusion for s in job.steps][1:-1]
    assert conclusions == ["failure", "skipped", "skipped", "skipped", "skipped", "skipped", "success"]
    log = requests.get(job.logs_url(), timeout=10).text
    assert "##[error]sha must be a full 40-hex commit SHA" in log
    assert "##[warning]No files were found with the provided path: ml/issue-7/out/" in log
    assert list(run.get_artifacts()) == []
