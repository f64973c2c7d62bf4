"""One in-memory `Repository` (bot/shell/ports.py) for fast tests of the shell: no HTTP, git or PyGithub.

Faithful where the shell relies on GitHub: issues and PRs share one numbering and PR comments are issue
comments; comment ids are repository-wide (a reaction finds its comment by id alone); the bot's comments
are found by their marker, anyone else's marker is ignored; a repeated reaction changes nothing; removing
a missing label is a 404; permissions are per login ("none" for a stranger, as RepoClient maps the 404);
a PR's head is its branch's tip and its commits are those after its base. `fail()` makes a port call
raise a transient error before or after its write is applied (a 500 after a saved write).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import requests
import yaml
from github import GithubException

from bot.core.state import MARKER_PREFIX, IssueState, decode_marker
from bot.shell.github import CONFIG_PATH, ConfigFileError, StaleState, marker

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Comment:
    id: int
    login: str
    body: str
    type: str = "User"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    reactions: set[tuple[str, str]] = field(default_factory=set)  # (login, content)


@dataclass
class Thread:  # an issue, or the issue side of a pull request
    title: str
    body: str
    author: str
    labels: set[str] = field(default_factory=set)
    comments: list[Comment] = field(default_factory=list)
    reactions: set[tuple[str, str]] = field(default_factory=set)


@dataclass
class Commit:
    sha: str
    parent: str | None
    tree: dict[str, str]
    author: str
    time: str


@dataclass
class Pull:
    branch: str
    base: str  # the default branch's tip when the PR was opened


def _port(method: F) -> F:
    """A port call: logged in `calls`, and subject to the faults `fail()` set up."""
    @functools.wraps(method)
    def call(self: FakeRepository, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.calls.append(method.__name__)
            self._trip(method.__name__, "before")
            result = method(self, *args, **kwargs)
            self._trip(method.__name__, "after")
            return result
    return cast(F, call)


class FakeRepository:
    def __init__(self, bot_login: str = "ml-intern[bot]", default_branch: str = "main"):
        self.bot_login, self.default_branch = bot_login, default_branch
        self.threads: dict[int, Thread] = {}
        self.pulls: dict[int, Pull] = {}
        self.commits: dict[str, Commit] = {}
        self.branches: dict[str, str] = {}
        self.permissions: dict[str, str] = {}
        self.calls: list[str] = []  # port calls, in order
        self._faults: list[dict[str, Any]] = []
        self._numbers, self._ids, self._lock = itertools.count(1), itertools.count(1001), threading.RLock()
        self.commit(default_branch, {"README.md": "# support-bot\n"}, author="owner")

    # --- the world, as tests set it up -------------------------------------------------------

    def open_issue(self, title: str, body: str = "", author: str = "alice") -> int:
        number = next(self._numbers)
        self.threads[number] = Thread(title, body, author)
        return number

    def add_comment(self, number: int, login: str, body: str, type: str = "User") -> Comment:
        self.threads[number].comments.append(comment := Comment(next(self._ids), login, body, type))
        return comment

    def commit(self, branch: str, files: dict[str, str], author: str = "alice") -> str:
        """A push: a commit on `branch` (made from the default branch when new) adding or changing `files`."""
        parent = self.branches.get(branch) or self.branches.get(self.default_branch)
        return self._commit(branch, parent, {**(self.commits[parent].tree if parent else {}), **files}, author)

    def fail(self, method: str, error: str | Exception = "connection", *, when: str = "before", times: int = 1) -> None:
        """The next `times` calls of `method` raise `error` ("connection", "500" or an exception) `when`."""
        self._faults.append({"method": method, "error": error, "when": when, "times": times})

    def bot_comments(self, number: int, key: str = "") -> list[Comment]:
        """The bot's comments on `number` whose marker key starts with `key` ("state", "reply:", "plan")."""
        return [c for c in self.threads[number].comments
                if c.login.lower() == self.bot_login.lower() and c.body.startswith(f"<!-- ml-intern:{key}")]

    def status_body(self, number: int) -> str:
        found = self._find(number, MARKER_PREFIX)
        return found.body if found else ""

    def stored_state(self, number: int) -> IssueState:
        return decode_marker(self.status_body(number)) or IssueState()

    # --- the port -----------------------------------------------------------------------------

    @_port
    def load_state(self, number: int) -> IssueState:
        return self.stored_state(number)

    @_port
    def has_status(self, number: int) -> bool:
        return self._find(number, MARKER_PREFIX) is not None

    @_port
    def save_status(self, number: int, body: str, *, expected_version: int) -> None:
        stored = decode_marker(self.status_body(number))
        if stored is not None and stored.version != expected_version:
            raise StaleState(f"#{number} is at version {stored.version}, not {expected_version}")
        self._upsert(number, MARKER_PREFIX, body)

    @_port
    def upsert_keyed(self, number: int, key: str, body: str, *, edit: bool) -> None:
        if edit or self._find(number, marker(key)) is None:
            self._upsert(number, marker(key), f"{marker(key)}\n{body}")

    @_port
    def labels(self, number: int) -> set[str]:
        return set(self.threads[number].labels)

    @_port
    def change_labels(self, number: int, add: set[str], remove: set[str]) -> None:
        if remove - self.threads[number].labels:
            raise GithubException(404, {"message": "Label does not exist"})
        self.threads[number].labels = (self.threads[number].labels - remove) | add

    @_port
    def react(self, number: int, content: str, comment_id: int | None = None) -> None:
        found = [c for t in self.threads.values() for c in t.comments if c.id == comment_id]
        if comment_id and not found:
            raise GithubException(404, {"message": "Not Found"})
        (found[0] if found else self.threads[number]).reactions.add((self.bot_login, content))

    @_port
    def comments_since(self, number: int, since: datetime) -> list[tuple[str, str, str]]:
        return [(c.login, c.type, c.body) for c in self.threads[number].comments
                if c.created_at >= since and c.login.lower() != self.bot_login.lower()]

    @_port
    def permission(self, login: str) -> str:
        return self.permissions.get(login, "none")

    @_port
    def pull_head(self, pr_number: int | None) -> str | None:
        return self.branches[self._pull(pr_number).branch] if pr_number else None

    @_port
    def pull_branch(self, pr_number: int) -> str:
        return self._pull(pr_number).branch

    @_port
    def commits_after(self, pr_number: int, sha: str) -> list[tuple[str, str]]:
        pull, history = self._pull(pr_number), list[Commit]()
        at: str | None = self.branches[pull.branch]
        while at and at != pull.base:
            history.insert(0, self.commits[at])
            at = self.commits[at].parent
        shas = [c.sha for c in history]
        return [(c.sha, c.author) for c in (history[shas.index(sha) + 1:] if sha in shas else history)]

    @_port
    def issue_text(self, number: int) -> tuple[str, str]:
        return self.threads[number].title, self.threads[number].body

    @_port
    def read_config(self) -> dict:
        text = self.commits[self.branches[self.default_branch]].tree.get(CONFIG_PATH)
        try:
            data = yaml.safe_load(text) if text is not None else {}
        except yaml.YAMLError:
            raise ConfigFileError(f"`{CONFIG_PATH}` is not valid YAML; fix it, then comment `/retry`.") from None
        if not isinstance(data or {}, dict):
            raise ConfigFileError(f"`{CONFIG_PATH}` must be a mapping of settings (key: value lines).")
        return data or {}

    @_port
    def push_files(self, branch: str, folder: str, files: dict[str, str], message: str) -> tuple[str, str]:
        parent = self.branches.get(branch) or self.branches[self.default_branch]
        kept = {p: t for p, t in self.commits[parent].tree.items() if not p.startswith(folder + "/")}
        tree = {**kept, **{f"{folder}/{name}": text for name, text in files.items()}}
        if tree != self.commits[parent].tree or branch not in self.branches:
            parent = self._commit(branch, parent, tree, self.bot_login)
        return parent, self.commits[parent].time

    @_port
    def ensure_pull(self, branch: str, title: str, body: str) -> int:
        number = next((n for n, p in self.pulls.items() if p.branch == branch), None)
        if number is None:
            number = next(self._numbers)
            self.threads[number] = Thread(title, body, self.bot_login)
            self.pulls[number] = Pull(branch, self.branches[self.default_branch])
        self.threads[number].title, self.threads[number].body = title, body
        return number

    @_port
    def checkout(self, sha: str, paths: list[str], dest: Path) -> list[str]:
        if sha not in self.commits:
            raise GithubException(404, {"message": "Not Found"})
        written = [path for path in sorted(self.commits[sha].tree)
                   if any(path == p or path.startswith(p.rstrip("/") + "/") for p in paths)]
        for path in written:
            (dest / path).parent.mkdir(parents=True, exist_ok=True)
            (dest / path).write_text(self.commits[sha].tree[path], encoding="utf-8")
        if not written:
            raise FileNotFoundError(f"commit {sha[:7]} has no files under {', '.join(paths)}")
        return written

    @_port
    def fetch_default_branch(self, path: str, dest: Path) -> Path | None:
        try:
            self.checkout(self.branches[self.default_branch], [path], dest)
        except FileNotFoundError:
            return None
        return dest / path

    # --- inside -------------------------------------------------------------------------------

    def _find(self, number: int, prefix: str) -> Comment | None:
        return next((c for c in self.bot_comments(number) if c.body.startswith(prefix)), None)

    def _upsert(self, number: int, prefix: str, body: str) -> None:
        if found := self._find(number, prefix):
            found.body = body
        else:
            self.threads[number].comments.append(Comment(next(self._ids), self.bot_login, body, "Bot"))

    def _pull(self, number: int | None) -> Pull:
        if number not in self.pulls:
            raise GithubException(404, {"message": "Not Found"})
        return self.pulls[number]

    def _commit(self, branch: str, parent: str | None, tree: dict[str, str], author: str) -> str:
        sha = hashlib.sha1(f"{parent}{sorted(tree.items())}{author}{len(self.commits)}".encode()).hexdigest()
        self.commits[sha] = Commit(sha, parent, tree, author, datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        self.branches[branch] = sha
        return sha

    def _trip(self, method: str, when: str) -> None:
        for fault in self._faults:
            if (fault["method"], fault["when"]) == (method, when) and fault["times"] > 0:
                fault["times"] -= 1
                error = fault["error"]
                if error == "connection":
                    raise requests.ConnectionError(f"fake GitHub did not answer {method}")
                raise GithubException(500, {"message": "Server Error"}) if error == "500" else error
