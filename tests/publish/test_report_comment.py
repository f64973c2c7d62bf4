"""The training report comment, rendered by the phase machine from the session run's metrics.json, and
the demo's last JSON line, read from the published metrics.json.

`baseline_*`, `ensemble_*`, `alone_*`: the real run of the generated scripts as shipped with each
predictor; `pre_ensemble_metrics`: the fine-tune's metrics without the keys evaluate.py gained since
(conftest.py says how each is made).
"""

from __future__ import annotations

import json

from markdown_it import MarkdownIt
from markdown_it.rules_block import html_block

from bot.core import effects as fx
from bot.core.events import Facts
from bot.core.machine import step
from bot.core.state import IssueState, Phase
from bot.shell.executor import _run_summary
from bot.writing.artifacts import SHIPPED_TITLES

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


def _points(drop: float) -> str:
    """A stress test's accuracy change (clean minus perturbed = `drop`) in signed percentage points."""
    change = round(-100 * drop, 1)
    return "±0.0 pts" if change == 0 else f"{'+' if change > 0 else '−'}{abs(change):.1f} pts"


def _ci_pct(pair) -> str:
    return f"(95 % CI {_pct(pair[0])}–{_pct(pair[1])})"


def _signed(points: float) -> str:
    rounded = round(points, 1)
    return "±0.0" if rounded == 0 else f"{'+' if rounded > 0 else '−'}{abs(rounded):.1f}"


def test_report_headlines_the_shipped_ensemble_and_shows_the_transformer_beside_it(ensemble_out, ensemble_metrics):
    state, body = _report(ensemble_out, ensemble_metrics)
    ensemble, alone = ensemble_metrics["ensemble"], ensemble_metrics["finetuned"]

    headline, *others = _headline_rows(body)
    assert headline.startswith(
        f"| **Shipped: fine-tuned transformer + TF-IDF ensemble** (weight {ensemble['finetuned_weight']:.2f})"
    )
    assert f"**{_pct(ensemble['accuracy'])}** {_ci_pct(ensemble['interval']['accuracy'])}" in headline
    assert f"**{ensemble['macro_f1']:.3f}**" in headline
    baseline, transformer = others
    assert baseline.startswith("| TF-IDF + LinearSVC baseline (`tfidf/` alone)")
    assert _pct(ensemble_metrics["baseline"]["accuracy"]) in baseline
    assert transformer.startswith("| Fine-tuned transformer (what `pipeline()` loads)") and _pct(alone["accuracy"]) in (
        transformer
    )
    assert "**Abstain threshold** (chosen on validation and 100 off-topic sentences; coverage target 98.0 %): " in body
    assert f": {ensemble['abstain']['threshold']:.2f} → answers {_pct(ensemble['abstain']['coverage'])}" in body
    assert "which is not the shipped predictor; the Space's `app.py` serves the fine-tuned transformer + TF-IDF" in body
    assert state.run.summary.shipped == "ensemble"
    assert state.run.summary.accuracy == ensemble["accuracy"]


def test_report_of_a_shipped_baseline_headlines_it_with_the_decision_and_each_test_comparison(
    baseline_out, baseline_metrics
):
    state, body = _report(baseline_out, baseline_metrics)
    base, abstain = baseline_metrics["baseline"], baseline_metrics["baseline"]["abstain"]

    headline, *others = _headline_rows(body)
    assert headline.startswith("| **Shipped: TF-IDF + LinearSVC baseline** (`tfidf/` alone)")
    assert f"**{_pct(base['accuracy'])}** {_ci_pct(base['interval']['accuracy'])}" in headline
    assert [row.split(" (")[0] for row in others] == [
        "| Fine-tuned transformer",
        "| Fine-tuned transformer + TF-IDF ensemble",
    ]
    assert "`pipeline()` and the Hub widget load the fine-tuned transformer" in body
    assert "which is not the shipped predictor; the Space's `app.py` serves the TF-IDF + LinearSVC baseline." in body
    assert f"**Ship decision** (train.py, on validation only): {baseline_metrics['decision']['reason']}" in body
    for row in baseline_metrics["comparisons"]:
        low, high = row["interval"]
        significance = "significant" if row["significant"] else "not significant"
        assert (
            f"- TF-IDF + LinearSVC baseline − {SHIPPED_TITLES[row['other']]}: {_signed(row['diff_points'])} pts of "
            f"accuracy (95 % CI {_signed(low)} to {_signed(high)}), McNemar " in body
        )
        assert body.split(f"− {SHIPPED_TITLES[row['other']]}: ")[1].split("\n")[0].endswith(f": {significance}")
    assert f"**Verdict:** {baseline_metrics['verdict']}" in body
    assert (
        f"answers {_pct(abstain['coverage'])} of test inputs at {_pct(abstain['accuracy'])} accuracy; the rest are "
        f"`UNKNOWN`. Held-out off-topic sentences refused: {_pct(abstain['ood_refusal_rate'])} of {abstain['ood_rows']}."
        in body
    )
    rows = baseline_metrics["train"]["finetune_train_rows"]
    assert f"the fine-tune trained on {rows:,} of the training rows" in body
    assert state.run.summary.shipped == "baseline" and state.run.summary.accuracy == base["accuracy"]


