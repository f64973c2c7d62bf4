"""Publishing after `/approve-publish`: a model repo (card, weights, metrics) and a Gradio Space.

Both targets share one file list per repo (`build_model_repo`, `build_space`), so a local publish
(`publish_local`, the playground and the tests) lays out byte for byte what `publish_hub` commits,
except that the local Space also carries `model/` so that it runs offline. On the Hub each repo gets
exactly one `create_commit`; unchanged files are skipped by huggingface_hub's preupload check, so a
second publish of the same run makes no commit at all.

Headline numbers, the abstain threshold and the model-index describe the shipped predictor
(`bot/artifacts.py`): the fine-tune alone, or its average with the TF-IDF companion in `model/tfidf/`,
which both repos carry like any other file of the model folder.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jinja2
import yaml

from bot import codegen, templates_dir
from bot.artifacts import ensemble_outcome, shipped_eval, shipped_key, shipped_title
from bot.errors import UserError
from bot.planner.schema import HUB_ID, Plan

Files = dict[str, "Path | bytes"]
UNKNOWN = "UNKNOWN"
PLACEHOLDER = re.compile(r"\{\{[^{}]+\}\}")
# fmt: off
# Section headings every card carries (tests and reviewers rely on them).
CARD_SECTIONS = (
    "## Intended use", "## How to use", "## Training data", "## Training procedure", "## Evaluation",
    "### Per-class results", "### Confusion matrix", "### Calibration and abstention", "### Robustness",
    "## Limitations and risks", "## Licence",
)
# Licence ids the Hub accepts in `license:` (https://huggingface.co/docs/hub/repositories-licenses), subset.
HUB_LICENSES = {
    "apache-2.0", "mit", "bsd-3-clause", "cc0-1.0", "cc-by-4.0", "cc-by-sa-4.0", "cc-by-sa-3.0", "cc-by-nc-4.0",
    "cc-by-nc-sa-4.0", "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0", "odc-by", "odbl",
    "gpl-3.0", "openrail",
}
# fmt: on
SHARE_ALIKE = {"cdla-sharing-1.0", "cc-by-sa-4.0", "cc-by-sa-3.0", "cc-by-nc-sa-4.0", "odbl", "gpl-3.0"}
LICENSE_LINKS = {
    "cdla-sharing-1.0": "https://cdla.dev/sharing-1-0/",
    "cc-by-4.0": "https://creativecommons.org/licenses/by/4.0/",
    "cc-by-sa-4.0": "https://creativecommons.org/licenses/by-sa/4.0/",
    "apache-2.0": "https://www.apache.org/licenses/LICENSE-2.0",
}
BASE_MODEL_LICENSES = {"sentence-transformers/all-MiniLM-L6-v2": "apache-2.0"}
DATASET_ATTRIBUTION = {
    "bitext/Bitext-customer-support-llm-chatbot-training-dataset": (
        "Bitext customer-support LLM chatbot training dataset, (c) Bitext Innovations International, Inc., "
        "licensed under CDLA-Sharing-1.0"
    ),
    "PolyAI/banking77": (
        "BANKING77, (c) PolyAI, licensed under CC-BY-4.0; Casanueva et al. (2020), "
        '"Efficient Intent Detection with Dual Sentence Encoders"'
    ),
}
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
DATA_SUFFIXES = {".csv", ".parquet", ".jsonl", ".json", ".tsv", ".txt"}
SKIP_MODEL_FILES = {"training_args.bin", "optimizer.pt", "scheduler.pt", "trainer_state.json"}
# The Space's app.py needs sklearn, safetensors and numpy for the TF-IDF half of a shipped ensemble.
SPACE_EXTRA_REQUIREMENTS = ("scikit-learn", "safetensors", "numpy")
TRANSFORMER_ALONE = "transformer alone, pipeline()"  # model-index name suffix beside a shipped ensemble


class PublishError(UserError):
    """Publishing failed; the message says what to fix (never contains a token)."""


@dataclass(frozen=True)
class PublishResult:
    model_url: str  # Hub URL, or the local folder for a local publish
    space_url: str
    already_published: bool = False  # True when nothing changed: the same run was published before


@dataclass(frozen=True)
class License:
    id: str
    name: str | None
    link: str | None
    note: str


def _env() -> jinja2.Environment:
    """Codegen's Jinja2 setup (so app.py renders as in the PR) plus the card's formatting filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()), keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    env.filters.update(num=_num, pct=_pct, cell=_cell)
    return env


