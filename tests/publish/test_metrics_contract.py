"""The metrics.json contract (bot/core/records.py, docs/ARTIFACTS.md) checked against the real evaluate.py."""

import copy
import json

import pytest

from bot.core.records import MetricsError, checked_metrics

MODELS = ("baseline", "finetuned", "ensemble")


@pytest.fixture(scope="module")
def real_metrics(real_run) -> dict:
    """metrics.json of the session's real run, whatever its decision shipped."""
    return json.loads((real_run.out / "metrics.json").read_text())


def test_the_real_evaluate_py_output_keeps_the_contract(real_metrics):
    m = real_metrics
    assert checked_metrics(m) is m
    assert m["shipped"] == m["decision"]["shipped"] in MODELS and m[m["shipped"]]["accuracy"] is not None
    weight = m["decision"]["finetuned_weight"]
    assert (m["ensemble"] is not None) == (weight is not None and weight < 1.0)
    for key in (k for k in MODELS if m[k]):
        assert set(m[key]["interval"]) == {"accuracy", "macro_f1", "level", "method"}
        assert {"threshold", "coverage", "accuracy", "coverage_target", "ood_refusal_rate",
                "ood_rows"} <= set(m[key]["abstain"])
    assert all(set(c) == {"shipped", "other", "diff_points", "interval", "p_value", "significant"}
               for c in m["comparisons"])
    assert set(m["out_of_domain"]) == {"calibration_rows", "held_out_rows", "source"}


@pytest.mark.parametrize("kind", MODELS)
def test_every_shippable_predictor_keeps_the_contract(shipped_runs, kind):
    """evaluate.py's metrics.json for a decision that ships each kind (conftest derives the two the real
    run did not choose) is one the bot reads."""
    m = json.loads((shipped_runs[kind] / "metrics.json").read_text())
    assert checked_metrics(m) is m and m["shipped"] == kind == m["decision"]["shipped"]
    assert m["verdict"].startswith(m["decision"]["reason"])  # built from the decision, never re-decided


def test_a_metrics_json_that_drifts_from_the_contract_is_refused_naming_the_field(real_metrics):
    broken = copy.deepcopy(real_metrics)
    del broken["finetuned"]["macro_f1"]
    broken["shipped"] = "svm"
    with pytest.raises(MetricsError) as refused:
        checked_metrics(broken)
    assert "finetuned.macro_f1" in str(refused.value) and "shipped" in str(refused.value)
