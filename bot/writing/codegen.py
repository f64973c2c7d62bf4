"""Render the pull request's files (train.py, evaluate.py, app.py, config.yaml, ...) from a Plan.

Untrusted text (issue bodies, dataset contents, LLM answers) reaches the generated files only as
data: plan values go into config.yaml through `yaml.safe_dump`, and into Python source only through
the `pyrepr` filter (a `repr()` string literal) or into Markdown through the `md` filter. The
templates never place a plan value in a code position.
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import jinja2
import yaml

from bot import templates_dir
from bot.core.render import environment as render_environment
from bot.core.render import md, pyrepr  # noqa: F401 -- the filters the script templates use, named here too
from bot.planner.budget import GPU_FLAVORS
from bot.planner.schema import Plan

SPLITS_MODULE = Path(__file__).resolve().parents[1] / "research" / "splits.py"
TFIDF_MODULE = Path(__file__).resolve().parents[1] / "research" / "tfidf.py"
SELECTION_MODULE = Path(__file__).resolve().parents[1] / "research" / "selection.py"
SCRIPT_TEMPLATES = {
    "train.py": "scripts/train.py.j2",
    "evaluate.py": "scripts/evaluate.py.j2",
    "app.py": "scripts/app.py.j2",
    "requirements.txt": "scripts/requirements.txt.j2",
    "README.md": "scripts/README.md.j2",
}
OPTIONAL = {"app.py"}  # rendered when its template exists (it is written separately)
EXAMPLES_PER_CLASS = 2
EXAMPLE_CHARS = 200
EXAMPLE_SOURCE_MAX_BYTES = 50 * 1024 * 1024
# What each script imports, by distribution name (PEP 723 `dependencies`): one list per script, so
# `uv run SCRIPT` installs exactly what that script needs. A new import in a template belongs here too
# (tests/scripts/test_reproducible.py checks every import is declared).
SCRIPT_PACKAGES = {
    "train.py": ("torch", "transformers", "accelerate", "datasets", "huggingface_hub", "scikit-learn", "pandas",
                 "numpy", "pyyaml", "safetensors"),
    "evaluate.py": ("torch", "transformers", "scikit-learn", "pandas", "numpy", "pyyaml", "matplotlib", "safetensors"),
    "app.py": ("gradio", "torch", "transformers", "huggingface_hub", "scikit-learn", "numpy", "safetensors"),
}
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"  # PyPI's Linux torch pulls ~5 GB of CUDA wheels
CPU_INDEX_NAME = "pytorch-cpu"  # `uv run --index pytorch-cpu=URL` points it at a mirror
CONFIG_HEADER = (
    "# The training plan, proposed by ml-intern-bot. train.py and evaluate.py read every setting\n"
    "# from here; change a value (or comment `/plan key=value` on the issue) and rerun.\n"
)


def environment() -> jinja2.Environment:
    """Scripts render through the bot's one environment, as written (no trimming, nothing escaped)."""
    return render_environment("text")


def module_source(path: Path) -> str:
    """A dependency-light bot module without `from __future__` lines, to embed in a standalone script."""
    text = path.read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if not ln.startswith("from __future__ import")]
    return "\n".join(lines).strip() + "\n"


def splits_source() -> str:
    """bot/research/splits.py, embedded in train.py so the bot and the script split data identically."""
    return module_source(SPLITS_MODULE)


def tfidf_source() -> str:
    """bot/research/tfidf.py, embedded in train.py, evaluate.py and app.py (one TF-IDF model, three users)."""
    return module_source(TFIDF_MODULE)


def selection_source() -> str:
    """bot/research/selection.py, embedded in train.py (the ship decision) and evaluate.py (intervals,
    abstain threshold), so both read one definition of each test and rule."""
    return module_source(SELECTION_MODULE)


def version_range(package: str) -> str:
    """`package` bounded to the release installed here, the one the smoke test ran: torch to its minor
    series (a torch minor release changes kernels and defaults), 0.x packages to their minor, others to
    their major (semantic versioning); the bare name when it is not installed."""
    try:
        release = re.match(r"(\d+)(?:\.(\d+))?", version(package))
    except PackageNotFoundError:
        return package
    if release is None:
        return package
    major, minor = int(release[1]), int(release[2] or 0)
    if package == "torch" or major == 0:
        return f"{package}>={major}.{minor},<{major}.{minor + 1}"
    return f"{package}>={major}.{minor},<{major + 1}"


