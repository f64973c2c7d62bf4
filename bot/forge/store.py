"""The forge's state: SQLite for issues, comments, labels, pulls, workflow runs; bare git repositories for code."""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.forge.actions_store import ACTIONS_SCHEMA, ActionsMixin
from bot.forge.faults import FaultsMixin
from bot.forge.gitrepo import GitRepo, Person
from bot.forge.hookshot import DELIVERIES_SCHEMA, Hookshot
from bot.forge.rows import Row, present
from bot.forge.tracker import TrackerMixin

if TYPE_CHECKING:
    from bot.forge.actions_runner import ActionsRunner

ROLES = ("read", "triage", "write", "maintain", "admin")
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, login TEXT UNIQUE, type TEXT,
    token TEXT, created_at TEXT);
CREATE TABLE IF NOT EXISTS repos (id INTEGER PRIMARY KEY, owner TEXT, name TEXT, full_name TEXT UNIQUE,
    default_branch TEXT, private INTEGER, description TEXT, created_at TEXT, updated_at TEXT,
    pushed_at TEXT);
CREATE TABLE IF NOT EXISTS perms (repo_id INTEGER, login TEXT, role TEXT, PRIMARY KEY (repo_id, login));
CREATE TABLE IF NOT EXISTS issues (id INTEGER PRIMARY KEY, repo_id INTEGER, number INTEGER,
    title TEXT, body TEXT, state TEXT, state_reason TEXT, user TEXT, locked INTEGER DEFAULT 0,
    is_pull INTEGER DEFAULT 0, created_at TEXT, updated_at TEXT, closed_at TEXT, closed_by TEXT,
    UNIQUE (repo_id, number));
CREATE TABLE IF NOT EXISTS pulls (issue_id INTEGER PRIMARY KEY, head_ref TEXT, base_ref TEXT,
    draft INTEGER, maintainer_can_modify INTEGER, merged INTEGER DEFAULT 0, merged_at TEXT);
CREATE TABLE IF NOT EXISTS labels (id INTEGER PRIMARY KEY, repo_id INTEGER, name TEXT, color TEXT,
    description TEXT);
CREATE TABLE IF NOT EXISTS issue_labels (issue_id INTEGER, label_id INTEGER, pos INTEGER,
    PRIMARY KEY (issue_id, label_id));