def test_the_report_never_names_another_model_as_shipped(baseline_out, baseline_metrics, ensemble_metrics, alone_metrics):
    """The headline, the Space sentence and the decision agree with metrics.json's `shipped`."""
    for metrics in (baseline_metrics, ensemble_metrics, alone_metrics):
        _, body = _report(baseline_out, metrics)
        title = SHIPPED_TITLES[metrics["shipped"]]

        assert body.count("**Shipped: ") == 1 and f"**Shipped: {title}**" in body
        assert metrics["decision"]["shipped"] == metrics["shipped"]
        if metrics["shipped"] != "finetuned":
            assert f"the Space's `app.py` serves the {title}." in body
        else:
            assert "not the shipped predictor" not in body


def test_report_of_a_fine_tune_shipped_alone_headlines_it(alone_out, alone_metrics):
    state, body = _report(alone_out, alone_metrics)
    alone = alone_metrics["finetuned"]

    headline, *_ = _headline_rows(body)
    assert headline.startswith("| **Shipped: fine-tuned transformer** (what `pipeline()` loads)")
    assert f"**{_pct(alone['accuracy'])}**" in headline
    assert "(chosen on validation and 100 off-topic sentences; coverage target 98.0 %): " in body
    assert f"{alone['abstain']['threshold']:.2f} → answers" in body
    assert state.run.summary.shipped == "finetuned"


def test_report_of_a_run_from_before_the_ship_decision_headlines_the_fine_tune(
    alone_out, alone_metrics, pre_ensemble_metrics
):
    state, body = _report(alone_out, pre_ensemble_metrics)

    assert f"**{_pct(alone_metrics['finetuned']['accuracy'])}**" in _headline_rows(body)[0]
    assert "**Ship decision**" not in body and "(fine-tune " not in body and "95 % CI" not in body
    assert state.run.summary.shipped == "finetuned"


def test_the_demos_last_line_reports_what_shipped_and_its_abstention(baseline_out, baseline_metrics, monkeypatch):
    """`ml-intern-bot demo` ends with one JSON line read from the published metrics.json (bot/playground/demo.py)."""
    from types import SimpleNamespace

    import huggingface_hub

    from bot.playground import demo

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", lambda *args, **kwargs: str(baseline_out / "metrics.json"))
    state = SimpleNamespace(pr_number=2, run=SimpleNamespace(cost_usd=0.0))
    world = SimpleNamespace(hub_url="http://127.0.0.1:9")
    line = json.loads(json.dumps(demo._summary(world, state, 1, "local", "ml-intern/model", "ml-intern/space", "UNKNOWN")))

    base, abstain = baseline_metrics["baseline"], baseline_metrics["baseline"]["abstain"]
    assert line["shipped"] == "baseline"
    assert (line["accuracy"], line["macro_f1"]) == (base["accuracy"], base["macro_f1"])
    assert line["finetuned_accuracy"] == baseline_metrics["finetuned"]["accuracy"]
    assert line["baseline_accuracy"] == base["accuracy"]
    assert (line["coverage"], line["ood_refusal_rate"]) == (abstain["coverage"], abstain["ood_refusal_rate"])
    assert line["train_seconds"] == baseline_metrics["train"]["train_seconds"]


# --------------------------------------------------------------------------- how GitHub will lay it out