def hub_dataset(plan: Plan) -> str | None:
    """The dataset's Hub id to credit (`dataset_name` for a local copy), or None for a local file."""
    if plan.dataset_name and HUB_ID.match(plan.dataset_name):
        return plan.dataset_name
    local = plan.dataset.startswith((".", "/", "~")) or Path(plan.dataset).suffix in DATA_SUFFIXES
    return None if local or not HUB_ID.match(plan.dataset) else plan.dataset


def license_for(plan: Plan) -> License:
    """The repo licence follows the data's licence, because the repo ships rows of that data."""
    raw = _cell(plan.dataset_license or "")  # free text from the plan: shown, never trusted
    key = (plan.dataset_license or "").strip().lower()
    base = BASE_MODEL_LICENSES.get(plan.model, "see the base model's card")
    why = (
        f"This repository ships verbatim rows of the training data (widget examples, misclassified test "
        f"rows in `metrics.json`) and weights derived from it, so it is offered under the data's licence, "
        f"{raw}, rather than the base model's ({base}). "
    )
    if not raw:
        return License(
            "other",
            "unknown",
            None,
            "The plan did not record the training data's licence: "
            "nobody has checked whether it allows redistribution. Do not reuse this model until you have.",
        )
    if key in SHARE_ALIKE:
        why += (
            f"{raw} is share-alike: anyone who redistributes these rows, or changes to them, must do so "
            f"under {raw} too, which rules out relabelling this repository as Apache-2.0. "
        )
    if key in HUB_LICENSES:
        return License(key, None, LICENSE_LINKS.get(key), why + "This is a conservative reading, not legal advice.")
    slug = re.sub(r"[^a-z0-9.-]+", "-", key).strip("-")
    return License("other", slug, LICENSE_LINKS.get(key), why + "This is a conservative reading, not legal advice.")


def pick_examples(out_dir: Path, labels: list[str], limit: int = 12) -> list[tuple[str, str]]:
    """One short test text per class (placeholder-free when possible), for the widget and the Space."""
    import pandas as pd

    for split in ("test", "validation", "train"):
        path = Path(out_dir) / "splits" / f"{split}.csv"
        if path.is_file():
            frame = pd.read_csv(path, dtype=str).dropna()
            break
    else:
        return []
    frame = frame.assign(has_slot=frame["text"].str.contains(PLACEHOLDER), size=frame["text"].str.len())
    frame = frame.sort_values(["has_slot", "size"], kind="stable")
    firsts = frame.drop_duplicates("label").set_index("label")["text"]
    return [(firsts[label], label) for label in labels if label in firsts][:limit]


