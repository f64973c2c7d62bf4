"""The model card: model-index front matter that round-trips the run's metrics, and honest sections.

Every card is rendered from the session's real run of the generated scripts (conftest.py), as shipped
with each predictor: `baseline_*` (the TF-IDF model alone), `ensemble_*` and `alone_*` (the fine-tune
alone); metrics.json is always the rendered evaluate.py's own.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import model_index_to_eval_results

from bot.planner.schema import Plan
from bot.writing.artifacts import SHIPPED_TITLES, shipped_eval
from bot.writing.publish import CARD_SECTIONS, build_model_repo, pick_examples, render_model_card
from bot.writing.publish.card import LOADER_ONLY_KEYS
from bot.writing.publish.run import PLACEHOLDER

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


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def _words(text: str) -> str:
    """Text with its line breaks and runs of spaces collapsed, to match sentences the card wraps."""
    return " ".join(text.split())


def _ci(pair) -> str:
    return f"{pair[0]:.3f}–{pair[1]:.3f}"


_NOTES = {"finetuned": "what `pipeline()` loads", "baseline": "`tfidf/` alone", "ensemble": "weight {w:.2f}"}


def _model_row(metrics: dict, key: str) -> str:
    """The card's evaluation-table row of one model: its title, numbers and 95 % intervals."""
    block, title = metrics[key], SHIPPED_TITLES[key]
    name = f"**{title} (shipped)**" if metrics["shipped"] == key else title
    note = _NOTES[key].format(w=block.get("finetuned_weight") or 0.0)
    return (
        f"| {name} ({note}) | {block['accuracy']:.3f} | {_ci(block['interval']['accuracy'])} | "
        f"{block['macro_f1']:.3f} | {_ci(block['interval']['macro_f1'])} |"
    )


def test_card_model_index_round_trips_accuracy_and_macro_f1(alone_plan, alone_metrics, alone_out, inspection):
    examples = pick_examples(alone_out, alone_plan.labels)
    card = ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID, inspection, examples, alone_out))

    name, from_index = model_index_to_eval_results(card.data.to_dict()["model-index"])
    for results in (card.data.eval_results, from_index):
        assert len(results) == 2  # one entry per metric
        accuracy, f1 = _metric(results, "accuracy"), _metric(results, "f1")
        assert accuracy.metric_value == shipped_eval(alone_metrics)["accuracy"]
        assert f1.metric_value == shipped_eval(alone_metrics)["macro_f1"]
        assert f1.metric_args == {"average": "macro"}
        assert accuracy.task_type == "text-classification"
        # Bitext's Hub copy has only `train` (the inspection found no other split): the numbers come from
        # the share of it train.py held out, and the index says so instead of claiming a `test` split.
        assert inspection["splits"].keys() == {"train"} and alone_plan.test_split is None
        assert (accuracy.dataset_type, accuracy.dataset_split) == (BITEXT_HUB_ID, "train")
        assert accuracy.dataset_args["test_split"] == "held out by train.py"
        assert accuracy.dataset_args["seed"] == alone_plan.seed
        assert accuracy.dataset_args["test_size"] == alone_plan.test_size
        assert accuracy.dataset_args["test_rows"] == alone_metrics["rows"]["test"]
        assert f"held-out {alone_plan.test_size:.0%} of train, seed {alone_plan.seed}" in accuracy.dataset_name
    assert name == "bitext-ticket-category"
    evaluation = _words(card.text.split("## Evaluation")[1].split("|")[0])
    assert f"On a held-out stratified {alone_plan.test_size:.0%} of the `train` split, made by train.py" in evaluation
    assert f"(seed {alone_plan.seed}): {alone_metrics['rows']['test']} rows" in evaluation


def test_card_model_index_names_an_official_test_split(alone_plan, alone_metrics, alone_out):
    """A plan that keeps the data set's own `test` split (as for BANKING77) evaluates on that split."""
    plan = alone_plan.model_copy(update={"test_split": "test"})
    card = ModelCard(
        render_model_card(plan, alone_metrics, REPO_ID, {"splits": {"train": 1, "test": 1}}, [], alone_out)
    )

    for result in card.data.eval_results:
        assert result.dataset_split == "test"
        assert result.dataset_args["test_split"] == "official"
        assert "official test split" in result.dataset_name
    assert "On the data set's official `test` split, de-duplicated by normalised text" in _words(card.text)


