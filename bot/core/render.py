"""Comment bodies, rendered from `templates/comments/` with Jinja2 (no I/O beyond reading templates)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2

from bot import templates_dir
from bot.artifacts import ensemble_outcome, shipped_eval, shipped_key, shipped_title
from bot.core.commands import help_table


def pct(value: Any, digits: int = 1) -> str:
    """0.9371 -> '93.7 %'; missing values read as 'n/a' rather than a fake number."""
    return "n/a" if value is None else f"{100 * float(value):.{digits}f} %"


def num(value: Any, digits: int = 3) -> str:
    return "n/a" if value is None else f"{float(value):.{digits}f}"


CELL_CHARS = 160  # a table cell longer than this breaks the table's layout on GitHub


def md_cell(value: Any, limit: int | None = CELL_CHARS) -> str:
    """Text safe inside a Markdown table cell: no pipes, no newlines, no HTML; cut at `limit` characters."""
    text = str(value).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")
    return text if limit is None or len(text) <= limit else text[: limit - 1] + "…"


def untrusted(value: Any, limit: int | None = None) -> str:
    """Someone else's words (an issue, an LLM): one safe line, with @-mentions that ping nobody."""
    return md_cell(value, limit).replace("@", "@\u200b")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters.update(pct=pct, num=num, cell=md_cell, untrusted=untrusted, short=lambda sha: (sha or "")[:7])
    # Reports read metrics.json through these, so every comment names and shows the shipped predictor.
    env.globals.update(
        help_table=help_table, ensemble_outcome=ensemble_outcome,
        shipped_eval=shipped_eval, shipped_key=shipped_key, shipped_title=shipped_title,
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context).strip() + "\n"


def note(name: str, **context: Any) -> str:
    """One short sentence the bot says, from the macro `name` in comments/notes.md.j2."""
    return str(getattr(environment().get_template("comments/notes.md.j2").module, name)(**context)).strip()
