"""Render the pull request's files (train.py, evaluate.py, app.py, config.yaml, ...) from a Plan.

Untrusted text (issue bodies, dataset contents, LLM answers) reaches the generated files only as
data: plan values go into config.yaml through `yaml.safe_dump`, and into Python source only through
the `pyrepr` filter (a `repr()` string literal) or into Markdown through the `md` filter. The
templates never place a plan value in a code position.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
import yaml

from bot import templates_dir
from bot.core.render import environment as render_environment
from bot.core.render import md, pyrepr  # noqa: F401 -- the filters the script templates use, named here too
from bot.planner.schema import Plan

SPLITS_MODULE = Path(__file__).resolve().parents[1] / "research" / "splits.py"
TFIDF_MODULE = Path(__file__).resolve().parents[1] / "research" / "tfidf.py"
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
    }
    files = {"config.yaml": config_yaml(plan)}
    for name, template in SCRIPT_TEMPLATES.items():
        if name in OPTIONAL and not (templates_dir() / template).is_file():
            continue
        files[name] = env.get_template(template).render(**context)
    return files

