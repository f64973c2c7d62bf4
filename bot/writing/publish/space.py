"""The Gradio Space: the PR's app.py rendered for the published model, its README and requirements.

The Space serves what the card evaluates: the shipped predictor (the TF-IDF baseline alone, the
fine-tune, or their ensemble, as `model/tfidf/tfidf.json` says) with the shipped block's abstain
threshold, so a visitor sees the same answers the numbers describe, and its README and page say which
predictor that is, how much of the test set it answers and how many off-topic sentences it refuses.
On the Hub it downloads the model repo by id; a local publish also copies `model/` beside `app.py`, so
`python app.py` runs offline.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bot.core.render import environment
from bot.planner.schema import Plan
from bot.writing import codegen
from bot.writing.artifacts import shipped_abstain, shipped_key, shipped_title
from bot.writing.publish.licence import hub_dataset, license_for
from bot.writing.publish.run import Files, check_shipped, ensemble_weight, model_files, pick_examples

UNKNOWN = "UNKNOWN"  # what app.py answers below the abstain threshold
# The Space's app.py needs sklearn, safetensors and numpy for the TF-IDF model (alone or in the ensemble).
SPACE_EXTRA_REQUIREMENTS = ("scikit-learn", "safetensors", "numpy")


def render_app(
    plan: Plan,
    examples: list[tuple[str, str]],
    threshold: float,
    model_repo: str,
    *,
    threshold_from_validation: bool = True,
    results: dict | None = None,
) -> str:
    """The Space's app.py (same template and context as the PR's app.py, TF-IDF code embedded).

    `threshold_from_validation`: whether evaluate.py chose `threshold` on the validation split (the app
    says so only then; the PR's copy, rendered before training, carries a placeholder). `results`: what
    the app's page says of the shipped predictor (`served_results`).
    """
    return (
        environment("text")
        .get_template("scripts/app.py.j2")
        .render(
            plan=plan,
            examples=examples,
            threshold=threshold,
            threshold_from_validation=threshold_from_validation,
            model_repo=model_repo,
            tfidf_source=codegen.tfidf_source(),
            results=results or {},
            # The PR's PEP 723 block, so the published copy runs with `uv run app.py` on the same bounds.
            script_header=codegen.script_header("app.py", plan),
        )
    )


def served_results(metrics: dict) -> dict:
    """The shipped predictor and its test results as app.py embeds them (numbers only: a JSON literal that
    is Python too, so no null)."""
    abstain = shipped_abstain(metrics)
    numbers = {
        "coverage": abstain.get("coverage"),
        "accuracy": abstain.get("accuracy"),
        "ood_refusal_rate": abstain.get("ood_refusal_rate"),
    }
    kept = {key: float(value) for key, value in numbers.items() if isinstance(value, int | float)}
    return {"shipped": shipped_key(metrics), **kept}


def _version(package: str, default: str) -> str:
    """Installed version of a package (the bot can publish without gradio installed)."""
    try:
        return version(package)
    except PackageNotFoundError:
        return default


def _requirements(gradio: str) -> bytes:
    """requirements.txt pinned to what rendered and tested the app: this gradio, this transformers major."""
    major = int(_version("transformers", "5").split(".")[0])
    lines = [f"gradio=={gradio}", f"transformers>={major},<{major + 1}", "torch", *SPACE_EXTRA_REQUIREMENTS]
    return ("\n".join(lines) + "\n").encode()


def _readme(plan: Plan, metrics: dict, model_repo: str, threshold: float, gradio: str) -> bytes:
    """The Space's README: the Hub's Space config in front matter, then what the demo serves."""
    text = (
        environment("text")
        .get_template("space_readme.md.j2")
        .render(
            title=f"{plan.label_column} classifier",
            sdk_version=gradio,
            license=license_for(plan).id,
            repo_id=model_repo,
            dataset_id=hub_dataset(plan),
            short_description=f"Classify text by {plan.label_column}"[:60],
            plan=plan,
            model_url=f"https://huggingface.co/{model_repo}",
            top_k=min(len(plan.labels), 5),
            threshold=threshold,
            kind=shipped_key(metrics),
            shipped_title=shipped_title(metrics),
            weight=ensemble_weight(metrics),
            abstain=shipped_abstain(metrics),
        )
    )
    return text.encode()


def build_space(
    out_dir: Path, plan: Plan, metrics: dict, space_id: str, model_repo: str, *, include_model: bool = False
) -> Files:
    """Files of the Gradio Space; `include_model` adds `model/` (local publish: runs offline)."""
    out_dir = Path(out_dir)
    check_shipped(out_dir, metrics)  # the Space serves what its README and the card describe
    abstain = shipped_abstain(metrics)
    threshold = float(abstain.get("threshold", 0.0))
    gradio = _version("gradio", "5.0.0")
    app = render_app(
        plan,
        pick_examples(out_dir, plan.labels),
        threshold,
        model_repo,
        threshold_from_validation="threshold" in abstain,
        results=served_results(metrics),
    )
    files: Files = {
        "README.md": _readme(plan, metrics, model_repo, threshold, gradio),
        "app.py": app.encode(),
        "requirements.txt": _requirements(gradio),
    }
    if include_model:
        files.update({f"model/{name}": path for name, path in model_files(out_dir).items()})
    return files
