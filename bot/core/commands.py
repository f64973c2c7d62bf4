"""The slash-command grammar: a visible comment line starting with `/name`, then `key=value` or words."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from functools import lru_cache

from markdown_it import MarkdownIt

COMMANDS = {
    "ml-intern": "Start: research the goal in this issue and propose a plan.",
    "plan": "Re-plan with overrides, e.g. `/plan label=intent epochs=2`.",
    "approve-train": "Maintainers: approve training on the PR's current head commit.",
    "approve-publish": "Maintainers: publish the model card and Space of a finished run.",
    "retry": "Retry the step that failed.",
    "cancel": "Stop work on this issue (a running job is stopped).",
    "status": "Show where this issue stands.",
    "help": "List the commands.",
}
# Commands that spend compute, change the plan or publish: they need write access.
PRIVILEGED = {"plan", "approve-train", "approve-publish", "retry", "cancel"}
WRITE_PERMISSIONS = {"admin", "maintain", "write"}  # GitHub's repository roles that may run them

_LINE = re.compile(r"^/([a-z][a-z-]*)\b(.*)$")


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...] = ()
    options: dict[str, str] = field(default_factory=dict)

    @property
    def privileged(self) -> bool:
        return self.name in PRIVILEGED


def may_run(command: Command, *, sender_type: str, permission: str | None) -> bool:
    """The one rule for who may run a command: never a bot; privileged ones need write access (read via the API)."""
    return sender_type != "Bot" and (not command.privileged or permission in WRITE_PERMISSIONS)


class CommandError(ValueError):
    """A command line that cannot be understood; the message is shown to the user."""


def parse_commands(text: str) -> list[Command]:
    """Every known command in a comment, one per line, from visible paragraph text only.

    The comment is parsed as CommonMark (GitHub renders Markdown), so HTML comments and blocks,
    fenced, indented and nested code, inline code, struck-through text and quotes never carry one.
    """
    found = []
    for line in visible_lines(text):
        match = _LINE.match(line.strip())
        if match and match.group(1) in COMMANDS:
            found.append(_command(match.group(1), match.group(2)))
    return found


def visible_lines(text: str) -> list[str]:
    """The lines of text a reader sees in the comment's paragraphs, outside block quotes."""
    lines: list[str] = []
    quoted, previous = 0, None
    for token in _markdown().parse(text or ""):
        if token.type in ("blockquote_open", "blockquote_close"):
            quoted += token.nesting
        elif token.type == "inline" and not quoted and previous == "paragraph_open":
            lines.extend(_inline_text(token.children or []).split("\n"))
        previous = token.type
    return lines


def _inline_text(children) -> str:
    """Visible text of a paragraph: code spans, raw HTML and struck-through text become a blank."""
    parts, struck = [], 0
    for child in children:
        if child.type in ("s_open", "s_close"):
            struck += child.nesting
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "text" and not struck:
            parts.append(child.content)
        elif child.type in ("code_inline", "html_inline", "image") or struck:
            parts.append("\u2063")  # an invisible separator: what follows is not at a line start
    return "".join(parts)


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("strikethrough")


def _command(name: str, rest: str) -> Command:
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise CommandError(f"/{name}: {exc}") from exc
    options = dict(word.split("=", 1) for word in words if "=" in word)
    args = tuple(word for word in words if "=" not in word)
    if any(not key for key in options):
        raise CommandError(f"/{name}: an option is missing its key (write key=value)")
    return Command(name, args, options)


def help_table() -> str:
    """The Markdown command table used by `/help` and the README."""
    rows = [f"| `/{name}` | {text} |" for name, text in COMMANDS.items()]
    return "\n".join(["| Command | What it does |", "|---|---|", *rows])