def _num(value, digits: int = 3) -> str:
    """A metric for a table cell; n/a when the run did not produce it."""
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def _pct(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "n/a"


def _cell(text) -> str:
    """Untrusted text made safe for one Markdown table cell or line."""
    text = " ".join(str(text).split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


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


def _card_data(plan: Plan, metrics: dict, repo_id: str, examples, lic: License):
    """Front matter: model-index per https://github.com/huggingface/hub-docs/blob/main/modelcard.md.

    The plain "Accuracy" / "Macro F1" describe what ships; beside a shipped ensemble the transformer
    alone (what `pipeline()` loads) is listed under its own names, so neither is mistaken for the other.
    """
    from huggingface_hub import ModelCardData

    dataset = hub_dataset(plan)
    name = dataset or Path(plan.dataset).name
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
    page = f"https://huggingface.co/datasets/{dataset}" if dataset else None
    extra = {"license_name": lic.name, "license_link": lic.link or page} if lic.id == "other" else {}
    return ModelCardData(
        model_name=repo_id.split("/")[-1],
        base_model=plan.model,
        datasets=[dataset] if dataset else None,
        language="en",
        license=lic.id,
        library_name="transformers",
        pipeline_tag="text-classification",
        tags=["text-classification", "ml-intern-bot", plan.label_column],
        metrics=["accuracy", "f1"],
        eval_results=results,
        widget=[{"text": t, "example_title": lab} for t, lab in examples[:5]] or None,
        **{k: v for k, v in extra.items() if v},
    )


def _ensemble_weight(metrics: dict) -> float | None:
    """The fine-tune's weight in the shipped ensemble's averaged probabilities; None when it ships alone."""
    if shipped_key(metrics) != "ensemble":
        return None
    return metrics["ensemble"].get("finetuned_weight")


def _split_texts(out_dir: Path | None) -> list[str]:
    """All split texts of the run (for counting template slots), or none."""
    import pandas as pd

    if out_dir is None:
        return []
    paths = [Path(out_dir) / "splits" / f"{s}.csv" for s in ("train", "validation", "test")]
    return [t for p in paths if p.is_file() for t in pd.read_csv(p, dtype=str)["text"].dropna()]


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
    shipped = shipped_eval(metrics)
    texts = _split_texts(out_dir)
    view = {
        "card_data": _card_data(plan, metrics, repo_id, examples, lic).to_yaml(),
        "title": repo_id.split("/")[-1],
        "repo_id": repo_id,
        "plan": plan,
        "license": lic,
        "dataset_link": f"[`{dataset}`](https://huggingface.co/datasets/{dataset})" if dataset else f"`{plan.dataset}`",
        "attribution": DATASET_ATTRIBUTION.get(dataset or "")
        or f"`{dataset or plan.dataset}`, licence {_cell(plan.dataset_license or 'not recorded')}",
        "rows": metrics.get("rows", {}),
        "train": metrics.get("train", {}),
        "verdict": metrics.get("verdict", ""),
        "shipped": shipped,
        "shipped_title": shipped_title(metrics),
        "weight": _ensemble_weight(metrics),  # None: the fine-tune ships alone
        "ensemble_outcome": ensemble_outcome(metrics),
        "fine": metrics.get("finetuned") or {},
        "base": metrics.get("baseline") or {},
        "insp": inspection or {},
        "slots": (inspection or {}).get("placeholder_rows") or sum(bool(PLACEHOLDER.search(t)) for t in texts),
        "untested": [lab for lab, row in (shipped.get("per_class") or {}).items() if not row.get("support")],
        "example": json.dumps(examples[0][0] if examples else "Where is my refund?").replace("`", "\\u0060"),
    }
    return _env().get_template("model_card.md.j2").render(**view)


def render_app(plan: Plan, examples: list[tuple[str, str]], threshold: float, model_repo: str) -> str:
    """The Space's app.py (same template and context as the PR's app.py, TF-IDF code embedded)."""
    return (
        _env()
        .get_template("scripts/app.py.j2")
        .render(
            plan=plan,
            examples=examples,
            threshold=threshold,
            model_repo=model_repo,
            tfidf_source=codegen.tfidf_source(),
        )
    )


def _version(package: str, default: str) -> str:
    """Installed version of a package (the bot can publish without gradio installed)."""
    try:
        return version(package)
    except PackageNotFoundError:
        return default


def _model_files(out_dir: Path) -> Files:
    """Everything save_pretrained wrote to OUT/model, minus trainer state."""
    model_dir = Path(out_dir) / "model"
    if not (model_dir / "config.json").is_file():
        raise PublishError(f"no trained model in {model_dir}: run training (and `/approve-train`) before publishing")
    return {
        p.relative_to(model_dir).as_posix(): p
        for p in sorted(model_dir.rglob("*"))
        if p.is_file()
        and p.name not in SKIP_MODEL_FILES
        and not p.relative_to(model_dir).parts[0].startswith("checkpoint-")
    }


def build_model_repo(out_dir: Path, plan: Plan, metrics: dict, repo_id: str, inspection: dict | None = None) -> Files:
    """Files of the model repo: card, weights + tokenizer, metrics, confusion matrix, training config."""
    out_dir = Path(out_dir)
    model_files = _model_files(out_dir)
    png = out_dir / "confusion_matrix.png"
    if not png.is_file():
        raise PublishError(f"{png} is missing: run evaluate.py on this run before publishing")
    examples = pick_examples(out_dir, plan.labels)
    return {
        "README.md": render_model_card(plan, metrics, repo_id, inspection, examples, out_dir).encode(),
        **model_files,
        "metrics.json": (json.dumps(metrics, indent=2, ensure_ascii=False) + "\n").encode(),
        "confusion_matrix.png": png,
        # Plan.model_dump() as YAML: the contract's config.yaml, so `train.py --config config.yaml` reproduces it.
        "config.yaml": yaml.safe_dump(plan.model_dump(), sort_keys=False, allow_unicode=True).encode(),
    }


def build_space(
    out_dir: Path, plan: Plan, metrics: dict, space_id: str, model_repo: str, *, include_model: bool = False
) -> Files:
    """Files of the Gradio Space; `include_model` adds `model/` (local publish: runs offline)."""
    out_dir = Path(out_dir)
    threshold = float((shipped_eval(metrics).get("abstain") or {}).get("threshold", 0.0))
    examples = pick_examples(out_dir, plan.labels)
    lic = license_for(plan)
    gradio = _version("gradio", "5.0.0")
    readme = (
        _env()
        .get_template("space_readme.md.j2")
        .render(
            title=f"{plan.label_column} classifier",
            sdk_version=gradio,
            license=lic.id,
            repo_id=model_repo,
            dataset_id=hub_dataset(plan),
            short_description=f"Classify text by {plan.label_column}"[:60],
            plan=plan,
            model_url=f"https://huggingface.co/{model_repo}",
            top_k=min(len(plan.labels), 5),
            threshold=threshold,
            shipped_title=shipped_title(metrics),
            weight=_ensemble_weight(metrics),
        )
    )
    transformers_major = int(_version("transformers", "5").split(".")[0])
    transformers = f"transformers>={transformers_major},<{transformers_major + 1}"
    requirements = [f"gradio=={gradio}", transformers, "torch", *SPACE_EXTRA_REQUIREMENTS]
    files: Files = {
        "README.md": readme.encode(),
        "app.py": render_app(plan, examples, threshold, model_repo).encode(),
        "requirements.txt": ("\n".join(requirements) + "\n").encode(),
    }
    if include_model:
        files.update({f"model/{name}": path for name, path in _model_files(out_dir).items()})
    return files


def _content(value: Path | bytes) -> bytes:
    return value.read_bytes() if isinstance(value, Path) else value


def _write_tree(root: Path, files: Files) -> bool:
    """Write files under root, touching only those whose bytes differ; True when anything changed."""
    changed = False
    for name, value in files.items():
        dest = root / name
        data = _content(value)
        if dest.is_file() and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        changed = True
    return changed


def _check_ids(*repo_ids: str) -> None:
    """Repo ids are `owner/name` (Hub rules); anything else could also escape the local target folder."""
    for repo_id in repo_ids:
        if not REPO_ID.match(repo_id) or ".." in repo_id:
            raise PublishError(f"{repo_id!r} is not a Hub repo id like owner/name")


def publish_local(
    target: Path, out_dir: Path, plan: Plan, metrics: dict, repo_id: str, space_id: str, inspection: dict | None = None
) -> PublishResult:
    """Lay out `target/models/<repo_id>` and `target/spaces/<space_id>` as the Hub would; idempotent."""
    _check_ids(repo_id, space_id)
    target = Path(target)
    model_root, space_root = target / "models" / repo_id, target / "spaces" / space_id
    changed = _write_tree(model_root, build_model_repo(out_dir, plan, metrics, repo_id, inspection))
    changed |= _write_tree(space_root, build_space(out_dir, plan, metrics, space_id, repo_id, include_model=True))
    return PublishResult(str(model_root), str(space_root), already_published=not changed)


def _commit(api, repo_id: str, files: Files, repo_type: str, message: str) -> tuple[str, bool]:
    """One create_commit for all files; returns (url, unchanged)."""
    from huggingface_hub import CommitOperationAdd

    kwargs = {"space_sdk": "gradio"} if repo_type == "space" else {}
    url = str(api.create_repo(repo_id, repo_type=repo_type, exist_ok=True, **kwargs))
    before = api.repo_info(repo_id, repo_type=repo_type).sha
    ops = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=value) for name, value in files.items()]
    info = api.create_commit(repo_id, operations=ops, commit_message=message, repo_type=repo_type)
    return url, info.oid == before