def test_card_model_index_of_pooled_splits_names_them_all(alone_plan, alone_metrics):
    """Without `test_split`, train.py pools every split the source has before holding out its test share."""
    card = ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID, {"splits": {"train": 8, "test": 2}}))

    assert {r.dataset_split for r in card.data.eval_results} == {"train+test"}
    assert "of all splits of the source pooled (`train+test`)" in _words(card.text)


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
    for key in ("finetuned", "baseline", "ensemble"):
        assert _model_row(alone_metrics, key) in body, key
    assert f"{shipped_eval(alone_metrics)['abstain']['threshold']:.3f}" in body
    assert "| typos |" in body and "| truncation |" in body
    assert "## Intended use\n" in body.split("### Classes")[0]  # what the classes mean comes with the intended use
    # Attribution and licence of the data, in words a reader can act on.
    assert "(c) Bitext Innovations" in body and "CDLA-Sharing-1.0" in body and "share-alike" in body
    # Findings of the planner's inspection of the sample reach the limitations section.
    assert inspection["placeholder_rows"] and inspection["exact_duplicates"] and inspection["leakage"]
    limitations = _words(body.split("## Limitations and risks")[1].split("## Licence")[0])
    assert "{{Order Number}}" in limitations
    assert f"{inspection['placeholder_rows']} rows of the source data contain template slots" in limitations
    assert f"**Exact duplicate rows:** {inspection['exact_duplicates']} in the source data" in limitations
    assert (
        f"**Leakage check:** a random split would put {inspection['leakage']} test texts in training too."
        in limitations
    )


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


# --------------------------------------------------------------------------- what ships, and what pipeline() loads


def test_ensemble_card_indexes_only_the_transformer_that_pipeline_loads(ensemble_plan, ensemble_metrics, ensemble_out):
    """The repo's files are the transformer; the ensemble needs the Space's code, so its numbers stay in the text."""
    alone = ensemble_metrics["finetuned"]
    examples = pick_examples(ensemble_out, ensemble_plan.labels)
    card = ModelCard(render_model_card(ensemble_plan, ensemble_metrics, REPO_ID, None, examples, ensemble_out))

    _, from_index = model_index_to_eval_results(card.data.to_dict()["model-index"])
    for results in (card.data.eval_results, from_index):
        assert [(r.metric_name, r.metric_value) for r in results] == [
            ("Accuracy", alone["accuracy"]),
            ("Macro F1", alone["macro_f1"]),
        ]
        assert _named(results, "Macro F1").metric_args == {"average": "macro"}
    words = _words(card.text)
    assert "The model-index in this card's metadata lists the fine-tuned transformer alone" in words
    assert "which is not the shipped predictor; the fine-tuned transformer + TF-IDF ensemble the demo Space serves" in words
    assert "The Gradio demo Space serves this ensemble" in words


def test_ensemble_card_says_pipeline_is_the_transformer_alone_and_how_to_run_the_ensemble(
    ensemble_plan, ensemble_metrics, ensemble_out
):
    ensemble, alone = ensemble_metrics["ensemble"], ensemble_metrics["finetuned"]
    weight = ensemble["finetuned_weight"]
    assert 0 < weight < 1
    examples = pick_examples(ensemble_out, ensemble_plan.labels)
    body = ModelCard(render_model_card(ensemble_plan, ensemble_metrics, REPO_ID, None, examples, ensemble_out)).text
    words = _words(body)

    how_to_use = _words(body.split("## How to use")[1].split("## Training data")[0])
    assert (
        "`pipeline()` and the Hub widget load the fine-tuned transformer, which is not the shipped predictor: it "
        f"scores test accuracy {alone['accuracy']:.3f} against {ensemble['accuracy']:.3f} for the fine-tuned "
        "transformer + TF-IDF ensemble" in how_to_use.replace("**", "")
    )
    assert f"probabilities times {weight:.2f}" in how_to_use and f"times {1 - weight:.2f}" in how_to_use
    assert "`tfidf/` (`tfidf.json` + `tfidf.safetensors`" in how_to_use
    assert "from app import predict" in how_to_use
    assert (
        f"**Result** (fine-tuned transformer + TF-IDF ensemble). Test accuracy {ensemble['accuracy']:.3f} "
        f"(95 % CI {_ci(ensemble['interval']['accuracy'])})" in words
    )
    evaluation = body.split("## Evaluation")[1].split("### Per-class results")[0]
    for key in ("ensemble", "finetuned", "baseline"):
        assert _model_row(ensemble_metrics, key) in evaluation, key
    for label, row in ensemble["per_class"].items():
        assert f"| {label} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} |" in body
    assert f"The abstain threshold on the top probability is {ensemble['abstain']['threshold']:.3f}" in words
    assert "`pipeline()` is not the shipped model" in body