CREATE TABLE IF NOT EXISTS comments (id INTEGER PRIMARY KEY, repo_id INTEGER, issue_id INTEGER,
    user TEXT, body TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE IF NOT EXISTS reactions (id INTEGER PRIMARY KEY, subject TEXT, subject_id INTEGER,
    user TEXT, content TEXT, created_at TEXT, UNIQUE (subject, subject_id, user, content));
CREATE TABLE IF NOT EXISTS hooks (id INTEGER PRIMARY KEY, repo_id INTEGER, url TEXT, secret TEXT,
    events TEXT);
CREATE TABLE IF NOT EXISTS dispatches (id INTEGER PRIMARY KEY, repo TEXT, workflow_id INTEGER,
    path TEXT, ref TEXT, inputs TEXT, sender TEXT, created_at TEXT);
CREATE TABLE IF NOT EXISTS faults (id INTEGER PRIMARY KEY, status INTEGER NOT NULL, method TEXT,
    path TEXT NOT NULL, timing TEXT NOT NULL, times INTEGER NOT NULL, fired INTEGER NOT NULL DEFAULT 0,
    message TEXT, created_at TEXT);
""" + DELIVERIES_SCHEMA + ACTIONS_SCHEMA
# Another process (the CLI) writes while a server runs: readers never block writers in WAL mode,
# and a writer waits up to this long for the other's write lock instead of failing "database is locked".
BUSY_TIMEOUT_S = 10


def now_iso() -> str:
    """GitHub's timestamp format (ISO 8601, UTC, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def connect(path: Path) -> sqlite3.Connection:
    """A shared-across-threads, autocommit connection in WAL mode with a busy timeout, so every
    statement sees what other processes committed and waits (rather than fails) on their locks."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    db.row_factory = sqlite3.Row
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_S * 1000}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    return db


class Forge(TrackerMixin, FaultsMixin, ActionsMixin):
    """One forge: users, repositories and everything in them, plus its webhook deliverer.
    Several processes may open the same root at once (a server and the CLI)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = connect(self.root / "forge.db")
        with self._lock:
            self._db.executescript(SCHEMA)
        self.html_url = "http://127.0.0.1"
        self.hookshot = Hookshot(self)
        self._actions: ActionsRunner | None = None

    @property
    def actions(self) -> ActionsRunner:
        """The runner that executes this forge's dispatched workflow runs (made on first use)."""
        from bot.forge.actions_runner import ActionsRunner

        with self._lock:
            if self._actions is None:
                self._actions = ActionsRunner(self)
            return self._actions

    @property
    def api_url(self) -> str:
        """Base of the REST API, where PyGithub's base_url points."""
        return self.html_url.rstrip("/") + "/api/v3"

    # --- low-level ---------------------------------------------------------------
    def q(self, sql: str, *args) -> list[Row]:
        """Run a query under the lock and return rows as dicts."""
        with self._lock:
            return [dict(r) for r in self._db.execute(sql, args).fetchall()]

    def one(self, sql: str, *args) -> Row | None:
        """First row of a query, or None."""
        rows = self.q(sql, *args)
        return rows[0] if rows else None

    def x(self, sql: str, *args) -> int:
        """Execute a statement; return lastrowid."""
        with self._lock:
            rowid = self._db.execute(sql, args).lastrowid
        assert rowid is not None  # only a cursor that never executed has none
        return rowid

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Read-then-write steps as one unit across processes (BEGIN IMMEDIATE takes the write lock
        first, so two processes cannot both see "absent" and both insert); re-entrant."""
        with self._lock:
            if self._db.in_transaction:
                yield
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # --- users -------------------------------------------------------------------
    def add_user(self, login: str, type: str = "User") -> str:
        """Create a user (idempotent per login) and return its bearer token."""
        with self.transaction():
            row = self.user(login)
            if row and row["token"]:
                return row["token"]
            token = "forge_" + secrets.token_hex(16)
            if row:
                self.x("UPDATE users SET token=?, type=? WHERE login=?", token, type, login)
            else:
                self.x("INSERT INTO users (login, type, token, created_at) VALUES (?,?,?,?)",
                       login, type, token, now_iso())
            return token

    def set_user_type(self, login: str, type: str) -> None:
        """Make an account a "User" or a "Bot" (GitHub Apps act as Bot users)."""
        self.x("UPDATE users SET type=? WHERE lower(login)=lower(?)", type, login)

    def _ensure_account(self, login: str, type: str) -> None:
        """Owner accounts (organisations) exist without a token."""
        if not self.user(login):
            self.x("INSERT INTO users (login, type, token, created_at) VALUES (?,?,NULL,?)",
                   login, type, now_iso())

    def user(self, login: str) -> Row | None:
        """A user by login (case-insensitive like GitHub)."""
        return self.one("SELECT * FROM users WHERE lower(login)=lower(?)", login)

    def user_by_token(self, token: str) -> Row | None:
        """The user a token authenticates, or None."""
        if not token:
            return None
        return self.one("SELECT * FROM users WHERE token=?", token)

    # --- repositories --------------------------------------------------------------
    def create_repo(self, full_name: str, owner_type: str = "User", default_branch: str = "main",
                    files: dict[str, str | bytes] | None = None, private: bool = False,
                    description: str | None = None) -> Row:
        """Create a repository with an initial commit holding `files` (idempotent per name)."""
        with self.transaction():
            existing = self.repo(full_name)
            if existing:
                return existing
            owner, name = full_name.split("/", 1)
            self._ensure_account(owner, owner_type)
            ts = now_iso()
            rid = self.x("INSERT INTO repos (owner, name, full_name, default_branch, private, "
                         "description, created_at, updated_at, pushed_at) VALUES (?,?,?,?,?,?,?,?,?)",
                         owner, name, full_name, default_branch, int(private), description, ts, ts, ts)
            git = self.git(full_name)
            git.init(default_branch)
            self._initial_commit(git, owner, default_branch, files or {"README.md": f"# {name}\n"})
            return present(self.repo_by_id(rid))

    def _initial_commit(self, git: GitRepo, owner: str, branch: str, files: dict) -> None:
        """Write the first commit from a path->content mapping."""
        entries = []
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            entries.append({"path": path, "mode": "100644", "sha": git.hash_blob(data)})
        tree = git.build_tree(None, entries)
        who = Person(owner, f"{owner}@users.noreply.forge.local", int(time.time()))
        sha = git.commit_tree(tree, [], "Initial commit\n", who, who)
        git.update_ref(f"refs/heads/{branch}", sha)

    def repo(self, full_name: str) -> Row | None:
        """A repository by owner/name (case-insensitive)."""
        return self.one("SELECT * FROM repos WHERE lower(full_name)=lower(?)", full_name)

    def repo_by_id(self, rid: int) -> Row | None:
        """A repository by id."""
        return self.one("SELECT * FROM repos WHERE id=?", rid)

    def repos(self) -> list[Row]:
        """All repositories, oldest first."""
        return self.q("SELECT * FROM repos ORDER BY id")

    def git(self, full_name: str) -> GitRepo:
        """The bare repository behind a repo."""
        owner, name = full_name.split("/", 1)
        return GitRepo(self.root / "git" / owner / f"{name}.git")

    def touch_repo(self, repo: Row, pushed: bool = False) -> None:
        """Bump updated_at (and pushed_at for ref moves)."""
        ts = now_iso()
        self.x("UPDATE repos SET updated_at=?" + (", pushed_at=?" if pushed else "") + " WHERE id=?",
               *((ts, ts) if pushed else (ts,)), repo["id"])

    def pull_diff(self, repo: Row, issue: Row) -> tuple[list[Row], list[str]]:
        """A PR's changed files (vs the merge base) and its commits, oldest first."""
        info = present(self.pull_info(issue))
        git = self.git(repo["full_name"])
        head = git.ref_sha(f"refs/heads/{info['head_ref']}")
        base = git.ref_sha(f"refs/heads/{info['base_ref']}")
        if not head or not base:
            return [], []
        mb = git.merge_base(base, head) or base
        return git.diff_files(mb, head), git.rev_list(base, head)

    # --- permissions ---------------------------------------------------------------
    def set_permission(self, full_name: str, login: str, role: str) -> None:
        """Grant a collaborator role: admin|maintain|write|triage|read."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; one of {ROLES}")
        repo = self.repo(full_name)
        if repo is None:
            raise KeyError(full_name)
        if not self.user(login):
            self.add_user(login)
        self.x("INSERT OR REPLACE INTO perms (repo_id, login, role) VALUES (?,?,?)",
               repo["id"], present(self.user(login))["login"], role)

    def role(self, repo: Row, login: str | None) -> str | None:
        """The user's effective role; the owner is admin, anyone may read a public repo."""
        if login and login.lower() == repo["owner"].lower():
            return "admin"
        if login:
            row = self.one("SELECT role FROM perms WHERE repo_id=? AND lower(login)=lower(?)",
                           repo["id"], login)
            if row:
                return row["role"]
        return None if repo["private"] else "read"

    def explicit_role(self, repo: Row, login: str) -> str | None:
        """Role granted directly (not via public visibility)."""
        if login.lower() == repo["owner"].lower():
            return "admin"
        row = self.one("SELECT role FROM perms WHERE repo_id=? AND lower(login)=lower(?)",
                       repo["id"], login)
        return row["role"] if row else None

    def can(self, repo: Row, login: str | None, needed: str) -> bool:
        """Whether the user's role reaches `needed` in GitHub's role order."""
        have = self.role(repo, login)
        return have is not None and ROLES.index(have) >= ROLES.index(needed)

    # --- hooks, dispatches, deliveries -------------------------------------------------
    def add_hook(self, full_name: str, url: str, secret: str | None = None,
                 events: list[str] | None = None) -> int:
        """Register a repository webhook; one per (repository, URL), like GitHub's "Hook already
        exists on this repository": adding the URL again updates its secret and events."""
        repo = self.repo(full_name)
        if repo is None:
            raise KeyError(full_name)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"hook URL must be an http(s) URL, not {url!r}")
        events_csv = ",".join(events or ["*"])
        with self.transaction():
            row = self.one("SELECT id FROM hooks WHERE repo_id=? AND url=?", repo["id"], url)
            if row:
                self.x("UPDATE hooks SET secret=?, events=? WHERE id=?", secret, events_csv, row["id"])
                return row["id"]
            return self.x("INSERT INTO hooks (repo_id, url, secret, events) VALUES (?,?,?,?)",
                          repo["id"], url, secret, events_csv)

    def hook(self, hook_id: int) -> Row | None:
        """A webhook by id."""
        return self.one("SELECT * FROM hooks WHERE id=?", hook_id)

    def hooks(self, repo: Row, event: str) -> list[Row]:
        """Hooks subscribed to an event."""
        rows = self.q("SELECT * FROM hooks WHERE repo_id=?", repo["id"])
        return [h for h in rows if event in h["events"].split(",") or "*" in h["events"].split(",")]

    def emit(self, repo: Row, event: str, payload: dict) -> None:
        """Queue a webhook delivery to every subscribed hook (read from the database each time, so
        a hook another process added gets the very next event)."""
        for hook in self.hooks(repo, event):
            self.hookshot.enqueue(hook, event, payload)

    def deliveries(self) -> list[Row]:
        """Every delivery attempt so far, oldest first, by any process on this root: {id (the GUID),
        seq, hook_id, event, action, url, payload, headers, status_code (None while queued, 0 when
        unreachable), error, redelivery, created_at, delivered_at, duration}."""
        return self.hookshot.deliveries()

    def wait_for_deliveries(self, timeout: float = 10) -> bool:
        """Block until this process's delivery queue is drained; False on timeout."""
        return self.hookshot.wait(timeout)

    def redeliver(self, delivery_id: str, wait: bool = False) -> dict:
        """Send a past delivery again, same body and GUID (as GitHub's "Redeliver" does), queued
        behind this process's pending deliveries or, with `wait=True`, now from this thread.
        KeyError for an unknown GUID."""
        return self.hookshot.redeliver(delivery_id, wait=wait)

    def record_dispatch(self, repo: Row, workflow: dict, ref: str, inputs: str, sender: str) -> None:
        """Remember a workflow_dispatch (its run is in `runs`, executed by `self.actions`)."""
        self.x("INSERT INTO dispatches (repo, workflow_id, path, ref, inputs, sender, created_at) "
               "VALUES (?,?,?,?,?,?,?)", repo["full_name"], workflow["id"], workflow["path"], ref,
               inputs, sender, now_iso())

    def dispatches(self) -> list[Row]:
        """Every recorded workflow dispatch, inputs decoded."""
        rows = self.q("SELECT * FROM dispatches ORDER BY id")
        for r in rows:
            r["inputs"] = json.loads(r["inputs"])
        return rows

    def close(self) -> None:
        """Cancel the runs still executing, stop the delivery worker and close the database."""
        if self._actions is not None:
            self._actions.stop()
        self.hookshot.stop()
        with self._lock:
            self._db.close()
