"""The slash-command grammar: a comment line starting with `/name`, then `key=value` or words."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

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


class CommandError(ValueError):
    """A command line that cannot be understood; the message is shown to the user."""


def parse_commands(text: str) -> list[Command]:
    """Every known command in a comment, one per line, outside fenced code and quotes."""
    found, fenced = [], False
    for raw in (text or "").splitlines():
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        match = None if fenced else _LINE.match(line)
        if match and match.group(1) in COMMANDS:
            found.append(_command(match.group(1), match.group(2)))
    return found


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
