"""Render a plan for a 300-row Bitext sample, run train.py and evaluate.py, check every artifact."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from bot.writing import codegen
from bot.writing.smoke import write_files

from . import load_script, make_plan, offline_hf_home, script_env, write_bitext_sample

EVAL_KEYS = {"accuracy", "macro_f1", "per_class", "confusion", "most_confused", "misclassified", "ece",
             "abstain", "stress", "interval"}
TOP_KEYS = {"dataset", "model", "label_column", "labels", "rows", "finetuned", "baseline", "ensemble", "shipped",
            "decision", "comparisons", "out_of_domain", "train", "verdict"}
ABSTAIN_KEYS = {"threshold", "coverage", "accuracy", "coverage_target", "ood_refusal_rate", "ood_rows"}
FINETUNE_ROWS = 150  # the plan's max_train_rows: fewer than the sample's ~240 train rows


def run_script(src: Path, name: str, out: Path, env: dict, *extra: str) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, name, "--config", "config.yaml", "--output", str(out), *extra],
                          cwd=src, env=env, capture_output=True, text=True, timeout=400)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, proc.stderr


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("scripts")
    env = script_env(offline_hf_home(root / "hf"))
    labels = write_bitext_sample(root / "src" / "bitext_sample.csv", rows=300)
    plan = make_plan("bitext_sample.csv", labels, max_train_rows=FINETUNE_ROWS)
    write_files(codegen.render_pr_files(plan, examples=[]), root / "src")
    return root, env, plan


@pytest.fixture(scope="module")
def trained(workspace):
    root, env, plan = workspace
    out = root / "out"
    code, train_events, stderr = run_script(root / "src", "train.py", out, env)
    assert code == 0, stderr[-3000:]
    code, eval_events, stderr = run_script(root / "src", "evaluate.py", out, env)
    assert code == 0, stderr[-3000:]
    return out, plan, train_events, eval_events


def test_stdout_is_json_progress_per_contract(trained):
    _, plan, events, _ = trained
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and "progress" in kinds
    start = events[0]
    assert {"train_rows", "val_rows", "test_rows", "epochs"} <= set(start) and start["epochs"] == plan.epochs
    progress = next(e for e in events if e["event"] == "progress")
    assert {"step", "total_steps", "epoch", "loss", "elapsed"} <= set(progress)
    epochs = [e for e in events if e["event"] == "epoch"]
    assert epochs and all({"epoch", "epochs", "val_accuracy", "val_macro_f1", "elapsed"} <= set(e) for e in epochs)
    assert isinstance(epochs[0]["epoch"], int)
    assert {"stopped_reason", "train_seconds"} <= set(events[-1])


def test_splits_are_disjoint_and_complete(trained):
    out, plan, events, _ = trained
    frames = {n: pd.read_csv(out / "splits" / f"{n}.csv", dtype=str, keep_default_na=False)
              for n in ("train", "validation", "test")}
    assert all(list(f.columns) == ["text", "label"] for f in frames.values())
    keys = {n: set(f["text"].str.lower().str.split().str.join(" ")) for n, f in frames.items()}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["validation"]
    assert set(frames["train"]["label"]) == set(plan.labels)
    # max_train_rows caps the fine-tune's rows only: splits/train.csv (the TF-IDF model's) is the whole split
    assert len(frames["train"]) == events[0]["train_rows"] > FINETUNE_ROWS == events[0]["finetune_train_rows"]


def test_train_metrics_and_best_model(trained):
    out, plan, _, _ = trained
    metrics = json.loads((out / "train_metrics.json").read_text())
    assert {"train_seconds", "epochs_run", "best_val_macro_f1", "stopped_reason", "history"} <= set(metrics)
    assert metrics["stopped_reason"] in {"completed", "early_stopping"}
    assert metrics["epochs_run"] == len(metrics["history"]) <= plan.epochs
    assert metrics["best_val_macro_f1"] == pytest.approx(max(h["val_macro_f1"] for h in metrics["history"]))
    assert metrics["finetune_train_rows"] == FINETUNE_ROWS < metrics["train_rows"]
    assert 0.05 < metrics["finetune_temperature"] < 20  # fitted, not stuck at an end of the search
    config = json.loads((out / "model" / "config.json").read_text())
    assert [config["id2label"][str(i)] for i in range(len(plan.labels))] == plan.labels
    assert (out / "model" / "tokenizer.json").is_file() and not (out / "checkpoints").exists()


def test_metrics_json_has_every_contract_key(trained):
    out, plan, _, eval_events = trained
    m = json.loads((out / "metrics.json").read_text())
    assert TOP_KEYS <= set(m) and m["labels"] == plan.labels and m["dataset"] == plan.dataset
    assert m["train"] == json.loads((out / "train_metrics.json").read_text())
    assert set(m["rows"]) == {"train", "validation", "test"}
    for name in ("finetuned", "baseline", *(["ensemble"] if m["ensemble"] else [])):
        e = m[name]
        assert EVAL_KEYS <= set(e), name
        assert 0 <= e["accuracy"] <= 1 and 0 <= e["macro_f1"] <= 1 and 0 <= e["ece"] <= 1
        assert set(e["per_class"]) == set(plan.labels)
        assert all(set(c) == {"precision", "recall", "f1", "support"} for c in e["per_class"].values())
        matrix = e["confusion"]["matrix"]
        assert e["confusion"]["labels"] == plan.labels and len(matrix) == len(plan.labels)
        assert sum(map(sum, matrix)) == m["rows"]["test"]
        assert set(e["abstain"]) == ABSTAIN_KEYS and e["abstain"]["coverage_target"] == 0.98
        assert e["abstain"]["ood_rows"] == m["out_of_domain"]["held_out_rows"] > 50
        assert e["abstain"]["ood_refusal_rate"] == e["stress"]["out_of_domain"]["abstain_rate"]
        low, high = e["interval"]["accuracy"]
        assert low <= e["accuracy"] <= high and e["interval"]["level"] == 0.95
        assert e["interval"]["macro_f1"][0] <= e["macro_f1"] <= e["interval"]["macro_f1"][1]
        assert set(e["stress"]) == {"typos", "lowercase", "uppercase", "truncation", "out_of_domain"}
        assert all(set(e["stress"][k]) == {"accuracy", "drop"} for k in ("typos", "lowercase", "uppercase", "truncation"))
        assert 0 <= e["stress"]["out_of_domain"]["abstain_rate"] <= 1
        errors = sum(sum(r) - r[i] for i, r in enumerate(matrix))
        assert len(e["misclassified"]) == min(errors, 10)
        assert all(set(x) == {"text", "true", "pred", "confidence"} for x in e["misclassified"])
    assert m["baseline"]["macro_f1"] > 0.8  # TF-IDF on Bitext categories is strong (data README)
    assert isinstance(m["verdict"], str) and "baseline" in m["verdict"]
    assert m["out_of_domain"]["calibration_rows"] == m["out_of_domain"]["held_out_rows"]
    assert eval_events[-1]["event"] == "evaluated"


def test_report_and_confusion_png(trained):
    out, plan, _, _ = trained
    report = (out / "report.md").read_text()
    for heading in ("## Verdict", "## Headline", "## Training", "## Per class", "## Confusion",
                    "## Misclassified examples", "## Failure patterns", "## Robustness",
                    "## How these numbers were computed"):
        assert heading in report
    assert all(label in report for label in plan.labels)
    assert (out / "confusion_matrix.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_time_budget_stops_cleanly_and_keeps_a_model(workspace):
    root, env, plan = workspace
    src = root / "budget"
    write_files(codegen.render_pr_files(plan.model_copy(update={"time_budget_minutes": 0.01}), examples=[]), src)
    (src / "bitext_sample.csv").write_bytes((root / "src" / "bitext_sample.csv").read_bytes())
    code, events, stderr = run_script(src, "train.py", root / "budget_out", env, "--smoke")
    assert code == 0, stderr[-2000:]
    metrics = json.loads((root / "budget_out" / "train_metrics.json").read_text())
    assert metrics["stopped_reason"] == "time_budget" == events[-1]["stopped_reason"]
    assert metrics["epochs_run"] == 1 and metrics["history"][0]["step"] == 1
    assert (root / "budget_out" / "model" / "model.safetensors").is_file()


def test_missing_dataset_is_one_error_line(workspace, tmp_path):
    _, env, plan = workspace
    write_files(codegen.render_pr_files(plan.model_copy(update={"dataset": "nowhere.csv"}), examples=[]), tmp_path)
    code, events, _ = run_script(tmp_path, "train.py", tmp_path / "out", env)
    assert code == 1 and events[-1]["event"] == "error" and "nowhere.csv" in events[-1]["message"]


# --- train.py's pieces, imported from the rendered script -----------------------------------


@pytest.fixture(scope="module")
def train_module(workspace):
    root, _, _ = workspace
    return load_script(root / "src" / "train.py", "rendered_train")


@pytest.mark.parametrize(("loss", "words"), [(float("nan"), "NaN at step 7"), (float("inf"), "infinite"),
                                              (1e6, "exploded")])
def test_divergence_guard_names_the_fix(train_module, loss, words):
    guard = train_module.DivergenceGuard(num_labels=11)
    args, state = type("A", (), {"learning_rate": 0.01})(), type("S", (), {"global_step": 7})()
    with pytest.raises(train_module.TrainingAborted) as info:
        guard.on_log(args, state, None, logs={"loss": loss})
    assert words in str(info.value) and "lower learning_rate" in str(info.value)
    guard.on_log(args, state, None, logs={"loss": math.log(11)})  # a normal loss passes


def test_class_weights_follow_imbalance(train_module):
    balanced = pd.DataFrame({"label": ["a"] * 10 + ["b"] * 10})
    skewed = pd.DataFrame({"label": ["a"] * 40 + ["b"] * 10})
    assert train_module.class_weight_tensor(balanced, ["a", "b"], forced=False) is None
    assert train_module.class_weight_tensor(balanced, ["a", "b"], forced=True).tolist() == [1.0, 1.0]
    weights = train_module.class_weight_tensor(skewed, ["a", "b", "c"], forced=False).tolist()
    assert weights[1] == pytest.approx(4 * weights[0]) and weights[2] == 1.0


def test_max_train_rows_sample_keeps_every_class(train_module):
    frame = pd.DataFrame({"text": [str(i) for i in range(1000)], "label": ["big"] * 990 + ["rare"] * 10})
    sample = train_module.stratified_sample(frame, 50, seed=1)
    assert len(sample) == 50 and set(sample["label"]) == {"big", "rare"}
    assert train_module.stratified_sample(frame, None, seed=1).shape == frame.shape


def test_relative_dataset_path_falls_back_to_the_config_folder(train_module, tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "d.csv").write_text("text,label\nx,a\n")
    monkeypatch.chdir(tmp_path)
    assert train_module.local_dataset_path("d.csv", tmp_path / "cfg") == tmp_path / "cfg" / "d.csv"
    assert train_module.local_dataset_path("owner/hub-id", tmp_path / "cfg") is None
    # a missing file is no local path; it is fatal when there is no Hub ID to load instead
    assert train_module.local_dataset_path("missing.parquet", tmp_path / "cfg") is None
    with pytest.raises(train_module.TrainingAborted, match="missing.parquet"):
        train_module.load_frames({"dataset": "missing.parquet"}, tmp_path / "cfg", None)


def test_labels_outside_the_plan_are_dropped(train_module):
    frames = {"train": pd.DataFrame({"t": ["x", "y", "z"], "l": [1.0, 2.0, None]})}
    config = yaml.safe_load("text_column: t\nlabel_column: l\nlabels: ['1', '3']\n")
    kept, dropped = train_module.keep_planned_labels(frames, config)
    assert kept["train"]["l"].tolist() == ["1"] and dropped == 1


def test_side_files_in_a_dataset_folder_are_not_splits(train_module):
    frames = {"train": pd.DataFrame({"text": ["x"], "category": ["a"]}),
              "categories": pd.DataFrame({0: ["a", "b"]})}  # BANKING77's categories.json read as a table
    config = {"text_column": "text", "label_column": "category", "labels": ["a", "b"]}
    kept, _ = train_module.keep_planned_labels(frames, config)
    assert set(kept) == {"train"}
    with pytest.raises(train_module.TrainingAborted, match="not in split"):
        train_module.keep_planned_labels({**frames, "test": pd.DataFrame({"text": ["y"]})}, config)


def test_fresh_head_learns_faster_than_the_pretrained_body(trained, train_module):
    from transformers import BertConfig, BertForSequenceClassification

    out = trained[0]
    model = BertForSequenceClassification(BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=8, num_labels=3))
    names = train_module.head_parameter_names(model, {"missing_keys": {"classifier.weight", "classifier.bias"}})
    assert names == {"classifier.weight", "classifier.bias", "bert.pooler.dense.weight", "bert.pooler.dense.bias"}
    assert train_module.head_learning_rate(1e-4) == pytest.approx(2e-3)
    assert train_module.head_learning_rate(1e-2) == 1e-2  # the cap never lowers the head below the body
    args = train_module.TrainingArguments(output_dir=str(out / "opt"), learning_rate=1e-4, weight_decay=0.01,
                                          report_to="none", use_cpu=True)
    trainer = train_module.WeightedLossTrainer(model=model, args=args, head_names=names)
    groups = trainer.create_optimizer().param_groups
    rate = {id(p): g["lr"] for g in groups for p in g["params"]}
    assert rate[id(model.classifier.weight)] == pytest.approx(2e-3) == rate[id(model.bert.pooler.dense.bias)]
    assert rate[id(model.bert.embeddings.word_embeddings.weight)] == pytest.approx(1e-4)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert trainer.create_optimizer() is trainer.optimizer and len(trainer.optimizer.param_groups) == len(groups)


def test_the_shipped_model_is_the_one_saved_and_evaluated(trained):
    out, _, train_events, eval_events = trained
    train, m = (json.loads((out / name).read_text()) for name in ("train_metrics.json", "metrics.json"))
    decision = train["decision"]
    assert decision["candidates"][:2] == ["baseline", "finetuned"] and decision["alpha"] == 0.05
    assert m["decision"] == decision and m["shipped"] == decision["shipped"]  # evaluate.py never re-decides
    assert train_events[-1]["shipped"] == m["shipped"] == eval_events[-1]["shipped"]
    assert eval_events[-1]["accuracy"] == m[m["shipped"]]["accuracy"]
    # the saved files are the decision: model/tfidf/ iff the ensemble or the baseline ships
    saved = (out / "model" / "tfidf" / "tfidf.json").is_file()
    assert saved == (m["shipped"] != "finetuned")
    if saved:
        weight = json.loads((out / "model" / "tfidf" / "tfidf.json").read_text())["finetuned_weight"]
        assert weight == (decision["finetuned_weight"] if m["shipped"] == "ensemble" else 0.0)
    assert decision["finetuned_weight"] in [0.5, 0.6, 0.7, 0.8, 0.9, 1.0]  # the plan keeps the ensemble on
    assert ("ensemble" in decision["candidates"]) == (decision["finetuned_weight"] < 1.0) == (m["ensemble"] is not None)
    # the shipped model is the cheapest one no costlier candidate beat significantly on validation
    steps = decision["comparisons"]
    assert [c["costlier"] for c in steps] == decision["candidates"][1:]
    winners = [c["costlier"] for c in steps if c["significant"] and c["val_gain_points"] > 0]
    assert m["shipped"] == (winners[-1] if winners else "baseline")
    # the fine-tune's validation predictions line up with the rows: its accuracy is the kept epoch's
    best = max(train["history"], key=lambda h: h["val_macro_f1"])
    assert abs(decision["val_accuracy"]["finetuned"] - best["val_accuracy"]) <= 1.5 / m["rows"]["validation"]
    assert train["train_seconds"] >= train["finetune_seconds"]
    # the test comparisons: the shipped model against each other one, with interval and McNemar p
    others = [k for k in ("baseline", "finetuned", "ensemble") if m.get(k) and k != m["shipped"]]
    assert [c["other"] for c in m["comparisons"]] == others
    for c in m["comparisons"]:
        assert c["shipped"] == m["shipped"] and 0 <= c["p_value"] <= 1 and c["significant"] == (c["p_value"] < 0.05)
        assert c["interval"][0] <= c["diff_points"] <= c["interval"][1]
        assert c["diff_points"] == pytest.approx(100 * (m[m["shipped"]]["accuracy"] - m[c["other"]]["accuracy"]),
                                                 abs=0.01)
    report = (out / "report.md").read_text()
    assert "## Shipped model" in report and "(shipped)**" in report and decision["reason"] in report


def test_the_verdict_names_what_ships_and_qualifies_every_comparison(trained):
    out = trained[0]
    m = json.loads((out / "metrics.json").read_text())
    names = {"baseline": "TF-IDF baseline", "finetuned": "fine-tune", "ensemble": "fine-tune + TF-IDF ensemble"}
    verdict = m["verdict"]
    assert verdict.startswith(f"The {names[m['shipped']]} ships")
    for c in m["comparisons"]:  # each with its interval, and said to be significant or not
        assert f"against the {names[c['other']]} (95% interval {c['interval'][0]:+.1f} to {c['interval'][1]:+.1f}" \
            in verdict
    assert verdict.count("significant") >= len(m["comparisons"]) + len(m["decision"]["comparisons"])
    for stale in ("clear gain", "ship the baseline unless", "not worth its cost"):
        assert stale not in verdict


def test_the_report_states_the_abstention_rule_and_what_it_does(trained):
    out = trained[0]
    m, report = json.loads((out / "metrics.json").read_text()), (out / "report.md").read_text()
    a = m[m["shipped"]]["abstain"]
    section = report.split("## Abstention", 1)[1].split("\n## ", 1)[0]
    assert f"below {a['threshold']:.3f}" in section and "coverage target of 98.0%" in section
    assert f"answers {100 * a['coverage']:.1f}% of the texts" in section
    assert f"refuses {100 * a['ood_refusal_rate']:.1f}% of {a['ood_rows']} held-out off-topic sentences" in section
    assert "Held-out off-topic sentences" in report.split("## Robustness", 1)[1]
    for key in ("abstain", "ensemble", "decision", "interval"):
        assert f"- **{key}**:" in report


def _crafted_splits(labels: list[str]) -> dict:
    """Words that name the class for the TF-IDF model, except on the validation rows that say "gamma"."""
    words = {label: f"word{i}" for i, label in enumerate(labels)}
    train = pd.DataFrame([{"text": f"please {words[lab]} now {j}", "label": lab} for lab in labels for j in range(8)])
    val = pd.DataFrame([{"text": f"please {words[lab]} now" if j % 2 else f"gamma {j}", "label": lab}
                        for lab in labels for j in range(4)])
    return {"train": train, "validation": val, "test": val}


def _crafted_probs(val: pd.DataFrame, labels: list[str], right_on_gamma: bool, right_elsewhere: bool) -> np.ndarray:
    """Fine-tune probabilities: confidently right or slightly wrong, on the 'gamma' rows or the others."""
    y = val["label"].map({name: i for i, name in enumerate(labels)}).to_numpy()
    probs = np.full((len(y), len(labels)), 0.0)
    for i, (label, text) in enumerate(zip(y, val["text"])):
        right = right_on_gamma if text.startswith("gamma") else right_elsewhere
        wrong = (label + 1) % len(labels)
        probs[i, label], probs[i, wrong] = (0.9, 0.1) if right else (0.45, 0.55)
    return probs


def test_the_decision_saves_what_ships(train_module, tmp_path):
    labels = ["a", "b", "c", "d"]
    splits, model_dir = _crafted_splits(labels), tmp_path / "model"
    config = {"ensemble_with_baseline": True}
    val = splits["validation"]
    # each model right where the other is unsure: the average is right everywhere and ships
    decision = train_module.decide(_crafted_probs(val, labels, True, False), splits, labels, config, model_dir)
    assert decision["shipped"] == "ensemble" and decision["val_accuracy"]["ensemble"] == 1.0
    saved = json.loads((model_dir / "tfidf" / "tfidf.json").read_text())
    assert saved["finetuned_weight"] == decision["finetuned_weight"] < 1.0
    # a fine-tune right everywhere: no costlier candidate than it, and no stale model/tfidf/ left behind
    decision = train_module.decide(_crafted_probs(val, labels, True, True), splits, labels, config, model_dir)
    assert decision["shipped"] == "finetuned" and not (model_dir / "tfidf").exists()
    # a fine-tune no better than TF-IDF where TF-IDF knows, and the ensemble off: the baseline ships alone
    decision = train_module.decide(_crafted_probs(val, labels, False, True), splits, labels,
                                   {"ensemble_with_baseline": False}, model_dir)
    assert decision["shipped"] == "baseline" and decision["candidates"] == ["baseline", "finetuned"]
    assert decision["finetuned_weight"] is None
    assert json.loads((model_dir / "tfidf" / "tfidf.json").read_text())["finetuned_weight"] == 0.0


def test_the_temperature_is_folded_into_the_output_layer(train_module):
    import torch
    from transformers import BertConfig, BertForSequenceClassification, RobertaConfig, RobertaForSequenceClassification

    small = {"vocab_size": 50, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
             "intermediate_size": 8, "num_labels": 3}
    inputs = {"input_ids": torch.tensor([[2, 5, 7, 3]]), "attention_mask": torch.ones(1, 4, dtype=torch.long)}
    bert = BertForSequenceClassification(BertConfig(**small)).eval()
    roberta = RobertaForSequenceClassification(RobertaConfig(**small, max_position_embeddings=16)).eval()
    assert train_module.output_layer(bert, 3) is bert.classifier
    assert train_module.output_layer(roberta, 3) is roberta.classifier.out_proj  # a head with a hidden layer
    for model in (bert, roberta):
        with torch.no_grad():
            before = model(**inputs).logits
            assert train_module.fold_temperature(model, 2.5, 3) == 2.5
            assert torch.allclose(model(**inputs).logits, before / 2.5, atol=1e-6)
    assert train_module.fold_temperature(torch.nn.Sequential(torch.nn.Linear(4, 2)), 2.0, 3) == 1.0  # no head


def test_max_train_rows_caps_the_finetune_only(train_module):
    train = pd.DataFrame({"text": [str(i) for i in range(500)], "label": ["a", "b"] * 250})
    config = {"max_train_rows": 100, "smoke_rows": 40, "seed": 1}
    assert len(train_module.finetune_rows(train, config, smoke=False)) == 100
    assert len(train_module.finetune_rows(train, config, smoke=True)) == 40
    assert len(train_module.finetune_rows(train, {**config, "max_train_rows": None}, smoke=False)) == 500


def _splits(out: Path) -> dict:
    return {n: pd.read_csv(out / "splits" / f"{n}.csv", dtype=str, keep_default_na=False)
            for n in ("train", "validation", "test")}


def test_space_app_serves_the_shipped_ensemble(trained, workspace, tmp_path):
    out, plan, _, _ = trained
    root = tmp_path / "space"
    (root / "model").mkdir(parents=True)
    for path in (out / "model").rglob("*"):
        if path.is_file() and "tfidf" not in path.relative_to(out / "model").parts:
            dest = root / "model" / path.relative_to(out / "model")
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(path.read_bytes())
    ev = load_script(workspace[0] / "src" / "evaluate.py", "rendered_evaluate_for_app")
    # model/tfidf/ as train.py saves it when the ensemble ships (whatever this small run chose)
    companion, _ = ev.fit_baseline(_splits(out), plan.labels)
    companion.finetuned_weight = 0.6
    companion.save(root / "model" / "tfidf")
    (root / "app.py").write_text(codegen.render_pr_files(plan, examples=[], threshold=0.0)["app.py"])
    app = load_script(root / "app.py", "rendered_app_ensemble")
    text = _splits(out)["test"]["text"].iloc[0]
    finetuned = ev.FineTuned(root / "model", plan.max_length).predict_proba([text])
    expected = ev.blend(finetuned, companion.predict_proba([text]), 0.6)[0]
    result = app.predict(text)
    assert result["scores"] == pytest.approx({label: p for label, p in zip(plan.labels, expected)}, abs=1e-5)
    assert result["label"] == plan.labels[int(expected.argmax())]


def test_the_pull_requests_app_says_how_to_get_a_model(workspace, tmp_path):
    _, _, plan = workspace
    (tmp_path / "app.py").write_text(codegen.render_pr_files(plan, examples=[])["app.py"])  # no Hub repo yet
    app = load_script(tmp_path / "app.py", "rendered_pr_app")
    assert app.MODEL_REPO == ""
    with pytest.raises(FileNotFoundError, match="run `python train.py --config config.yaml --output .`"):
        app.predict("where is my refund")
