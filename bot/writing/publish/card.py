"""The model repository: its README (an honest model card with model-index front matter) and its files.

The card's headline numbers and abstain threshold describe the shipped predictor (`bot/writing/artifacts.py`):
the TF-IDF baseline alone, the fine-tune alone, or their average, as train.py decided on validation. The
model-index describes the artefact `pipeline("text-classification")` loads from the repository, the
fine-tuned transformer alone, on the split train.py actually held out; a shipped baseline's or ensemble's
numbers are in the card's text only, so a Hub page never credits the transformer with another model's
score, and the text says plainly that `pipeline()` is then not the shipped predictor. Every comparison
the card makes carries its interval and McNemar test (`claims.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bot.core.render import environment
from bot.planner.schema import Plan
from bot.writing.artifacts import shipped_eval, shipped_title
from bot.writing.publish.claims import abstention_view, decision_view
from bot.writing.publish.evidence import classes_view, stress_view
from bot.writing.publish.licence import DATA_SUFFIXES, License, attribution, hub_dataset, license_for
from bot.writing.publish.run import (
    PLACEHOLDER,
    Files,
    PublishError,
    check_shipped,
    ensemble_weight,
    model_files,
    pick_examples,
    split_texts,
)

# fmt: off
# Section headings every card carries (tests and reviewers rely on them).
CARD_SECTIONS = (
    "## Intended use", "### Classes", "## How to use", "## Training data", "## Training procedure", "## Evaluation",
    "### Ship decision", "### Per-class results", "### Confusion matrix", "### Calibration and abstention",
    "### Robustness", "## Limitations and risks", "## Licence",
)
# Keys that from_pretrained() records in a saved config although they only told it how to load the files
# (offline, from which cache...): shipped, `"local_files_only": true` would stop a user's download.
LOADER_ONLY_KEYS = frozenset({
    "local_files_only", "cache_dir", "force_download", "resume_download", "proxies", "token", "use_auth_token",
    "revision", "subfolder", "trust_remote_code", "is_local", "_commit_hash", "_from_auto", "_from_pipeline",
})
# fmt: on
CLEANED_CONFIGS = ("config.json", "tokenizer_config.json")
FALLBACK_EXAMPLE = "Where is my refund?"  # the usage snippet's input when the run has no test text


# --------------------------------------------------------------------------- the model-index


def evaluated_split(plan: Plan, metrics: dict, inspection: dict | None = None) -> dict:
    """Where the test numbers come from: the split as `load_dataset` names it, in words, and how it was made.

    With `test_split` the data set's own split is the test set. Otherwise train.py pooled every split the
    source has (a single file is its `train` split), de-duplicated it and held out a stratified share: the
    numbers come from part of that pool, never from a split the source calls `test`.
    """
    rows = (metrics.get("rows") or {}).get("test")
    if plan.test_split:
        return {
            "split": plan.test_split,
            "words": f"the data set's official `{plan.test_split}` split, de-duplicated by normalised text",
            "short": f"official {plan.test_split} split",
            "args": {"test_split": "official", "deduplicated": "by normalised text", "test_rows": rows},
        }
    sources = list((inspection or {}).get("splits") or {})
    if not sources and Path(plan.dataset).suffix.lower() in DATA_SUFFIXES:
        sources = ["train"]  # train.py reads one local file as the `train` split
    split = "+".join(sources) or "all"  # `all`: every split of the source, pooled, as train.py does
    share = f"{plan.test_size:.0%}"
    origin = f"the `{split}` split" if len(sources) == 1 else f"all splits of the source pooled (`{split}`)"
    return {
        "split": split,
        "words": f"a held-out stratified {share} of {origin}, made by train.py after de-duplication by "
        f"normalised text (seed {plan.seed})",
        "short": f"held-out {share} of {split}, seed {plan.seed}",
        "args": {
            "test_split": "held out by train.py",
            "method": "stratified, after de-duplication by normalised text",
            "test_size": plan.test_size,
            "seed": plan.seed,
            "test_rows": rows,
        },
    }


def _eval_results(block: dict, common: dict) -> list:
    """Accuracy and macro-F1 of one EVAL block as model-index entries."""
    from huggingface_hub import EvalResult

    return [
        EvalResult(metric_type="accuracy", metric_name="Accuracy", metric_value=block["accuracy"], **common),
        EvalResult(
            metric_type="f1",
            metric_name="Macro F1",
            metric_value=block["macro_f1"],
            metric_args={"average": "macro"},
            **common,
        ),
    ]


def _index_results(plan: Plan, metrics: dict, inspection: dict | None = None) -> list:
    """The model-index: what `pipeline()` loads from the repo (the transformer alone), once per metric.

    A shipped ensemble needs the Space's code, not just this repo's files, so its numbers stay in the text.
    """
    name = hub_dataset(plan) or Path(plan.dataset).name
    where = evaluated_split(plan, metrics, inspection)
    common = {
        "task_type": "text-classification",
        "task_name": "Text Classification",
        "dataset_type": name,
        "dataset_name": f"{name} ({where['short']})",
        "dataset_config": plan.dataset_config,
        "dataset_split": where["split"],
        "dataset_revision": plan.dataset_revision,
        "dataset_args": {key: value for key, value in where["args"].items() if value is not None},
    }
    return _eval_results(metrics.get("finetuned") or shipped_eval(metrics), common)


def card_data(plan: Plan, metrics: dict, repo_id: str, examples, lic: License, inspection: dict | None = None):
    """Front matter: model-index per https://github.com/huggingface/hub-docs/blob/main/modelcard.md."""
    from huggingface_hub import ModelCardData

    dataset = hub_dataset(plan)
    page = f"https://huggingface.co/datasets/{dataset}" if dataset else None
    other = lic.id == "other"  # a licence the Hub has no id for: the card names it and links its text
    return ModelCardData(
        model_name=repo_id.split("/")[-1],
        base_model=plan.model,
        datasets=[dataset] if dataset else None,
        language="en",
        license=lic.id,
        license_name=(lic.name or None) if other else None,
        license_link=(lic.link or page or None) if other else None,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["text-classification", "ml-intern-bot", plan.label_column],
        metrics=["accuracy", "f1"],
        eval_results=_index_results(plan, metrics, inspection),
        widget=[{"text": t, "example_title": lab} for t, lab in examples[:5]] or None,
    )


