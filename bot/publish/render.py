"""One Jinja2 environment for the model card and the Space, and the filters that keep their text inert.

The card and the Space's README are Markdown that a Hub page renders, and they quote text nobody
vetted (the issue's goal, the data's licence string, labels). `cell` flattens such text onto one line
and escapes what could start a table cell, HTML or code, so it can neither break the layout nor the
YAML front matter above it.
"""

from __future__ import annotations

import jinja2

from bot import templates_dir


def environment() -> jinja2.Environment:
    """Codegen's Jinja2 setup (so app.py renders as in the PR) plus the card's formatting filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir()), keep_trailing_newline=True, undefined=jinja2.StrictUndefined
    )
    env.filters.update(num=num, pct=pct, cell=cell)
    return env


def num(value, digits: int = 3) -> str:
    """A metric for a table cell; n/a when the run did not produce it."""
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "n/a"


def pct(value) -> str:
    """A share as a percentage; n/a when the run did not produce it."""
    return f"{value:.1%}" if isinstance(value, (int, float)) else "n/a"


def cell(text) -> str:
    """Untrusted text made safe for one Markdown table cell or line."""
    text = " ".join(str(text).split())
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")
