"""The model card: model-index front matter that round-trips the run's metrics, and honest sections.

Every card is rendered from the session's real run of the generated scripts (conftest.py): the
`ensemble_*` fixtures are that run as evaluate.py left it; the `alone_*` ones are derived from it, the
same run as if the plan had said `/plan ensemble=false` (metrics.json edited, model/tfidf/ left out).
"""

from __future__ import annotations

from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from bot.planner.schema import Plan
from bot.writing.artifacts import shipped_eval
from bot.writing.publish import CARD_SECTIONS, pick_examples, render_model_card

REPO_ID = "ml-intern/bitext-ticket-category"
BITEXT_HUB_ID = "bitext/Bitext-customer-support-llm-chatbot-training-dataset"


def _metric(results, metric_type: str):
    """The one EvalResult of a metric type."""
    (found,) = [r for r in results if r.metric_type == metric_type]
    return found


def _named(results, metric_name: str):
    """The one EvalResult of a metric name."""
    (found,) = [r for r in results if r.metric_name == metric_name]
    return found


def _words(text: str) -> str:
    """Text with its line breaks and runs of spaces collapsed, to match sentences the card wraps."""
    return " ".join(text.split())


def test_card_model_index_round_trips_accuracy_and_macro_f1(alone_plan, alone_metrics, alone_out, inspection):
    examples = pick_examples(alone_out, alone_plan.labels)
    card = ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID, inspection, examples, alone_out))

    name, from_index = model_index_to_eval_results(card.data.to_dict()["model-index"])
    for results in (card.data.eval_results, from_index):
        accuracy, f1 = _metric(results, "accuracy"), _metric(results, "f1")
        assert accuracy.metric_value == shipped_eval(alone_metrics)["accuracy"]
        assert f1.metric_value == shipped_eval(alone_metrics)["macro_f1"]
        assert f1.metric_args == {"average": "macro"}
        assert accuracy.task_type == "text-classification"
        assert (accuracy.dataset_type, accuracy.dataset_split) == (BITEXT_HUB_ID, "test")
    assert name == "bitext-ticket-category"


def test_card_front_matter_declares_model_data_licence_and_widget(alone_plan, alone_metrics, alone_out):
    examples = pick_examples(alone_out, alone_plan.labels)
    data = ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID, None, examples, alone_out)).data

    assert data.base_model == "sentence-transformers/all-MiniLM-L6-v2"
    assert data.datasets == [BITEXT_HUB_ID]
    assert data.license == "cdla-sharing-1.0"  # the data's share-alike licence, not the base model's Apache-2.0
    assert data.pipeline_tag == "text-classification"
    assert data.language == "en"
    assert "ml-intern-bot" in data.tags
    widget = data.to_dict()["widget"]
    assert 1 <= len(widget) <= 5
    assert len({w["example_title"] for w in widget}) == len(widget)
    assert all(w["example_title"] in alone_plan.labels and w["text"] for w in widget)


def test_card_has_every_section_and_states_results_and_risks(alone_plan, alone_metrics, alone_out, inspection):
    examples = pick_examples(alone_out, alone_plan.labels)
    text = render_model_card(alone_plan, alone_metrics, REPO_ID, inspection, examples, alone_out)
    body = ModelCard(text).text

    for heading in CARD_SECTIONS:
        assert f"\n{heading}\n" in body, heading
    assert f'pipeline("text-classification", model="{REPO_ID}"' in body
    assert "![Confusion matrix on the test split](confusion_matrix.png)" in body
    for label, row in shipped_eval(alone_metrics)["per_class"].items():
        assert (
            f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} | {row['support']} |" in body
        )
    assert f"| TF-IDF + linear baseline | {alone_metrics['baseline']['accuracy']:.3f} |" in body
    assert f"{shipped_eval(alone_metrics)['abstain']['threshold']:.3f}" in body
    assert "| typos |" in body and "| truncation |" in body
    # Attribution and licence of the data, in words a reader can act on.
    assert "(c) Bitext Innovations" in body and "CDLA-Sharing-1.0" in body and "share-alike" in body
    # Findings of the planner's inspection of the sample reach the limitations section.
    assert inspection["placeholder_rows"] and inspection["exact_duplicates"] and inspection["leakage"]
    limitations = _words(body.split("## Limitations and risks")[1].split("## Licence")[0])
    assert "{{Order Number}}" in limitations
    assert f"{inspection['placeholder_rows']} rows of the source data contain template slots" in limitations
    assert f"**Exact duplicate rows:** {inspection['exact_duplicates']} in the source data" in limitations
    assert f"**Leakage check:** a random split would put {inspection['leakage']} test texts in training too." \
        in limitations


def test_card_for_local_data_without_licence_or_inspection_says_so(alone_metrics, alone_out):
    plan = Plan(
        goal="tickets",
        dataset="data/tickets.csv",
        text_column="text",
        label_column="category",
        labels=alone_metrics["labels"],
    )
    card = ModelCard(render_model_card(plan, alone_metrics, REPO_ID, None, [], alone_out))

    assert card.data.license == "other" and card.data.license_name == "unknown"
    assert card.data.datasets is None
    assert _metric(card.data.eval_results, "accuracy").dataset_type == "tickets.csv"
    assert "did not record the training data's licence" in card.text
    assert "rows of this run's splits contain" in card.text  # template slots counted in the run itself
    assert "widget" not in card.data.to_dict()


