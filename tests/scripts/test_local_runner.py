"""LocalRunner with tiny fake scripts: secrets scrubbed, budgets enforced, failures reported."""

from __future__ import annotations

import json
import os
import textwrap
import threading
import time
from pathlib import Path

from runners.base import is_secret, scrub_env
from runners.local import LocalRunner

WRITE_METRICS = """
import json, sys, pathlib
out = pathlib.Path(sys.argv[sys.argv.index("--output") + 1])
(out / "metrics.json").write_text(json.dumps({"finetuned": {"macro_f1": 0.5}}))
print(json.dumps({"event": "evaluated"}))
"""


def scripts(folder: Path, train: str, evaluate: str = WRITE_METRICS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text("dataset: x\n")
    (folder / "train.py").write_text(textwrap.dedent(train))
    (folder / "evaluate.py").write_text(textwrap.dedent(evaluate))
    return folder


def test_scripts_never_see_credentials(tmp_path):
    src = scripts(tmp_path / "src", """
        import json, os
        print(json.dumps({"event": "env", "keys": sorted(os.environ)}))
    """)
    env = {"PATH": os.environ.get("PATH", ""), "GITHUB_TOKEN": "ghp_x", "HF_TOKEN": "hf_x", "GH_TOKEN": "x",
           "ANTHROPIC_API_KEY": "k", "GITHUB_WEBHOOK_SECRET": "s", "DEPLOY_KEY": "k", "DB_PASSWORD": "p",
           "SAFE_SETTING": "kept"}
    events = []
    result = LocalRunner().run(src, tmp_path / "out", budget_s=60, on_progress=events.append, env=env)
    assert result.ok and result.status == "succeeded"
    keys = next(e["keys"] for e in events if e["event"] == "env")
    assert "SAFE_SETTING" in keys and "PATH" in keys
    assert not {"GITHUB_TOKEN", "HF_TOKEN", "GH_TOKEN", "ANTHROPIC_API_KEY", "GITHUB_WEBHOOK_SECRET",
                "DEPLOY_KEY", "DB_PASSWORD"} & set(keys)
    assert [e["event"] for e in events] == ["env", "evaluated"]
    assert result.metrics == {"finetuned": {"macro_f1": 0.5}}


def test_default_environment_is_scrubbed_too(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret_value")
    src = scripts(tmp_path / "src", "import os; print(os.environ.get('GITHUB_TOKEN', 'absent'))\n")
    result = LocalRunner().run(src, tmp_path / "out", budget_s=60)
    assert "absent" in result.log_tail and "ghp_secret_value" not in result.log_tail


def test_secret_names():
    assert all(is_secret(n) for n in ["GITHUB_TOKEN", "hf_token", "MY_SECRET", "OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY"])
    assert not any(is_secret(n) for n in ["PATH", "HOME", "HF_HOME", "HF_HUB_OFFLINE", "KEYBOARD_LAYOUT"])
    assert scrub_env({"HF_HOME": "/h", "HF_TOKEN": "t"}) == {"HF_HOME": "/h"}


def test_budget_kills_the_whole_process_group(tmp_path):
    src = scripts(tmp_path / "src", """
        import json, subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        print(json.dumps({"event": "start", "child": child.pid}), flush=True)
        time.sleep(120)
    """)
    events = []
    started = time.monotonic()
    result = LocalRunner(grace_s=2).run(src, tmp_path / "out", budget_s=3, on_progress=events.append)
    assert result.status == "timed_out" and not result.ok and result.metrics is None
    assert time.monotonic() - started < 20
    assert "time budget" in result.log_tail
    child = events[0]["child"]
    time.sleep(0.5)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]


def test_failure_is_a_result_with_the_scripts_message(tmp_path):
    src = scripts(tmp_path / "src", """
        import json, sys
        for i in range(100):
            print(f"log line {i}")
        print(json.dumps({"event": "error", "message": "loss became NaN at step 3: lower learning_rate"}))
        sys.exit(1)
    """, evaluate="raise SystemExit('evaluate must not run')\n")
    result = LocalRunner().run(src, tmp_path / "out", budget_s=60)
    assert result.status == "failed" and not result.ok
    assert result.message == "loss became NaN at step 3: lower learning_rate"
    lines = result.log_tail.splitlines()
    assert len(lines) == 40 and lines[-1].startswith('{"event": "error"') and "log line 99" in lines[-2]
    assert "evaluate must not run" not in result.log_tail


def test_missing_scripts_and_broken_callbacks_do_not_raise(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert LocalRunner().run(empty, tmp_path / "out", budget_s=10).status == "failed"

    src = scripts(tmp_path / "src", "import json; print(json.dumps({'event': 'start'}))\n")

    def broken(event):
        raise RuntimeError("consumer bug")

    assert LocalRunner().run(src, tmp_path / "out2", budget_s=30, on_progress=broken).ok


def test_cancel_stops_a_running_job(tmp_path):
    src = scripts(tmp_path / "src", """
        import json, time
        print(json.dumps({"event": "start"}), flush=True)
        time.sleep(120)
    """)
    runner = LocalRunner(grace_s=2)
    results = []
    worker = threading.Thread(target=lambda: results.append(runner.run(src, tmp_path / "out", budget_s=120)))
    started = time.monotonic()
    worker.start()
    time.sleep(1.5)
    runner.cancel()
    worker.join(timeout=20)
    assert results and results[0].status == "cancelled" and time.monotonic() - started < 15


def test_output_dir_is_passed_and_cwd_is_the_source(tmp_path):
    src = scripts(tmp_path / "src", """
        import json, os, sys
        print(json.dumps({"event": "where", "cwd": os.getcwd(), "argv": sys.argv[1:]}))
    """)
    events = []
    LocalRunner(extra_args=["--smoke"]).run(src, tmp_path / "out", budget_s=30, on_progress=events.append)
    where = events[0]
    assert Path(where["cwd"]) == src.resolve()
    assert where["argv"] == ["--config", "config.yaml", "--output", str((tmp_path / "out").resolve()), "--smoke"]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())


TRAINED = """
import json, sys, pathlib
out = pathlib.Path(sys.argv[sys.argv.index("--output") + 1])
(out / "model").mkdir(parents=True, exist_ok=True)
(out / "train_metrics.json").write_text(json.dumps({"epochs_run": 3, "best_val_macro_f1": 0.91234,
                                                    "stopped_reason": "time_budget"}))
print(json.dumps({"event": "done", "stopped_reason": "time_budget"}), flush=True)
"""


def test_an_evaluation_killed_at_the_time_limit_still_reports_the_finished_training(tmp_path):
    src = scripts(tmp_path / "src", TRAINED, evaluate="""
        import json, time
        print(json.dumps({"event": "evaluate", "step": "fine-tuned"}), flush=True)
        time.sleep(120)
    """)
    result = LocalRunner(grace_s=2).run(src, tmp_path / "out", budget_s=4)
    assert result.status == "timed_out" and result.metrics is None
    assert result.message == ("train.py finished (3 epochs, stopped at the time budget, best validation macro-F1 "
                              "0.9123); evaluate.py ran out of time, so there is no test score (`/retry` trains and "
                              "evaluates again).")
    assert (tmp_path / "out" / "train_metrics.json").is_file() and (tmp_path / "out" / "model").is_dir()


def test_a_failed_evaluation_says_what_training_got_and_the_scripts_error(tmp_path):
    src = scripts(tmp_path / "src", TRAINED, evaluate="""
        import json, sys
        print(json.dumps({"event": "error", "message": "ValueError: no test rows"}))
        sys.exit(1)
    """)
    result = LocalRunner().run(src, tmp_path / "out", budget_s=60)
    assert result.status == "failed"
    assert result.message.startswith("train.py finished (3 epochs, stopped at the time budget, best validation "
                                     "macro-F1 0.9123); evaluate.py failed, so there is no test score")
    assert result.message.endswith(": ValueError: no test rows")
