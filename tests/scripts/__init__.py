"""Helpers shared by the generated-script tests: offline model cache, data sample, plan, env."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pandas as pd

from bot.planner.schema import Plan
from runners.base import scrub_env

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
BITEXT = DATA / "bitext" / "bitext.csv"


def offline_hf_home(hf_home: Path) -> Path:
    """A Hub cache holding all-MiniLM-L6-v2 (contract: "Offline model")."""
    from bot.research.models import ensure_offline_model

    ensure_offline_model(hf_home)
    return hf_home


def write_bitext_sample(path: Path, rows: int = 300, seed: int = 0) -> list[str]:
    """Write a stratified Bitext sample (instruction, category) to path; return its labels."""
    frame = pd.read_csv(BITEXT, usecols=["instruction", "category"])
    per_class = -(-rows // frame["category"].nunique())
    sample = frame.sample(frac=1.0, random_state=seed).groupby("category").head(per_class).head(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    sample.to_csv(path, index=False)
    return sorted(sample["category"].unique())


def make_plan(dataset: str, labels: list[str], **overrides) -> Plan:
    """A small, fast plan for MiniLM on the Bitext sample."""
    values = {"goal": "route support tickets by category", "dataset": dataset, "text_column": "instruction",
              "label_column": "category", "labels": labels, "epochs": 2, "batch_size": 16, "max_length": 48,
              "learning_rate": 1e-4, "smoke_rows": 120, "time_budget_minutes": 10}
    values.update(overrides)
    return Plan(**values)


def script_env(hf_home: Path) -> dict[str, str]:
    """Environment for running generated scripts offline, without any credential."""
    env = scrub_env(os.environ)
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    return env


def load_script(path: Path, name: str):
    """Import a rendered script as a module (its main() is guarded by __name__)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
