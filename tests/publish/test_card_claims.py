"""What the model card claims about the shipped predictor: what ships and why, each comparison with its
interval and test, abstention on off-topic text, and never a word that contradicts what ships.

Rendered from the session's real run as shipped with each predictor (conftest.py), mostly the TF-IDF
baseline: its card must say plainly that `pipeline()` loads another model.
"""

from __future__ import annotations

import json
import re
import shutil

from huggingface_hub import ModelCard

from bot.writing.artifacts import SHIPPED_TITLES
from bot.writing.publish import pick_examples, render_model_card
from tests.publish.test_card import REPO_ID, _ci, _model_row, _pct, _robustness, _words


def _signed(points: float) -> str:
    rounded = round(points, 1)
    return "±0.0" if rounded == 0 else f"{'+' if rounded > 0 else '−'}{abs(rounded):.1f}"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _significance(row: dict) -> str:
    return "significant" if row["significant"] else "not significant"


def test_baseline_card_says_what_ships_and_that_pipeline_loads_another_model(
    baseline_plan, baseline_metrics, baseline_out
):
    """When the TF-IDF model ships alone, the card headlines it, and says the transformer is not it."""
    base, fine = baseline_metrics["baseline"], baseline_metrics["finetuned"]
    examples = pick_examples(baseline_out, baseline_plan.labels)
    card = ModelCard(render_model_card(baseline_plan, baseline_metrics, REPO_ID, None, examples, baseline_out))
    body, words = card.text, _words(card.text)

    # The model-index is what pipeline() loads: the fine-tune, never the baseline's numbers.
    assert [(r.metric_name, r.metric_value) for r in card.data.eval_results] == [
        ("Accuracy", fine["accuracy"]),
        ("Macro F1", fine["macro_f1"]),
    ]
    intro = words.split("## Intended use")[0]
    assert "The shipped predictor is a **TF-IDF + LinearSVC model** (`tfidf/` in this repository)" in intro
    assert "which is what `pipeline()` and the Hub widget load: it is not the shipped predictor" in intro
    assert (
        f"**Result** (TF-IDF + LinearSVC baseline). Test accuracy {base['accuracy']:.3f} "
        f"(95 % CI {_ci(base['interval']['accuracy'])}), macro-F1 {base['macro_f1']:.3f} "
        f"(95 % CI {_ci(base['interval']['macro_f1'])}), on {baseline_metrics['rows']['test']} test texts" in intro
    )
    assert f"**Why this model ships.** {baseline_metrics['decision']['reason']}" in intro
    how_to_use = _words(body.split("## How to use")[1].split("## Training data")[0])
    assert "`tfidf.json` records `finetuned_weight` 0.0, so the fine-tuned transformer plays no part" in how_to_use
    assert "from app import predict" in how_to_use and "The Gradio demo Space serves this baseline" in how_to_use
    assert "pip install huggingface_hub scikit-learn safetensors numpy" in how_to_use  # no torch to serve TF-IDF
    assert "`pipeline()` and the Hub widget load the fine-tuned transformer, **which is not the shipped predictor**" in (
        how_to_use
    )
    evaluation = body.split("## Evaluation")[1].split("### Ship decision")[0]
    rows = [line for line in evaluation.splitlines() if line.startswith("| ") and "(shipped)" in line]
    assert rows == [_model_row(baseline_metrics, "baseline") + f" {base['ece']:.3f} |"]
    assert "ensemble" not in how_to_use  # nothing says an ensemble is served
    for label, row in base["per_class"].items():
        assert f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} |" in body
    assert "`pipeline()` is not the shipped model" in body


def test_card_states_the_decision_and_every_test_comparison_with_its_interval(baseline_plan, baseline_metrics):
    body = ModelCard(render_model_card(baseline_plan, baseline_metrics, REPO_ID)).text
    section = _words(body.split("### Ship decision")[1].split("### Per-class results")[0])
    decision = baseline_metrics["decision"]

    assert decision["reason"] in section
    assert "Candidates, cheapest first: TF-IDF + LinearSVC baseline, fine-tuned transformer, fine-tuned" in section
    assert "exact two-sided McNemar test on the paired validation predictions, alpha 0.05" in section
    for row in decision["comparisons"]:
        assert (
            f"- On validation, {SHIPPED_TITLES[row['costlier']]} vs {SHIPPED_TITLES[row['cheaper']]}: "
            f"{_signed(row['val_gain_points'])} pts of validation accuracy, McNemar {_p(row['p_value'])}: "
            f"{_significance(row)}." in section
        )
    assert {row["other"] for row in baseline_metrics["comparisons"]} == {"finetuned", "ensemble"}
    for row in baseline_metrics["comparisons"]:
        low, high = row["interval"]
        assert (
            f"- TF-IDF + LinearSVC baseline − {SHIPPED_TITLES[row['other']]}: {_signed(row['diff_points'])} pts of "
            f"accuracy (95 % CI {_signed(low)} to {_signed(high)}), McNemar {_p(row['p_value'])}: "
            f"{_significance(row)}." in section
        )