def publish_hub(
    token: str,
    out_dir: Path,
    plan: Plan,
    metrics: dict,
    repo_id: str,
    space_id: str,
    inspection: dict | None = None,
    *,
    endpoint: str | None = None,
) -> PublishResult:
    """Create (if needed) and fill the model repo and the Space, one commit each; idempotent."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    _check_ids(repo_id, space_id)
    if not token:
        raise PublishError("HF_TOKEN is not set: add a Hugging Face token with write access as a secret")
    api = HfApi(token=token, endpoint=endpoint)
    model_files = build_model_repo(out_dir, plan, metrics, repo_id, inspection)
    space_files = build_space(out_dir, plan, metrics, space_id, repo_id)
    try:
        model_url, same_model = _commit(api, repo_id, model_files, "model", "Publish model trained by ml-intern-bot")
        space_url, same_space = _commit(api, space_id, space_files, "space", "Publish demo Space by ml-intern-bot")
    except OfflineModeIsEnabled as exc:
        raise PublishError(
            "HF_HUB_OFFLINE is set, so the Hub cannot be reached: unset it, or set "
            "ML_INTERN_PUBLISH_TARGET to publish into a local folder"
        ) from exc
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise PublishError(
            f"the Hub refused the upload (HTTP {status}): {exc.server_message or exc}. "
            "Check that HF_TOKEN has write access to the namespace."
        ) from exc
    return PublishResult(model_url, space_url, already_published=same_model and same_space)