def test_card_of_a_fine_tune_shipped_alone_says_pipeline_is_the_shipped_model(alone_plan, alone_metrics, alone_out):
    body = ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID, None, [], alone_out)).text

    assert "**Result** (fine-tuned transformer)." in body
    assert "`pipeline()` is not the shipped model" not in body and "from app import predict" not in body
    assert "The model-index in this card's metadata lists this model, the one `pipeline()` loads" in _words(body)


def test_card_of_a_run_from_before_the_ship_decision_headlines_the_fine_tune(
    alone_plan, alone_metrics, pre_ensemble_metrics
):
    """pre_ensemble_metrics: the fine-tune's metrics.json without the keys evaluate.py gained since."""
    card = ModelCard(render_model_card(alone_plan, pre_ensemble_metrics, REPO_ID))

    assert [r.metric_value for r in card.data.eval_results] == [
        alone_metrics["finetuned"]["accuracy"],
        alone_metrics["finetuned"]["macro_f1"],
    ]
    words = _words(card.text)
    assert "**Result** (fine-tuned transformer)." in words
    assert "This run recorded no comparison with an interval or a significance test, so no difference" in words
    assert "No confidence intervals were recorded for this run" in words


# --------------------------------------------------------------------------- what the classes mean


def _split_rows(out, split: str) -> dict[str, str]:
    """text -> label of one of the run's split files, each text's whitespace collapsed as a table cell shows it."""
    frame = pd.read_csv(out / "splits" / f"{split}.csv", dtype=str)
    return dict(zip((" ".join(text.split()) for text in frame["text"]), frame["label"]))


def _class_rows(body: str) -> dict[str, list[str]]:
    """The card's classes table: label -> its cells after the label."""
    table = body.split("### Classes")[1].split("### Out of scope")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| Class |")]
    return {cells[0]: cells[1:] for cells in ([c.strip() for c in row.strip("|").split(" | ")] for row in rows)}


def test_card_shows_each_class_with_its_support_and_texts_from_the_data(alone_plan, alone_metrics, alone_out):
    body = ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID, None, [], alone_out)).text
    rows = _class_rows(body)
    texts_of = {
        text: lab for split in ("train", "validation", "test") for text, lab in _split_rows(alone_out, split).items()
    }
    train_counts = pd.read_csv(alone_out / "splits" / "train.csv", dtype=str)["label"].value_counts()

    assert list(rows) == alone_plan.labels
    for label, (support, train_rows, examples) in rows.items():
        assert int(support) == alone_metrics["finetuned"]["per_class"][label]["support"]
        assert int(train_rows) == train_counts[label]
        texts = [t.strip('"') for t in examples.split('"; "')]
        assert 1 <= len(texts) <= 2 and len(set(texts)) == len(texts)
        for text in texts:
            assert texts_of.get(text) == label, f"{text!r} is not a {label} text of the run's splits"
        plain = [t for t, lab in texts_of.items() if lab == label and not PLACEHOLDER.search(t)]
        if plain:  # a text with a slot such as {{Order Number}} only for a class that has nothing else
            assert not any(PLACEHOLDER.search(t) for t in texts), (label, texts)
    assert any(PLACEHOLDER.search(t) for t in texts_of), "the fixture must hold templated texts"


def test_card_without_the_run_lists_the_classes_without_examples(alone_plan, alone_metrics):
    rows = _class_rows(ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID)).text)

    assert list(rows) == alone_plan.labels
    assert all(cells[1:] == ["n/a", "n/a"] for cells in rows.values())


# --------------------------------------------------------------------------- robustness


def _robustness(body: str) -> str:
    return body.split("### Robustness")[1].split("## Limitations and risks")[0]


