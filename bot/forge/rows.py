"""The forge's database rows: plain dicts keyed by column name, as `Forge.q` returns them."""

from __future__ import annotations

from typing import Any

Row = dict[str, Any]


def present(row: Row | None) -> Row:
    """A looked-up row the caller knows exists (it was just written, or its id was read from another
    row, or an earlier check found it); for the type checker, which cannot know that."""
    assert row is not None, "a row the forge relies on is missing"
    return row
