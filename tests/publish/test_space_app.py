"""The Space's app.py, rendered from the template and run on the model the session's real run trained.

The Space is published from the `alone_*` fixtures: the real run's folder without model/tfidf/, as if
the plan had said `/plan ensemble=false` (conftest.py), so `predict` is the fine-tune alone.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path

import pytest

from bot.writing.artifacts import shipped_eval
from bot.writing.codegen import tfidf_source
from bot.writing.publish import UNKNOWN, publish_local, render_app

REPO_ID = "ml-intern/bitext-ticket-category"
SPACE_ID = "ml-intern/bitext-ticket-demo"


def _import(path: Path):
    """Import a rendered app file as a fresh module, without launching it."""
    spec = importlib.util.spec_from_file_location(f"space_app_{uuid.uuid4().hex}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def space_dir(tmp_path_factory, alone_out, alone_plan, alone_metrics) -> Path:
    """The Space folder exactly as a local publish lays it out (app.py next to model/)."""
    target = tmp_path_factory.mktemp("publish")
    return Path(publish_local(target, alone_out, alone_plan, alone_metrics, REPO_ID, SPACE_ID).space_url)


@pytest.fixture(scope="module")
def app(space_dir):
    return _import(space_dir / "app.py")


def test_app_loads_the_shipped_model_folder_and_knows_its_hub_repo(app, space_dir, alone_metrics):
    assert app.model_source() == str(space_dir / "model")
    assert app.MODEL_REPO == REPO_ID
    assert app.THRESHOLD == shipped_eval(alone_metrics)["abstain"]["threshold"]


def test_examples_are_test_texts_one_per_class(app, alone_plan, alone_out):
    import pandas as pd

    test = pd.read_csv(alone_out / "splits" / "test.csv")
    assert [label for _, label in app.EXAMPLES] == alone_plan.labels
    known = set(zip(test["text"], test["label"]))
    assert all((text, label) in known for text, label in app.EXAMPLES)


def test_predict_scores_every_class_and_mostly_matches_the_examples(app, alone_plan):
    results = [(app.predict(text), label) for text, label in app.EXAMPLES]

    for result, _ in results:
        assert set(result["scores"]) == set(alone_plan.labels)
        assert sum(result["scores"].values()) == pytest.approx(1.0, abs=1e-4)
        assert result["confidence"] == max(result["scores"].values())
        expected = result["top_label"] if result["confidence"] >= app.THRESHOLD else UNKNOWN
        assert result["label"] == expected
    hits = sum(result["top_label"] == label for result, label in results)
    assert hits >= 0.6 * len(results)  # a trained model, not a random head


def test_predict_answers_unknown_below_the_threshold(space_dir, alone_plan):
    strict = space_dir / "app_strict.py"  # same folder, so it loads the same ./model
    strict.write_text(render_app(alone_plan, [], 0.99, REPO_ID))
    app = _import(strict)

    result = app.predict("The mitochondria is the powerhouse of the cell.")
    assert result["label"] == UNKNOWN and result["top_label"] in alone_plan.labels
    assert result["confidence"] < 0.99
    verdict, top = app.classify("The mitochondria is the powerhouse of the cell.")
    assert verdict.startswith("UNKNOWN") and "99.0%" in verdict
    assert len(top) == 5
    assert app.predict("   ")["label"] == UNKNOWN


def test_app_template_renders_with_codegens_plain_environment(alone_plan, alone_metrics):
    """bot/writing/codegen.py renders the same template with no extra filters (and the TF-IDF code embedded);
    both renders must agree."""
    import jinja2

    from bot import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()), keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    examples = [("where is my parcel", alone_plan.labels[0])]
    text = env.get_template("scripts/app.py.j2").render(
        plan=alone_plan, examples=examples, threshold=0.5, model_repo=REPO_ID, tfidf_source=tfidf_source()
    )
    assert text == render_app(alone_plan, examples, 0.5, REPO_ID)
    compile(text, "app.py", "exec")


def test_untrusted_example_text_stays_data_in_the_rendered_app(alone_plan, tmp_path):
    hostile = '"""\nimport os; os.system("echo pwned")  {{ x }} </script> \\ \u2028 é'
    path = tmp_path / "app.py"
    path.write_text(render_app(alone_plan, [(hostile, alone_plan.labels[0])], 0.5, 'x/y"; import os'))
    app = _import(path)

    assert app.EXAMPLES == [[hostile, alone_plan.labels[0]]]
    assert app.MODEL_REPO == 'x/y"; import os'


def test_space_app_in_a_browser_classifies_a_clicked_example(app, alone_plan, free_port, chromium, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    demo = app.build_demo()
    demo.launch(server_name="127.0.0.1", server_port=free_port, prevent_thread_lock=True, quiet=True)
    text, label = app.EXAMPLES[0]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{free_port}/")
            page.get_by_text(f"{label}: {text[:80]}").click()
            page.wait_for_function("document.querySelector('#prediction textarea').value.length > 0", timeout=30_000)
            prediction = page.locator("#prediction textarea").input_value()
            breakdown = page.locator("#breakdown").inner_text()
            page.get_by_label("Text to classify").fill("I want my money back for the last order")
            page.get_by_role("button", name="Classify").click()
            page.wait_for_function(
                f"document.querySelector('#prediction textarea').value !== {json.dumps(prediction)}", timeout=30_000
            )
            second = page.locator("#prediction textarea").input_value()
            browser.close()
    finally:
        demo.close()

    expected = app.predict(text)
    assert prediction.startswith(expected["label"])
    assert expected["top_label"] in breakdown
    assert sum(lab in breakdown for lab in alone_plan.labels) == 5  # the top-5 breakdown
    assert second.split(":")[0].split(" ")[0] in [*alone_plan.labels, UNKNOWN]
