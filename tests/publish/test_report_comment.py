"""The training report comment, rendered by the phase machine from the session run's metrics.json.

`ensemble_*`: the real run of the generated scripts; `alone_*`: derived from it as if the plan had said
`/plan ensemble=false`; `pre_ensemble_metrics`: the derived metrics without the keys the ensemble added
(conftest.py says how each is made).
"""

from __future__ import annotations

from bot.core import effects as fx
from bot.core.events import Facts
from bot.core.machine import step
from bot.core.state import IssueState, Phase
from bot.shell.executor import _run_summary

HEAD = "c" * 40


def _report(out, metrics) -> tuple[IssueState, str]:
    """The state and the report comment after a run of HEAD finished with these metrics."""
    state = IssueState(phase=Phase.TRAINING, approved_sha=HEAD, head_sha=HEAD, pr_number=2)
    job = {"backend": "local", "id": "j1", "url": "", "artifacts": "local job j1"}
    event = fx.Trained(HEAD, _run_summary(HEAD, job, 42.0, 0.0, metrics), metrics)
    state, effects = step(state, event, Facts(bot_login="ml-intern[bot]", permission="write", pr_head_sha=HEAD))
    (sticky,) = [e for e in effects if isinstance(e, fx.Sticky)]
    return state, sticky.body


def _headline_rows(body: str) -> list[str]:
    """The rows of the comment's first table (models by accuracy, macro-F1, ECE)."""
    table = body.split("| | Accuracy | Macro-F1 | ECE |\n|---|---|---|---|\n")[1].split("\n\n")[0]
    return table.splitlines()


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def test_report_headlines_the_shipped_ensemble_and_shows_the_transformer_beside_it(ensemble_out, ensemble_metrics):
    state, body = _report(ensemble_out, ensemble_metrics)
    ensemble, alone = ensemble_metrics["ensemble"], ensemble_metrics["finetuned"]

    headline, transformer, baseline = _headline_rows(body)
    assert headline.startswith("| **Shipped: fine-tuned transformer + TF-IDF ensemble**")
    assert f"**{_pct(ensemble['accuracy'])}**" in headline and f"**{ensemble['macro_f1']:.3f}**" in headline
    assert transformer.startswith("| Transformer alone (`pipeline()`")
    assert f"weight {ensemble['finetuned_weight']:.2f}" in transformer and _pct(alone["accuracy"]) in transformer
    assert baseline.startswith("| TF-IDF baseline") and _pct(ensemble_metrics["baseline"]["accuracy"]) in baseline
    assert f"**Abstain threshold** (chosen on validation): {ensemble['abstain']['threshold']:.2f}" in body
    assert "**Ensemble with TF-IDF:** shipped;" in body
    assert state.run.summary.shipped == "ensemble"
    assert state.run.summary.accuracy == ensemble["accuracy"]


def test_report_of_a_fine_tune_shipped_alone_headlines_it_and_says_why(alone_out, alone_metrics):
    state, body = _report(alone_out, alone_metrics)
    alone = alone_metrics["finetuned"]

    headline, baseline = _headline_rows(body)
    assert headline.startswith("| **Shipped: fine-tuned transformer** (`sentence-transformers/all-MiniLM-L6-v2`)")
    assert f"**{_pct(alone['accuracy'])}**" in headline
    assert baseline.startswith("| TF-IDF baseline")
    assert "**Ensemble with TF-IDF:** not shipped, turned off in the plan;" in body
    assert f"(chosen on validation): {alone['abstain']['threshold']:.2f}" in body
    assert state.run.summary.shipped == "finetuned"


def test_report_of_a_run_from_before_the_ensemble_headlines_the_fine_tune(
    alone_out, alone_metrics, pre_ensemble_metrics
):
    state, body = _report(alone_out, pre_ensemble_metrics)

    assert f"**{_pct(alone_metrics['finetuned']['accuracy'])}**" in _headline_rows(body)[0]
    assert "Ensemble with TF-IDF" not in body and "(fine-tune " not in body
    assert state.run.summary.shipped == "finetuned"
