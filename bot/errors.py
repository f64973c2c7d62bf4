"""The one way an error becomes text anyone can read: in a comment, a log line or a stored record.

Everything public passes through `public_text`: configured secrets and anything shaped like a
token are blanked, terminal colour codes dropped, and the bot's own folders shortened so a
comment never shows the server's disk layout. Unexpected exceptions become one sentence without a
traceback; the full error goes to the log (redacted too).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

SECRET_FIELDS = ("github_token", "webhook_secret", "hf_token", "anthropic_api_key")
# Token formats: GitHub (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_), Hugging Face (hf_), Anthropic
# (sk-ant-), the local forge (forge_), and credentials after `Bearer`/`token` or inside a URL.
TOKEN_SHAPES = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,}|hf_[A-Za-z0-9]{16,}|sk-ant-[A-Za-z0-9_-]{16,}"
    r"|forge_[0-9a-f]{16,})\b"
    r"|(?<=Bearer )[A-Za-z0-9._~+/=-]{16,}|(?<=token )[A-Za-z0-9._-]{20,}|(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"
)
ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])")
MAX_MESSAGE = 600


class UserError(Exception):
    """An error whose message tells the user what happened and what to do next; shown as it is."""


class Interrupted(Exception):
    """The bot is shutting down in the middle of a step: the step is neither done nor failed."""


def redact(text: str, settings: object, extra: Iterable[str | None] = ()) -> str:
    """Blank out every secret the settings hold and every token-shaped string."""
    for secret in [*(getattr(settings, name, None) for name in SECRET_FIELDS), *extra]:
        if secret:
            text = text.replace(secret, "***")
    return TOKEN_SHAPES.sub("***", text)


def _private_roots(settings: object) -> list[tuple[str, str]]:
    """Folders of this machine that mean nothing to a reader, longest first, with what to show instead."""
    roots = {}
    workdir = getattr(settings, "workdir", None)
    if workdir is not None:
        roots[str(Path(workdir).resolve())] = "<workdir>"
    roots[sys.prefix] = "<python>"
    roots[os.path.expanduser("~")] = "~"
    roots[os.getcwd()] = "."
    return sorted(((root, name) for root, name in roots.items() if len(root) > 1), key=lambda r: -len(r[0]))


def public_text(text: str, settings: object) -> str:
    """`text` as it may appear in public: redacted, without colour codes or this machine's folders."""
    text = ANSI.sub("", redact(text, settings))
    for root, name in _private_roots(settings):
        text = text.replace(root, name)
    return text


def explain(exc: BaseException, settings: object) -> str:
    """One public sentence for a failure: a UserError's own message, else what kind of bug it was."""
    if isinstance(exc, UserError):
        message = str(exc)
    else:
        first = (str(exc).strip().splitlines() or [""])[0]
        message = (f"unexpected {type(exc).__name__}{': ' + first if first else ''}. This is a bug in "
                   "ml-intern-bot (the details are in its log); comment `/retry` to try again.")
    message = public_text(message, settings)
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"