def test_card_states_stress_changes_in_points_and_sets_case_tests_apart(ensemble_plan, ensemble_metrics, ensemble_out):
    body = ModelCard(render_model_card(ensemble_plan, ensemble_metrics, REPO_ID, None, [], ensemble_out)).text
    section, stress = _robustness(body), ensemble_metrics["ensemble"]["stress"]

    assert "| Perturbation | Accuracy | Unperturbed | Change |" in section and "Drop" not in section
    for name in ("typos", "truncation"):
        row = stress[name]
        clean, change = row["accuracy"] + row["drop"], round(100 * row["drop"], 1)
        assert row["drop"] > 0, "the fixture's perturbed copies score lower"
        assert f"| {name} | {_pct(row['accuracy'])} | {_pct(clean)} | −{change:.1f} pts |" in section
    # MiniLM's tokenizer (tokenizer.json: BertNormalizer, lowercase) and TF-IDF lower-case every input.
    assert "| lowercase |" not in section and "| uppercase |" not in section
    words = _words(section)
    assert "Not a robustness result: the `lowercase` and `uppercase` tests." in words
    assert "The tokenizer lower-cases every input, and so does the TF-IDF half of the ensemble" in words
    assert "such a test cannot fail" in words


def test_card_of_a_cased_tokenizer_reports_its_case_tests(tmp_path, alone_plan, alone_metrics, alone_out):
    """The same run with a tokenizer that keeps case: then a change of case is a real test, shown as one."""
    out = tmp_path / "out"
    shutil.copytree(alone_out / "splits", out / "splits")
    (out / "model").mkdir()
    tokenizer = json.loads((alone_out / "model" / "tokenizer.json").read_text())
    assert tokenizer["normalizer"]["lowercase"] is True
    tokenizer["normalizer"]["lowercase"] = False
    (out / "model" / "tokenizer.json").write_text(json.dumps(tokenizer))

    section = _robustness(ModelCard(render_model_card(alone_plan, alone_metrics, REPO_ID, None, [], out)).text)

    for name in ("lowercase", "uppercase"):
        row = alone_metrics["finetuned"]["stress"][name]
        assert f"| {name} | {_pct(row['accuracy'])} | {_pct(row['accuracy'] + row['drop'])} |" in section
    assert "Not a robustness result" not in section


# --------------------------------------------------------------------------- the repo's files


def test_published_configs_carry_no_loader_only_keys_and_still_load(tmp_path, alone_plan, alone_metrics, alone_out):
    """from_pretrained records how it loaded (offline, which cache): a user's download must not inherit that."""
    from transformers import AutoConfig, AutoTokenizer

    out = tmp_path / "out"
    shutil.copytree(alone_out, out, copy_function=shutil.copy)  # copies: the session's run stays as it is
    for name, extra in (
        ("tokenizer_config.json", {"cache_dir": str(tmp_path / "hf-cache")}),
        ("config.json", {"token": "hf_x"}),
    ):
        path = out / "model" / name
        path.write_text(json.dumps({**json.loads(path.read_text()), **extra, "local_files_only": True}))

    files = build_model_repo(out, alone_plan, alone_metrics, REPO_ID)
    published = tmp_path / "repo"
    for name, value in files.items():
        (published / name).parent.mkdir(parents=True, exist_ok=True)
        (published / name).write_bytes(value if isinstance(value, bytes) else value.read_bytes())

    for name in ("tokenizer_config.json", "config.json"):
        saved, shipped = json.loads((out / "model" / name).read_text()), json.loads((published / name).read_text())
        assert not LOADER_ONLY_KEYS & set(shipped), (name, LOADER_ONLY_KEYS & set(shipped))
        assert shipped == {k: v for k, v in saved.items() if k not in LOADER_ONLY_KEYS}  # nothing else changes
    assert "hf_x" not in (published / "config.json").read_text()
    tokenizer = AutoTokenizer.from_pretrained(str(published))
    original = AutoTokenizer.from_pretrained(str(alone_out / "model"))
    text = "Where is my REFUND for order #123?"
    assert tokenizer(text)["input_ids"] == original(text)["input_ids"]
    assert (
        AutoConfig.from_pretrained(str(published)).id2label
        == AutoConfig.from_pretrained(str(alone_out / "model")).id2label
    )


def test_real_runs_published_tokenizer_config_is_stripped(alone_plan, alone_metrics, alone_out):
    files = build_model_repo(alone_out, alone_plan, alone_metrics, REPO_ID)

    for name in ("tokenizer_config.json", "config.json"):
        value = files[name]
        shipped = json.loads(value if isinstance(value, bytes) else value.read_bytes())
        assert not LOADER_ONLY_KEYS & set(shipped), name