# --------------------------------------------------------------------------- what the text says


def _results_view(metrics: dict) -> dict:
    """What the card says about the run's numbers: the shipped block first, the others beside it, the
    decision between them and the abstention of the shipped one."""
    return {
        "rows": metrics.get("rows", {}),
        "train": metrics.get("train", {}),
        "shipped": shipped_eval(metrics),
        "shipped_title": shipped_title(metrics),
        "weight": ensemble_weight(metrics),  # 0.0: the baseline ships; None: the fine-tune ships alone
        "fine": metrics.get("finetuned") or {},
        **decision_view(metrics),
        **abstention_view(metrics),
    }


def _risks_view(metrics: dict, inspection: dict | None, out_dir: Path | None) -> dict:
    """The data's known traps: the inspection's findings, else template slots counted in the run's splits."""
    insp = inspection or {}
    per_class = shipped_eval(metrics).get("per_class") or {}
    slots = insp.get("placeholder_rows") or sum(bool(PLACEHOLDER.search(t)) for t in split_texts(out_dir))
    return {
        "insp": insp,
        "slots": slots,
        "untested": [lab for lab, row in per_class.items() if not row.get("support")],
    }


# --------------------------------------------------------------------------- the card and the repo


def render_model_card(
    plan: Plan,
    metrics: dict,
    repo_id: str,
    inspection: dict | None = None,
    examples: list[tuple[str, str]] | None = None,
    out_dir: Path | None = None,
) -> str:
    """The README.md of the model repo: model-index front matter + an honest card."""
    examples = examples or []
    lic = license_for(plan)
    dataset = hub_dataset(plan)
    view = {
        "card_data": card_data(plan, metrics, repo_id, examples, lic, inspection).to_yaml(),
        "title": repo_id.split("/")[-1],
        "repo_id": repo_id,
        "plan": plan,
        "license": lic,
        "dataset_link": f"[`{dataset}`](https://huggingface.co/datasets/{dataset})" if dataset else f"`{plan.dataset}`",
        "attribution": attribution(plan),
        "evaluated": evaluated_split(plan, metrics, inspection),
        **_results_view(metrics),
        **_risks_view(metrics, inspection, out_dir),
        **classes_view(metrics, out_dir, plan.labels),
        **stress_view(plan, metrics, out_dir),
        # A JSON string literal is valid Python too; \u0060 keeps a backtick from closing the code block.
        "example": json.dumps(examples[0][0] if examples else FALLBACK_EXAMPLE).replace("`", "\\u0060"),
    }
    return environment("text").get_template("model_card.md.j2").render(**view)


def shipped_config(path: Path) -> bytes:
    """A saved config.json / tokenizer_config.json without the keys that only told from_pretrained how to load."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise PublishError(f"{path} is not a JSON object: re-run training")
    kept = {key: value for key, value in data.items() if key not in LOADER_ONLY_KEYS}
    return (json.dumps(kept, indent=2, ensure_ascii=False) + "\n").encode()


def build_model_repo(out_dir: Path, plan: Plan, metrics: dict, repo_id: str, inspection: dict | None = None) -> Files:
    """Files of the model repo: card, weights + tokenizer, metrics, confusion matrix, training config."""
    out_dir = Path(out_dir)
    weights = model_files(out_dir)
    check_shipped(out_dir, metrics)  # the card describes the predictor these files serve, or nothing is published
    for name in CLEANED_CONFIGS:
        if isinstance(weights.get(name), Path):
            weights[name] = shipped_config(out_dir / "model" / name)
    png = out_dir / "confusion_matrix.png"
    if not png.is_file():
        raise PublishError(f"{png} is missing: run evaluate.py on this run before publishing")
    examples = pick_examples(out_dir, plan.labels)
    return {
        "README.md": render_model_card(plan, metrics, repo_id, inspection, examples, out_dir).encode(),
        **weights,
        "metrics.json": (json.dumps(metrics, indent=2, ensure_ascii=False) + "\n").encode(),
        "confusion_matrix.png": png,
        # Plan.model_dump() as YAML: the contract's config.yaml, so `train.py --config config.yaml` reproduces it.
        "config.yaml": yaml.safe_dump(plan.model_dump(), sort_keys=False, allow_unicode=True).encode(),
    }
