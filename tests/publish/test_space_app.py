"""The Space's app.py, rendered from the template and run on the model the session's real run trained.

The Space is published from the `alone_*` fixtures (the fine-tune ships alone, no model/tfidf/), so
`predict` runs the transformer; test_space_shipped.py publishes each shipped predictor.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
import uuid
from pathlib import Path

import pytest

from bot.writing import codegen
from bot.writing.artifacts import shipped_eval
from bot.writing.codegen import tfidf_source
from bot.writing.publish import UNKNOWN, build_space, publish_local, render_app
from bot.writing.publish.run import PLACEHOLDER, is_unfit_example

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


@pytest.fixture(scope="module", autouse=True)
def _torch_threads():
    """The app sets torch's thread count for the whole process; give the next modules theirs back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def app(space_dir):
    return _import(space_dir / "app.py")


def _markdown(demo) -> str:
    """Every Markdown text of a Blocks app, as its config sends it to the page."""
    return "\n".join(
        str(c["props"].get("value")) for c in demo.config["components"] if c["type"] == "markdown"
    )


def test_app_loads_the_shipped_model_folder_and_knows_its_hub_repo(app, space_dir, alone_metrics):
    assert app.model_source() == str(space_dir / "model")
    assert app.MODEL_REPO == REPO_ID
    assert app.THRESHOLD == shipped_eval(alone_metrics)["abstain"]["threshold"]


def test_examples_are_clean_test_texts_one_per_class(app, alone_plan, alone_out):
    """Test rows first; a class whose test rows all carry a slot ({{Order Number}}) or swear takes a clean
    row of another split (Bitext's ORDER test rows in this sample all have a slot)."""
    import pandas as pd

    splits = {name: pd.read_csv(alone_out / "splits" / f"{name}.csv") for name in ("test", "validation", "train")}
    assert [label for _, label in app.EXAMPLES] == alone_plan.labels
    for text, label in app.EXAMPLES:
        assert not is_unfit_example(text) and not PLACEHOLDER.search(text), text
        test = splits["test"].loc[splits["test"]["label"] == label, "text"]
        clean_test = [t for t in test if not is_unfit_example(t) and not PLACEHOLDER.search(t)]
        pool = clean_test or [t for f in splits.values() for t in f.loc[f["label"] == label, "text"]]
        assert text in pool


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


def test_loading_the_model_sets_one_torch_thread_for_fast_single_predictions(app):
    import torch

    torch.set_num_threads(2)
    app.load_model.cache_clear()
    app.load_model()
    assert torch.get_num_threads() == 1  # benchmarks/bench_space_latency.py: ~10x faster on 2 busy cores


def test_the_api_has_one_endpoint_predict_returning_the_verdict_label_and_confidences(app, alone_plan):
    demo = app.build_demo()

    public = demo.get_api_info()["named_endpoints"]
    assert list(public) == ["/predict"]
    assert list(demo.get_api_info(all_endpoints=True)["named_endpoints"]) == ["/predict"]  # no undocumented ones
    assert demo.get_api_info()["unnamed_endpoints"] == {}
    predict = public["/predict"]
    assert [(p["parameter_name"], p["component"]) for p in predict["parameters"]] == [("text", "Textbox")]
    assert [(r["label"], r["component"]) for r in predict["returns"]] == [
        ("Prediction", "Textbox"), ("Top 5 classes", "Label")
    ]
    assert {"label", "confidences"} <= set(predict["returns"][1]["type"]["properties"])
    assert "UNKNOWN" in predict["description"]
    # The button, Enter and an example click all run classify; only /predict is reachable from outside.
    wired = [fn for fn in demo.fns.values() if fn.fn is app.classify]
    assert {(fn.api_name, fn.api_visibility) for fn in wired if fn.api_visibility != "private"} == {
        ("predict", "public")
    }
    (predict_fn,) = [fn for fn in wired if fn.api_name == "predict"]
    assert sorted(event for _, event in predict_fn.targets) == ["click", "submit"]
    assert len(wired) == 2  # /predict, and the private run after an example click


