"""The Space of each shipped predictor serves exactly what metrics.json describes.

Published from the session's real run as shipped with each predictor (conftest.py): the TF-IDF baseline
alone (`model/tfidf/tfidf.json` weight 0.0, and the transformer is never loaded), the ensemble, the
fine-tune alone. The page says which it serves, how much of the test set it answers and how many
off-topic sentences it refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.writing import codegen
from bot.writing.publish import UNKNOWN, build_space, publish_local
from tests.publish.test_space_app import REPO_ID, SPACE_ID, _import, _markdown


@pytest.fixture(scope="module", autouse=True)
def _torch_threads():
    """The app sets torch's thread count for the whole process; give the next modules theirs back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def _space(tmp_path_factory, out, plan, metrics) -> Path:
    target = tmp_path_factory.mktemp("publish_kind")
    return Path(publish_local(target, out, plan, metrics, REPO_ID, SPACE_ID).space_url)


def _no_transformer(monkeypatch, app) -> None:
    """Make any load of the fine-tuned transformer fail the test."""
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError("the transformer was loaded, but the TF-IDF model ships alone")

    monkeypatch.setattr(app, "load_transformer", refuse)
    monkeypatch.setattr(transformers.AutoModelForSequenceClassification, "from_pretrained", refuse)


def test_a_shipped_baseline_is_served_by_tfidf_alone_and_the_transformer_never_loads(
    tmp_path_factory, baseline_out, baseline_plan, baseline_metrics, monkeypatch
):
    from bot.research.tfidf import TfidfClassifier

    app = _import(_space(tmp_path_factory, baseline_out, baseline_plan, baseline_metrics) / "app.py")
    _no_transformer(monkeypatch, app)

    predictor = app.load_model()
    assert (predictor.kind, predictor.model, predictor.tokenizer) == ("baseline", None, None)
    assert app.THRESHOLD == baseline_metrics["baseline"]["abstain"]["threshold"]
    tfidf = TfidfClassifier.load(baseline_out / "model" / "tfidf")
    assert tfidf.finetuned_weight == 0.0
    for text, _ in app.EXAMPLES:
        result = app.predict(text)
        expected = dict(zip(baseline_plan.labels, tfidf.predict_proba([text])[0]))
        assert result["scores"] == pytest.approx(expected)
        assert result["label"] == (result["top_label"] if result["confidence"] >= app.THRESHOLD else UNKNOWN)
    assert app.predict("   ")["label"] == UNKNOWN


def test_a_shipped_baseline_downloads_only_its_small_files_from_the_hub(
    tmp_path, baseline_out, baseline_plan, baseline_metrics, monkeypatch
):
    """On the Hub (no ./model beside app.py) the TF-IDF model needs config.json and tfidf/, not the weights."""
    import huggingface_hub

    asked = []

    def snapshot_download(repo_id, allow_patterns=None, **kwargs):
        asked.append((repo_id, allow_patterns))
        return str(baseline_out / "model")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    path = tmp_path / "app.py"
    path.write_bytes(build_space(baseline_out, baseline_plan, baseline_metrics, SPACE_ID, REPO_ID)["app.py"])
    app = _import(path)
    _no_transformer(monkeypatch, app)

    assert app.model_source() == REPO_ID
    assert app.predict("I want a refund for my last order")["top_label"] in baseline_plan.labels
    assert asked == [(REPO_ID, ["config.json", "tfidf/*"])]


def test_the_space_page_says_what_it_serves_its_coverage_and_off_topic_refusals(
    tmp_path_factory, baseline_out, baseline_plan, baseline_metrics
):
    app = _import(_space(tmp_path_factory, baseline_out, baseline_plan, baseline_metrics) / "app.py")
    abstain = baseline_metrics["baseline"]["abstain"]

    note = app.results_note()
    assert note.startswith("Serves the TF-IDF + LinearSVC baseline, the predictor the model card evaluates.")
    assert f"On the test set it answered {abstain['coverage']:.1%} of texts, {abstain['accuracy']:.1%} of them" in note
    assert f"It answered UNKNOWN to {abstain['ood_refusal_rate']:.1%} of held-out off-topic sentences" in note
    assert note in _markdown(app.build_demo())


def test_the_prs_app_makes_no_claim_about_results(alone_plan, tmp_path):
    path = tmp_path / "app.py"
    path.write_text(codegen.render_pr_files(alone_plan, examples=[])["app.py"])
    app = _import(path)

    assert app.RESULTS == {}
    assert app.results_note() == "Serves the model saved next to this file, the predictor the model card evaluates."


def _test_set(out: Path) -> list[tuple[str, str]]:
    import pandas as pd

    frame = pd.read_csv(out / "splits" / "test.csv", dtype=str, keep_default_na=False)
    return list(zip(frame["text"], frame["label"]))


def test_each_shipped_space_answers_the_test_set_as_metrics_json_reports(
    tmp_path_factory, shipped_runs, real_run, monkeypatch
):
    """The Space serves what was evaluated: its accuracy and coverage on the test split are evaluate.py's."""
    for kind, out in shipped_runs.items():
        metrics = json.loads((out / "metrics.json").read_text())
        app = _import(_space(tmp_path_factory, out, real_run.plan, metrics) / "app.py")
        rows = _test_set(out)
        with monkeypatch.context() as patch:
            if kind == "baseline":
                _no_transformer(patch, app)
            assert app.load_model().kind == kind == app.RESULTS["shipped"]
            results = [(app.predict(text), label) for text, label in rows]
        block = metrics[kind]
        # One row of slack for the transformer: evaluate.py scores padded batches, the app one text at a time.
        slack = 0 if kind == "baseline" else 1
        right = sum(result["top_label"] == label for result, label in results)
        assert abs(right - round(block["accuracy"] * len(rows))) <= slack, kind
        answered = sum(result["label"] != UNKNOWN for result, _ in results)
        assert abs(answered - round(block["abstain"]["coverage"] * len(rows))) <= slack, kind
