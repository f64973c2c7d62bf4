"""The metrics.json contract (bot/core/records.py, docs/ARTIFACTS.md) checked against the real evaluate.py."""

import copy
import json

import pytest

from bot.core.records import MetricsError, checked_metrics


def test_the_real_evaluate_py_output_keeps_the_contract(ensemble_out):
    metrics = json.loads((ensemble_out / "metrics.json").read_text())
    assert checked_metrics(metrics) is metrics
    assert metrics["shipped"] in ("finetuned", "ensemble") and metrics[metrics["shipped"]]["accuracy"] is not None


def test_a_metrics_json_that_drifts_from_the_contract_is_refused_naming_the_field(ensemble_metrics):
    broken = copy.deepcopy(ensemble_metrics)
    del broken["finetuned"]["macro_f1"]
    broken["shipped"] = "svm"
    with pytest.raises(MetricsError) as refused:
        checked_metrics(broken)
    assert "finetuned.macro_f1" in str(refused.value) and "shipped" in str(refused.value)