def test_enter_in_the_textbox_classifies(app):
    """Gradio submits a textbox on Enter only when `lines` is 1 (with more, Enter adds a line)."""
    import gradio as gr

    demo = app.build_demo()
    (textbox,) = [b for b in demo.blocks.values() if isinstance(b, gr.Textbox) and b.label == "Text to classify"]
    assert textbox.lines == 1 and textbox.max_lines > 1  # Enter submits; Shift+Enter adds a line (the browser test)
    (predict_fn,) = [fn for fn in demo.fns.values() if fn.api_name == "predict"]
    assert (textbox._id, "submit") in predict_fn.targets


def test_the_published_app_says_its_threshold_was_chosen_on_validation(app, alone_metrics):
    assert app.THRESHOLD_FROM_VALIDATION is True
    note = app.threshold_note()
    assert f"{app.THRESHOLD:.1%}" in note and "threshold chosen on the validation split" in note
    assert "placeholder" not in note
    assert note in _markdown(app.build_demo())


def test_the_prs_app_calls_its_threshold_a_placeholder(alone_plan, tmp_path):
    """The PR's app.py is rendered before training: its threshold was not chosen on any data."""
    path = tmp_path / "app.py"
    path.write_text(codegen.render_pr_files(alone_plan, examples=[])["app.py"])
    app = _import(path)

    assert app.THRESHOLD_FROM_VALIDATION is False
    note = app.threshold_note()
    assert "placeholder" in note and "chosen on the validation split" not in note
    assert note in _markdown(app.build_demo())


def test_a_published_run_without_an_abstain_block_does_not_claim_validation(alone_out, alone_plan, alone_metrics, tmp_path):
    metrics = json.loads(json.dumps(alone_metrics))
    shipped_eval(metrics).pop("abstain")
    path = tmp_path / "app.py"
    path.write_bytes(build_space(alone_out, alone_plan, metrics, SPACE_ID, REPO_ID)["app.py"])
    app = _import(path)

    assert (app.THRESHOLD, app.THRESHOLD_FROM_VALIDATION) == (0.0, False)
    assert "chosen on the validation split" not in app.threshold_note()


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
        plan=alone_plan, examples=examples, threshold=0.5, threshold_from_validation=True, model_repo=REPO_ID,
        tfidf_source=tfidf_source(), script_header=codegen.script_header("app.py", alone_plan),
    )
    assert text == render_app(alone_plan, examples, 0.5, REPO_ID)
    assert text.startswith("# /// script\n")  # the published copy runs with `uv run app.py`, as the PR's does
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


def _call_predict(base: str, text: str) -> list:
    """POST /gradio_api/call/predict and read the result event, as any HTTP client of the Space would."""
    request = urllib.request.Request(
        f"{base}/gradio_api/call/predict", data=json.dumps({"data": [text]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.load(response)["event_id"]
    with urllib.request.urlopen(f"{base}/gradio_api/call/predict/{event_id}", timeout=60) as response:
        lines = response.read().decode().splitlines()
    assert "event: complete" in lines, lines
    return json.loads(lines[lines.index("event: complete") + 1].removeprefix("data: "))


def test_space_app_in_a_browser_classifies_on_enter_and_serves_only_predict(app, free_port, chromium, monkeypatch):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    demo = app.build_demo()
    demo.launch(server_name="127.0.0.1", server_port=free_port, prevent_thread_lock=True, quiet=True)
    base = f"http://127.0.0.1:{free_port}"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"{base}/")
            box = page.get_by_label("Text to classify")
            box.fill("I want my money back")
            box.press("Shift+Enter")  # a new line, not a submit
            box.press_sequentially("for the last order")
            typed = box.input_value()
            assert page.locator("#prediction textarea").input_value() == ""
            box.press("Enter")
            page.wait_for_function("document.querySelector('#prediction textarea').value.length > 0", timeout=30_000)
            on_enter = page.locator("#prediction textarea").input_value()
            browser.close()
        with urllib.request.urlopen(f"{base}/gradio_api/info", timeout=30) as response:
            served = json.load(response)
        verdict, label = _call_predict(base, "where is my parcel")
    finally:
        demo.close()

    assert typed == "I want my money back\nfor the last order"
    assert on_enter == app.classify(typed)[0]
    assert list(served["named_endpoints"]) == ["/predict"] and served["unnamed_endpoints"] == {}
    result = app.predict("where is my parcel")
    assert verdict.startswith(result["label"])
    assert label["label"] == result["top_label"]
    assert [c["label"] for c in label["confidences"]] == list(result["scores"])[:5]
