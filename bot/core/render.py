"""The bot's one renderer: every text it writes (comments, scripts, the model card, the Space) comes from
`templates/` through this environment and its filters. No I/O beyond reading templates.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal

import jinja2

from bot import templates_dir
from bot.core.commands import help_table
from bot.writing.artifacts import (
    comparison_text,
    comparisons,
    decision,
    model_rows,
    shipped_eval,
    shipped_key,
    shipped_title,
    validation_text,
)

Kind = Literal["markdown", "text"]


def pct(value: Any, digits: int = 1) -> str:
    """0.9371 -> '93.7 %' everywhere the bot writes; a missing value reads 'n/a', never a fake number."""
    return f"{100 * float(value):.{digits}f} %" if _is_number(value) else "n/a"


def num(value: Any, digits: int = 3) -> str:
    return f"{float(value):.{digits}f}" if _is_number(value) else "n/a"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def short(sha: str | None) -> str:
    """A commit as people read it: its first 7 hex digits."""
    return (sha or "")[:7]


def cell(value: Any, limit: int | None = None) -> str:
    """Someone else's text made inert inside a Markdown table cell: one line, no pipes, HTML, code spans
    or @-mentions; cut at `limit` characters where a table needs it."""
    return _inert(value, limit).replace("`", "'")


def untrusted(value: Any, limit: int | None = None) -> str:
    """Someone else's words (an issue, an LLM) as one inert line of prose: code spans stay, nothing else."""
    return _inert(value, limit)


def _inert(value: Any, limit: int | None) -> str:
    text = " ".join(str(value).split()).replace("\\", "\\\\").replace("|", "\\|")
    text = text.replace("<", "&lt;").replace(">", "&gt;").replace("@", "@\u200b")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def md(value: Any) -> str:
    """Markdown-inert prose on one line: every special character escaped, so it cannot add links or HTML."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def pyrepr(value: Any) -> str:
    """A Python literal for value (repr of str/number/bool/None); never raw text in code."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(pyrepr(v) for v in value) + "]"
    if value is None or isinstance(value, bool | int | float | str):
        return repr(value)
    return repr(str(value))


def usd(value: Any) -> str:
    """A cost in US dollars: cents for sums of a dollar or more, four decimals below (jobs bill by the minute)."""
    if not _is_number(value):
        return "n/a"
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"


BACKEND_NAMES = {"local": "the bot's machine", "actions": "GitHub Actions", "hf-jobs": "Hugging Face Jobs"}


def backend_name(job: Any) -> str:
    """Where a job runs, in words, from its JobRef dict (or a backend name)."""
    name = job.get("backend", "") if isinstance(job, dict) else str(job)
    return BACKEND_NAMES.get(name, name)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~])")
FILTERS = {"pct": pct, "num": num, "short": short, "cell": cell, "untrusted": untrusted, "md": md, "pyrepr": pyrepr,
           "usd": usd, "backend_name": backend_name}


@lru_cache(maxsize=2)
def environment(kind: Kind = "markdown") -> jinja2.Environment:
    """The one Jinja environment, with the one set of filters. `markdown` (comments) trims block-tag lines;
    `text` (scripts, the model card, the Space) keeps every character as written, so code stays code."""
    tidy = kind == "markdown"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())), undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True, trim_blocks=tidy, lstrip_blocks=tidy, autoescape=False,
    )
    env.filters.update(FILTERS)
    # Reports read metrics.json through these, so every comment names and shows the shipped predictor, and
    # states each comparison with its interval and test in the model card's words.
    env.globals.update(
        help_table=help_table, shipped_eval=shipped_eval, shipped_key=shipped_key, shipped_title=shipped_title,
        model_rows=model_rows, ship_decision=decision, comparisons=comparisons, comparison_text=comparison_text,
        validation_text=validation_text,
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context).strip() + "\n"


def note(name: str, **context: Any) -> str:
    """One short sentence the bot says, from the macro `name` in comments/notes.md.j2."""
    return str(getattr(environment().get_template("comments/notes.md.j2").module, name)(**context)).strip()