def test_untrusted_goal_cannot_rewrite_the_front_matter(alone_plan, alone_metrics):
    hostile = alone_plan.model_copy(update={"goal": "x\n---\nlicense: mit\n---\n| <script>alert(1)</script>"})
    card = ModelCard(render_model_card(hostile, alone_metrics, REPO_ID))

    assert card.data.license == "cdla-sharing-1.0"
    assert "<script>" not in card.text
    assert 'Goal stated in the issue: "x --- license: mit --- \\| &lt;script&gt;' in card.text


# --------------------------------------------------------------------------- a shipped ensemble


def test_ensemble_card_indexes_the_shipped_ensemble_and_names_the_transformer_apart(
    ensemble_plan, ensemble_metrics, ensemble_out
):
    ensemble, alone = ensemble_metrics["ensemble"], ensemble_metrics["finetuned"]
    assert ensemble["accuracy"] != alone["accuracy"], "the fixture must tell the two models apart"
    examples = pick_examples(ensemble_out, ensemble_plan.labels)
    card = ModelCard(render_model_card(ensemble_plan, ensemble_metrics, REPO_ID, None, examples, ensemble_out))

    _, from_index = model_index_to_eval_results(card.data.to_dict()["model-index"])
    for results in (card.data.eval_results, from_index):
        assert _named(results, "Accuracy").metric_value == ensemble["accuracy"]
        assert _named(results, "Macro F1").metric_value == ensemble["macro_f1"]
        assert _named(results, "Accuracy (transformer alone, pipeline())").metric_value == alone["accuracy"]
        transformer_f1 = _named(results, "Macro F1 (transformer alone, pipeline())")
        assert transformer_f1.metric_value == alone["macro_f1"]
        assert transformer_f1.metric_args == {"average": "macro"}
        assert results[0].metric_value == ensemble["accuracy"]  # the first entry a Hub page shows


def test_ensemble_card_says_pipeline_is_the_transformer_alone_and_how_to_run_the_ensemble(
    ensemble_plan, ensemble_metrics, ensemble_out
):
    ensemble, alone = ensemble_metrics["ensemble"], ensemble_metrics["finetuned"]
    weight = ensemble["finetuned_weight"]
    examples = pick_examples(ensemble_out, ensemble_plan.labels)
    body = ModelCard(render_model_card(ensemble_plan, ensemble_metrics, REPO_ID, None, examples, ensemble_out)).text
    words = _words(body)

    how_to_use = _words(body.split("## How to use")[1].split("## Training data")[0])
    assert (
        f"`pipeline()` loads the transformer alone, which scores test accuracy {alone['accuracy']:.3f} "
        f"against {ensemble['accuracy']:.3f} for the ensemble" in how_to_use
    )
    assert f"probabilities times {weight:.2f}" in how_to_use and f"times {1 - weight:.2f}" in how_to_use
    assert "`tfidf/` (`tfidf.json` + `tfidf.safetensors`" in how_to_use
    assert "from app import predict" in how_to_use
    assert f"**Result** (fine-tuned transformer + TF-IDF ensemble). Test accuracy {ensemble['accuracy']:.3f}" in words
    assert f"| averaged with TF-IDF + LinearSVC | shipped; fine-tune weight {weight:.2f}, chosen on validation" in body
    evaluation = body.split("## Evaluation")[1].split("### Per-class results")[0]
    assert (
        f"| **this model (fine-tuned transformer + TF-IDF ensemble)** | {ensemble['accuracy']:.3f} | "
        f"{ensemble['macro_f1']:.3f} |" in evaluation
    )
    assert f"| transformer alone (what `pipeline()` loads) | {alone['accuracy']:.3f} |" in evaluation
    assert f"| TF-IDF + linear baseline | {ensemble_metrics['baseline']['accuracy']:.3f} |" in evaluation
    for label, row in ensemble["per_class"].items():
        assert f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} |" in body
    assert f"With the abstain threshold {ensemble['abstain']['threshold']:.3f}" in words
    assert "`pipeline()` is not the shipped model" in body


def test_card_of_a_run_whose_plan_turned_the_ensemble_off_says_so(alone_plan, alone_metrics, alone_out):
    """The derived `/plan ensemble=false` run: averaging won on validation, but the plan kept it out."""
    body = ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID, None, [], alone_out)).text

    assert "| averaged with TF-IDF + LinearSVC | not shipped, turned off in the plan;" in body
    assert "transformer alone" not in body and "from app import predict" not in body
    assert "**Result** (fine-tuned transformer)." in body


def test_card_of_a_run_from_before_the_ensemble_headlines_the_fine_tune(
    alone_plan, alone_metrics, pre_ensemble_metrics
):
    """pre_ensemble_metrics: the derived run's metrics.json without the keys evaluate.py gained with the ensemble."""
    card = ModelCard(render_model_card(alone_plan, pre_ensemble_metrics, REPO_ID))

    assert [r.metric_value for r in card.data.eval_results] == [
        alone_metrics["finetuned"]["accuracy"],
        alone_metrics["finetuned"]["macro_f1"],
    ]
    assert "averaged with TF-IDF" not in card.text and "**Result** (fine-tuned transformer)." in card.text