def _parsers() -> dict[str, MarkdownIt]:
    """CommonMark + GFM tables as markdown-it reads them, and as the GFM spec's example 201 does.

    markdown-it ends a table at a line that opens an HTML block; the GFM spec's table extension keeps
    every following non-blank line as one more row (example 201), which is how a `</details>` right under
    a table ends up inside it. A report must come out right under both readings.
    """
    lenient = MarkdownIt("commonmark").enable("table")
    strict = MarkdownIt("commonmark").enable("table")
    strict.block.ruler.at("html_block", html_block, {"alt": ["paragraph", "reference"]})  # no longer ends a table
    return {"markdown-it": lenient, "GFM example 201": strict}


def _layout(md: MarkdownIt, body: str) -> tuple[list[str], list[tuple[int, str]]]:
    """The report's table cells, and each top-level block with its `<details>` depth (0: always visible)."""
    cells, blocks, depth, in_table = [], [], 0, False
    tokens = md.parse(body)
    for i, token in enumerate(tokens):
        if token.type == "table_open":
            in_table = True
            blocks.append((depth, "table"))
        elif token.type == "table_close":
            in_table = False
        elif token.type == "inline" and tokens[i - 1].type in ("td_open", "th_open"):
            cells.append(token.content)
        elif token.type == "html_block":
            depth += token.content.count("<details>") - token.content.count("</details>")
        elif token.type == "inline" and not in_table and token.level <= 1:
            blocks.append((depth, token.content))
    assert depth == 0, "a <details> is never closed"
    return cells, blocks


def test_report_closes_every_details_block_after_its_table(
    ensemble_out, ensemble_metrics, alone_out, alone_metrics, baseline_out, baseline_metrics
):
    for out, metrics in ((ensemble_out, ensemble_metrics), (alone_out, alone_metrics), (baseline_out, baseline_metrics)):
        _, body = _report(out, metrics)
        for reading, md in _parsers().items():
            cells, blocks = _layout(md, body)

            assert not [c for c in cells if "details" in c], f"{reading}: a </details> landed in a table cell"
            tables = [depth for depth, text in blocks if text == "table"]
            assert tables == [0, 1, 1, 1], f"{reading}: headline table shown, the three tables folded: {tables}"
            visible = [text for depth, text in blocks if depth == 0]
            for section in ("**Stress tests**", "**Compute:**", "**Next:**"):
                assert any(text.startswith(section) for text in visible), f"{reading}: {section} is folded away"


def test_report_states_stress_changes_in_points_and_sets_case_tests_apart(ensemble_out, ensemble_metrics):
    _, body = _report(ensemble_out, ensemble_metrics)
    stress = ensemble_metrics["ensemble"]["stress"]
    lines = body.split("**Stress tests**")[1].split("**Compute:**")[0]

    for name in ("typos", "truncation"):
        row = stress[name]
        assert (
            f"- {name}: {_pct(row['accuracy'])}, {_points(row['drop'])} from {_pct(row['accuracy'] + row['drop'])}\n"
            in lines
        )
    assert "drop" not in lines and " %)" not in lines  # no accuracy difference printed as a percentage
    # MiniLM's tokenizer lower-cases, and so does the TF-IDF half: a change of case cannot be a result.
    assert "- lowercase:" not in lines and "- uppercase:" not in lines
    assert "- lowercase, uppercase: not a test of this model, so not a robustness result" in lines
    assert "lower-cases every input, and so does the TF-IDF half" in lines


def test_report_of_a_cased_model_reports_its_case_tests_in_points(alone_out, alone_metrics):
    """The same run as if its base model kept case (a `/plan model=` a maintainer may choose)."""
    typos = {"accuracy": 0.9, "drop": -0.02}  # a perturbed copy can also score higher
    stress = {**alone_metrics["finetuned"]["stress"], "typos": typos}
    cased = {
        **alone_metrics,
        "model": "FacebookAI/roberta-base",
        "finetuned": {**alone_metrics["finetuned"], "stress": stress},
    }
    _, body = _report(alone_out, cased)
    lines = body.split("**Stress tests**")[1].split("**Compute:**")[0]

    assert "- typos: 90.0 %, +2.0 pts from 88.0 %\n" in lines
    for name in ("lowercase", "uppercase"):
        row = stress[name]
        assert (
            f"- {name}: {_pct(row['accuracy'])}, {_points(row['drop'])} from {_pct(row['accuracy'] + row['drop'])}"
            in lines
        )
    assert "not a test of this model" not in lines
