"""`ml-intern-bot demo --runner hf-jobs` as a user runs it: its own process, offline, the local Hub as the Hub.

Training runs as an HF Job on the local Hub (the real huggingface_hub client submits, follows, fetches),
publishing goes through HfApi, and afterwards `ml-intern-bot hub --root WORKDIR/hub` serves the model so
that `snapshot_download` and `transformers.pipeline` work, as the README promises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.playground.serving import free_port


def demo_env(data_dir: Path) -> dict[str, str]:
    """A user's shell: no offline flag, no HF_HOME of the tests (the demo lays out its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    return {**env, "ML_INTERN_DATA_DIR": str(data_dir), "GRADIO_ANALYTICS_ENABLED": "False"}


@pytest.fixture
def small_bitext(tmp_path, bitext_sample) -> Path:
    """30 rows per class: the demo's whole story, trained in seconds."""
    import pandas as pd

    path = tmp_path / "data" / "tickets.csv"
    path.parent.mkdir()
    pd.read_csv(bitext_sample).groupby("category").head(30).to_csv(path, index=False)
    return path


def test_the_hf_jobs_demo_trains_on_the_local_hub_and_its_model_is_served_afterwards(tmp_path, small_bitext):
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "bot.cli", "demo", "--runner", "hf-jobs", "--dataset",
                           str(small_bitext), "--workdir", str(tmp_path / "demo"), "--goal",
                           "Label customer support tickets by issue type."],
                          env=demo_env(small_bitext.parent), capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["runner"] == "hf-jobs" and summary["cost_usd"] > 0 and summary["accuracy"] > 0.5
    assert {"finetuned_accuracy", "baseline_accuracy", "train_seconds", "coverage", "ood_refusal_rate"} <= set(summary)
    assert "Training: step" in done.stdout and "Hugging Face Jobs" in done.stdout
    print(f"\nhf-jobs demo: {time.monotonic() - started:.0f} s, accuracy {summary['accuracy']:.3f}, "
          f"cost ${summary['cost_usd']:.6f}, probe -> {summary['probe']}")

    port = free_port()
    hub = subprocess.Popen([sys.executable, "-m", "bot.cli", "hub", "--root", str(tmp_path / "demo" / "hub"),
                            "--port", str(port)], env=demo_env(small_bitext.parent), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not _answers(f"{endpoint}/api/models/{summary['model']}"):
            assert time.monotonic() < deadline and hub.poll() is None, "the reopened Hub never answered"
            time.sleep(0.2)
        probe = subprocess.run([sys.executable, "-c", PIPELINE, endpoint, summary["model"], str(tmp_path / "dl")],
                               env=demo_env(small_bitext.parent), capture_output=True, text=True, timeout=300)
    finally:
        hub.terminate()
        hub.wait(timeout=30)
    assert probe.returncode == 0, probe.stderr[-3000:]
    label, score = json.loads(probe.stdout.strip().splitlines()[-1])
    assert label and 0 < score <= 1  # the transformer alone (the Space may serve the ensemble)


PIPELINE = """
import json, sys
from huggingface_hub import snapshot_download
from transformers import pipeline
endpoint, model, dest = sys.argv[1:]
folder = snapshot_download(model, endpoint=endpoint, local_dir=dest)
top = pipeline("text-classification", model=folder)("I want a refund for my last order")[0]
print(json.dumps([top["label"], top["score"]]))
"""


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