def test_cards_of_each_shipped_model_never_contradict_what_ships(
    baseline_plan, baseline_metrics, ensemble_metrics, alone_metrics
):
    """One predictor ships: the headline, the table's `(shipped)` row and every "ships" sentence name it."""
    for metrics in (baseline_metrics, ensemble_metrics, alone_metrics):
        title = SHIPPED_TITLES[metrics["shipped"]]
        words = _words(ModelCard(render_model_card(baseline_plan, metrics, REPO_ID)).text)

        assert f"**Result** ({title})." in words
        assert re.findall(r"\*\*([^*]+) \(shipped\)\*\*", words) == [title]
        assert f"| shipped | {title} (see [Ship decision]" in words
        for other in set(SHIPPED_TITLES.values()) - {title}:
            assert f"the {other} ships" not in words.replace("The ", "the ")
            assert f"Space serves the {other}" not in words


def test_every_difference_the_card_states_carries_its_interval_or_test(
    baseline_plan, baseline_metrics, ensemble_metrics, alone_metrics
):
    """No gain is claimed without its interval and test: a line giving a difference in points names both."""
    for metrics in (baseline_metrics, ensemble_metrics, alone_metrics):
        body = ModelCard(render_model_card(baseline_plan, metrics, REPO_ID)).text
        for line in body.splitlines():
            if re.search(r"[+−-]\d+\.\d+ (pts|points)\b(?! \|)", line):  # a stress table's change is no comparison
                assert "McNemar" in line, line
            if re.search(r"[+−-]\d+\.\d pts of accuracy", line):  # a test-set difference: with its interval
                assert "(95 % CI " in line, line
        assert not re.search(r"\b(gains?|beats?|outperforms?)\b", body)


def test_baseline_card_sets_case_tests_apart_because_tfidf_lower_cases(tmp_path, baseline_plan, baseline_metrics, baseline_out):
    """The TF-IDF model lower-cases whatever the transformer's tokenizer does: its case tests cannot fail."""
    out = tmp_path / "out"
    shutil.copytree(baseline_out / "splits", out / "splits")
    shutil.copytree(baseline_out / "model" / "tfidf", out / "model" / "tfidf")
    tokenizer = json.loads((baseline_out / "model" / "tokenizer.json").read_text())
    tokenizer["normalizer"]["lowercase"] = False  # a cased transformer: irrelevant, it is not what ships
    (out / "model" / "tokenizer.json").write_text(json.dumps(tokenizer))

    words = _words(_robustness(ModelCard(render_model_card(baseline_plan, baseline_metrics, REPO_ID, None, [], out)).text))
    assert "Not a robustness result: the `lowercase` and `uppercase` tests. The TF-IDF model lower-cases every input" in words
    assert "| lowercase |" not in words


def test_card_reports_abstention_on_off_topic_text_and_the_coverage_it_keeps(baseline_plan, baseline_metrics):
    body = ModelCard(render_model_card(baseline_plan, baseline_metrics, REPO_ID)).text
    section = body.split("### Calibration and abstention")[1].split("### Robustness")[0]
    abstain, ood = baseline_metrics["baseline"]["abstain"], baseline_metrics["out_of_domain"]

    assert f"The abstain threshold on the top probability is {abstain['threshold']:.3f}" in _words(section)
    assert f"on {ood['calibration_rows']} off-topic sentences ({ood['source']})" in _words(section)
    assert f"| coverage target (validation) | {_pct(abstain['coverage_target'])} |" in section
    assert f"| test texts answered (coverage) | {_pct(abstain['coverage'])} |" in section
    assert f"| accuracy on the answered test texts (selective accuracy) | {_pct(abstain['accuracy'])} |" in section
    assert (
        f"| held-out off-topic sentences refused | {_pct(abstain['ood_refusal_rate'])} of {abstain['ood_rows']} |"
        in section
    )
    temperature = baseline_metrics["train"]["finetune_temperature"]
    assert f"temperature-scaled (T = {temperature:.2f}, fitted on validation" in _words(section)
    limitations = _words(body.split("## Limitations and risks")[1])
    assert f"the abstain threshold refused {_pct(abstain['ood_refusal_rate'])} of held-out off-topic sentences" in (
        limitations
    )


def test_card_says_how_many_rows_the_fine_tune_trained_on(baseline_plan, baseline_metrics):
    """The plan's row cap applies to the fine-tune only; the TF-IDF model trains on the whole train split."""
    train, rows = baseline_metrics["train"], baseline_metrics["rows"]
    assert train["finetune_train_rows"] < rows["train"]
    words = _words(ModelCard(render_model_card(baseline_plan, baseline_metrics, REPO_ID)).text)

    assert f"Rows in each split: train {rows['train']}, validation {rows['validation']}, test {rows['test']}." in words
    assert (
        f"The fine-tuned transformer trained on {train['finetune_train_rows']} of the {rows['train']} training rows "
        f"(the plan's `max_train_rows` cap of {baseline_plan.max_train_rows}" in words
    )
    assert "the TF-IDF + LinearSVC model trained on all of them" in words
