"""The bot's smoke test: the real rendered scripts on a tiny sample, and how failures read."""

from __future__ import annotations

import json
import os

import pytest

from bot.writing import codegen
from bot.writing.smoke import smoke_test, write_files

from . import make_plan, offline_hf_home, script_env, write_bitext_sample


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    return script_env(offline_hf_home(tmp_path_factory.mktemp("hf")))


def test_rendered_scripts_pass_the_smoke_test_quickly(tmp_path, env):
    labels = write_bitext_sample(tmp_path / "data" / "sample.csv", rows=300)
    plan = make_plan(str(tmp_path / "data" / "sample.csv"), labels, smoke_rows=200, batch_size=32, max_length=64)
    result = smoke_test(codegen.render_pr_files(plan, examples=[]), tmp_path / "work", env=env)
    assert result.ok, result.log_tail
    assert result.summary.startswith("smoke test passed")
    assert result.seconds < 90  # typically ~20-35 s on 2 cores; the budget a PR waits on
    metrics = json.loads((tmp_path / "work" / "out" / "metrics.json").read_text())
    assert metrics["smoke"] is True and metrics["verdict"].startswith("Smoke run")
    train = metrics["train"]
    # smoke_rows caps the fine-tune's rows only; the TF-IDF model and splits/train.csv keep the whole split
    assert 150 <= train["finetune_train_rows"] <= 200 < train["train_rows"] == metrics["rows"]["train"]
    assert f"trained on {train['finetune_train_rows']} rows" in result.summary  # the rows the fine-tune saw
    # the same code path as a real run: one decision, calibrated, with abstention and intervals
    assert metrics["shipped"] == train["decision"]["shipped"] and train["finetune_temperature"] > 0
    shipped = metrics[metrics["shipped"]]
    assert shipped["abstain"]["coverage"] > 0.8 and 0 <= shipped["abstain"]["ood_refusal_rate"] <= 1
    assert shipped["interval"]["accuracy"][0] <= shipped["accuracy"] <= shipped["interval"]["accuracy"][1]


def test_a_failing_script_yields_a_readable_summary(tmp_path, env):
    plan = make_plan("missing/file.csv", ["a", "b"])
    result = smoke_test(codegen.render_pr_files(plan, examples=[]), tmp_path, env=env, timeout_s=120)
    assert not result.ok
    assert result.summary.startswith("smoke test failed") and "missing/file.csv" in result.summary
    assert '"event": "error"' in result.log_tail


def test_smoke_scrubs_secrets_and_times_out(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_should_not_leak")
    files = {"config.yaml": "x: 1\n",
             "train.py": "import os, time\nprint(os.environ.get('HF_TOKEN', 'no-token'), flush=True)\ntime.sleep(60)\n",
             "evaluate.py": "\n"}
    result = smoke_test(files, tmp_path, timeout_s=2, env=dict(os.environ))
    assert not result.ok and "timed out" in result.summary
    assert "no-token" in result.log_tail and "hf_should_not_leak" not in result.log_tail


def test_files_cannot_escape_the_workdir(tmp_path):
    with pytest.raises(ValueError):
        write_files({"../evil.py": "x"}, tmp_path / "src")
