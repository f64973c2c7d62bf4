"""The model repository: its README (an honest model card with model-index front matter) and its files.

The card's headline numbers, abstain threshold and model-index describe the shipped predictor
(`bot/writing/artifacts.py`): the fine-tune alone, or its average with the TF-IDF companion in `model/tfidf/`.
Beside a shipped ensemble the transformer alone, which is what `pipeline()` loads, is indexed under
its own names, so a Hub page never credits one with the other's score.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bot.core.render import environment
from bot.planner.schema import Plan
from bot.writing.artifacts import ensemble_outcome, shipped_eval, shipped_key, shipped_title
from bot.writing.publish.licence import License, attribution, hub_dataset, license_for
from bot.writing.publish.run import (
    PLACEHOLDER,
    Files,
    PublishError,
    ensemble_weight,
    model_files,
    pick_examples,
    split_texts,
)

# fmt: off
# Section headings every card carries (tests and reviewers rely on them).
CARD_SECTIONS = (
    "## Intended use", "## How to use", "## Training data", "## Training procedure", "## Evaluation",
    "### Per-class results", "### Confusion matrix", "### Calibration and abstention", "### Robustness",
    "## Limitations and risks", "## Licence",
)
# fmt: on
TRANSFORMER_ALONE = "transformer alone, pipeline()"  # model-index name suffix beside a shipped ensemble
FALLBACK_EXAMPLE = "Where is my refund?"  # the usage snippet's input when the run has no test text


def _eval_results(block: dict, common: dict, suffix: str = "") -> list:
    """Accuracy and macro-F1 of one EVAL block as model-index entries; `suffix` tells extra ones apart."""
    from huggingface_hub import EvalResult

    named = (lambda name: f"{name} ({suffix})") if suffix else (lambda name: name)
    return [
        EvalResult(metric_type="accuracy", metric_name=named("Accuracy"), metric_value=block["accuracy"], **common),
        EvalResult(
            metric_type="f1",
            metric_name=named("Macro F1"),
            metric_value=block["macro_f1"],
            metric_args={"average": "macro"},
            **common,
        ),
    ]


def _index_results(plan: Plan, metrics: dict) -> list:
    """The model-index entries: the shipped predictor first (a Hub page shows the first), then the rest."""
    name = hub_dataset(plan) or Path(plan.dataset).name
    common = {
        "task_type": "text-classification",
        "task_name": "Text Classification",
        "dataset_type": name,
        "dataset_name": name,
        "dataset_config": plan.dataset_config,
        "dataset_split": plan.test_split or "test",
        "dataset_revision": plan.dataset_revision,
    }
    results = _eval_results(shipped_eval(metrics), common)
    if shipped_key(metrics) == "ensemble":
        results += _eval_results(metrics["finetuned"], common, TRANSFORMER_ALONE)
    return results


def card_data(plan: Plan, metrics: dict, repo_id: str, examples, lic: License):
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
        eval_results=_index_results(plan, metrics),
        widget=[{"text": t, "example_title": lab} for t, lab in examples[:5]] or None,
    )


def _results_view(metrics: dict) -> dict:
    """What the card says about the run's numbers: the shipped block first, the others beside it."""
    return {
        "rows": metrics.get("rows", {}),
        "train": metrics.get("train", {}),
        "verdict": metrics.get("verdict", ""),
        "shipped": shipped_eval(metrics),
        "shipped_title": shipped_title(metrics),
        "weight": ensemble_weight(metrics),  # None: the fine-tune ships alone
        "ensemble_outcome": ensemble_outcome(metrics),
        "fine": metrics.get("finetuned") or {},
        "base": metrics.get("baseline") or {},
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
        "card_data": card_data(plan, metrics, repo_id, examples, lic).to_yaml(),
        "title": repo_id.split("/")[-1],
        "repo_id": repo_id,
        "plan": plan,
        "license": lic,
        "dataset_link": f"[`{dataset}`](https://huggingface.co/datasets/{dataset})" if dataset else f"`{plan.dataset}`",
        "attribution": attribution(plan),
        **_results_view(metrics),
        **_risks_view(metrics, inspection, out_dir),
        # A JSON string literal is valid Python too; \u0060 keeps a backtick from closing the code block.
        "example": json.dumps(examples[0][0] if examples else FALLBACK_EXAMPLE).replace("`", "\\u0060"),
    }
    return environment("text").get_template("model_card.md.j2").render(**view)


def build_model_repo(out_dir: Path, plan: Plan, metrics: dict, repo_id: str, inspection: dict | None = None) -> Files:
    """Files of the model repo: card, weights + tokenizer, metrics, confusion matrix, training config."""
    out_dir = Path(out_dir)
    weights = model_files(out_dir)
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