def script_header(name: str, plan: Plan) -> str:
    """The PEP 723 `# /// script` block of a generated script: this Python's minor version as the floor,
    its packages bounded to the installed releases, and, unless the plan runs on a GPU, torch from the
    PyTorch CPU index (explicit: nothing else is taken from it). app.py always runs on a CPU Space."""
    lines = [f'requires-python = ">={sys.version_info.major}.{sys.version_info.minor}"', "dependencies = ["]
    lines += [f'    "{version_range(package)}",' for package in SCRIPT_PACKAGES[name]]
    lines.append("]")
    if "torch" in SCRIPT_PACKAGES[name] and (name == "app.py" or plan.hardware not in GPU_FLAVORS):
        lines += ["", "[tool.uv.sources]", f'torch = {{ index = "{CPU_INDEX_NAME}" }}', "",
                  "[[tool.uv.index]]", f'name = "{CPU_INDEX_NAME}"', f'url = "{CPU_TORCH_INDEX}"', "explicit = true"]
    body = [f"# {line}" if line else "#" for line in lines]
    return "\n".join(["# /// script", *body, "# ///"])


def config_yaml(plan: Plan) -> str:
    """config.yaml = Plan.model_dump() as YAML (safe_dump quotes any hostile string)."""
    body = yaml.safe_dump(plan.model_dump(), sort_keys=False, allow_unicode=True, width=100)
    return CONFIG_HEADER + body


def _local_table(dataset: str) -> Path | None:
    """The plan's dataset as a small local file, if it is one; reading the Hub here is not cheap.

    Only an absolute path (a maintainer's, inside the allow-listed data folders) is read here:
    a relative one names a file in the repository, which is not on this machine.
    """
    path = Path(dataset)
    if not path.is_absolute():
        return None
    if path.suffix.lower() not in {".csv", ".parquet", ".jsonl", ".json"}:
        return None
    if not path.is_file() or path.stat().st_size > EXAMPLE_SOURCE_MAX_BYTES:
        return None
    return path


def example_pairs(plan: Plan) -> list[tuple[str, str]]:
    """Up to 2 (text, label) pairs per class for the Space, when the dataset is a small local file."""
    path = _local_table(plan.dataset)
    if path is None:
        return []
    import pandas as pd

    try:
        readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet}
        reader = readers.get(path.suffix.lower(), lambda p: pd.read_json(p, lines=path.suffix == ".jsonl"))
        frame = reader(path)[[plan.text_column, plan.label_column]].dropna()
    except (OSError, ValueError, KeyError):
        return []
    frame = frame.astype(str)
    pairs: list[tuple[str, str]] = []
    for label in plan.labels:
        texts = frame.loc[frame[plan.label_column] == label, plan.text_column].head(EXAMPLES_PER_CLASS)
        pairs.extend((" ".join(t.split())[:EXAMPLE_CHARS], label) for t in texts)
    return pairs


def render_pr_files(
    plan: Plan,
    examples: list[tuple[str, str]] | None = None,
    threshold: float = 0.5,
    model_repo: str | None = None,
) -> dict[str, str]:
    """Path -> text of every file the pull request adds."""
    env = environment()
    context = {
        "plan": plan,
        "examples": list(examples) if examples is not None else example_pairs(plan),
        "threshold": float(threshold),
        "threshold_from_validation": False,  # app.py says so only when evaluate.py chose it (the published copy)
        "model_repo": model_repo,
        "splits_source": splits_source(),
        "tfidf_source": tfidf_source(),
        "selection_source": selection_source(),
    }
    files = {"config.yaml": config_yaml(plan)}
    for name, template in SCRIPT_TEMPLATES.items():
        if name in OPTIONAL and not (templates_dir() / template).is_file():
            continue
        header = script_header(name, plan) if name in SCRIPT_PACKAGES else ""
        files[name] = env.get_template(template).render(**context, script_header=header)
    return files

