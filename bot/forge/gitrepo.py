"""Real git objects in bare repositories, through the `git` CLI (the forge's Git Database API)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ZERO_SHA = "0" * 40


class GitError(Exception):
    """A git command failed or an object is missing; the API maps it to 404/422."""


@dataclass
class Person:
    """Author or committer of a commit, as git records it."""

    name: str
    email: str
    timestamp: int
    tz: str = "+0000"


@dataclass
class CommitInfo:
    """A parsed commit object."""

    sha: str
    tree: str
    parents: list[str]
    author: Person
    committer: Person
    message: str


class GitRepo:
    """A bare repository; every method shells out to git so the objects are real."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _env(self, extra: dict | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update({"GIT_DIR": str(self.path), "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(self.path)})
        env.update(extra or {})
        return env

    def git(self, *args: str, data: bytes | None = None, env: dict | None = None, check=True) -> bytes:
        """Run one git command in this repository and return its stdout."""
        proc = subprocess.run(
            ["git", *args], input=data, capture_output=True, env=self._env(env), check=False
        )
        if check and proc.returncode != 0:
            raise GitError(proc.stderr.decode("utf-8", "replace").strip() or f"git {args[0]} failed")
        return proc.stdout

    def init(self, default_branch: str) -> None:
        """Create the bare repository on disk."""
        self.path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["git", "init", "--bare", "-q", "-b", default_branch, str(self.path)],
            check=True, capture_output=True, env=self._env(),
        )

    # --- objects -------------------------------------------------------------------
    def hash_blob(self, content: bytes) -> str:
        """Store a blob and return its sha."""
        return self.git("hash-object", "-w", "-t", "blob", "--stdin", data=content).decode().strip()

    def object_type(self, sha: str) -> str | None:
        """`blob`, `tree`, `commit`, `tag`, or None when absent."""
        out = self.git("cat-file", "-t", sha, check=False).decode().strip()
        return out or None

    def read_blob(self, sha: str) -> bytes:
        """Raw blob bytes; GitError when it is not a blob."""
        if self.object_type(sha) != "blob":
            raise GitError(f"blob {sha} not found")
        return self.git("cat-file", "blob", sha)

    def ls_tree(self, tree: str, recursive: bool = False) -> list[dict]:
        """Tree entries as dicts {mode, type, sha, path, size}."""
        args = ["ls-tree", "-l", "-z"] + (["-r", "-t"] if recursive else []) + [tree]
        entries = []
        for rec in self.git(*args).split(b"\0"):
            if not rec:
                continue
            meta, path = rec.split(b"\t", 1)
            mode, kind, sha, size = meta.decode().split()
            entries.append({"mode": mode, "type": kind, "sha": sha, "path": path.decode(),
                            "size": None if size == "-" else int(size)})
        return entries

    def build_tree(self, base_tree: str | None, entries: list[dict]) -> str:
        """Apply entries {path, mode, sha|None} on top of base_tree via a temporary index."""
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if base_tree:
                self.git("read-tree", base_tree, env=env)
            else:
                self.git("read-tree", "--empty", env=env)
            for e in entries:
                self._apply_entry(e, env)
            return self.git("write-tree", env=env).decode().strip()

    def _apply_entry(self, e: dict, env: dict) -> None:
        """One tree entry into the index: delete (sha None), a subtree, or a blob/submodule."""
        path = e["path"].strip("/")
        if e["sha"] is None:
            self.git("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", path, env=env)
            return
        if e["mode"] == "040000":
            self.git("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", path, env=env)
            self.git("read-tree", f"--prefix={path}/", e["sha"], env=env)
            return
        self.git("update-index", "--add", "--cacheinfo", f"{e['mode']},{e['sha']},{path}", env=env)

    def commit_tree(self, tree: str, parents: list[str], message: str, author: Person,
                    committer: Person) -> str:
        """Write a commit object and return its sha."""
        args = ["commit-tree", tree]
        for p in parents:
            args += ["-p", p]
        env = {
            "GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": f"{author.timestamp} {author.tz}",
            "GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": f"{committer.timestamp} {committer.tz}",
        }
        return self.git(*args, data=message.encode(), env=env).decode().strip()

    def read_commit(self, sha: str) -> CommitInfo:
        """Parse a commit object (raw `cat-file commit`)."""
        if self.object_type(sha) != "commit":
            raise GitError(f"commit {sha} not found")
        raw = self.git("cat-file", "commit", sha).decode("utf-8", "replace")
        head, _, message = raw.partition("\n\n")
        tree, parents, people = "", [], {}
        for line in head.splitlines():
            key, _, value = line.partition(" ")
            if key == "tree":
                tree = value
            elif key == "parent":
                parents.append(value)
            elif key in ("author", "committer"):
                name, _, rest = value.partition(" <")
                email, _, when = rest.partition("> ")
                ts, _, tz = when.partition(" ")
                people[key] = Person(name, email, int(ts), tz or "+0000")
        return CommitInfo(sha, tree, parents, people["author"], people["committer"], message)

    def resolve(self, rev: str) -> str | None:
        """The sha a revision points to, or None."""
        out = self.git("rev-parse", "--verify", "-q", rev, check=False).decode().strip()
        return out or None

    # --- refs ----------------------------------------------------------------------
    def refs(self, prefix: str = "refs/") -> list[tuple[str, str, str]]:
        """(refname, sha, objecttype) for refs under prefix."""
        out = self.git("for-each-ref", "--format=%(refname) %(objectname) %(objecttype)", prefix)
        lines = [line.split(" ") for line in out.decode().splitlines() if line]
        return [(name, sha, kind) for name, sha, kind in lines]  # a refname holds no spaces

    def ref_sha(self, ref: str) -> str | None:
        """Current sha of a full ref name, or None."""
        rows = [r for r in self.refs(ref) if r[0] == ref]
        return rows[0][1] if rows else None

    def update_ref(self, ref: str, sha: str, old: str | None = None) -> None:
        """Move a ref (compare-and-swap when old is given)."""
        self.git("update-ref", ref, sha, *([old] if old else []))

    def delete_ref(self, ref: str) -> None:
        """Remove a ref."""
        self.git("update-ref", "-d", ref)

    def is_ancestor(self, old: str, new: str) -> bool:
        """True when moving from old to new is a fast-forward."""
        proc = subprocess.run(["git", "merge-base", "--is-ancestor", old, new],
                              env=self._env(), capture_output=True, check=False)
        return proc.returncode == 0

    def merge_base(self, a: str, b: str) -> str | None:
        """Common ancestor of two commits."""
        return self.git("merge-base", a, b, check=False).decode().strip() or None

    def rev_list(self, base: str, head: str) -> list[str]:
        """Commits in head not in base, oldest first."""
        out = self.git("rev-list", "--reverse", f"{base}..{head}").decode()
        return out.split()

    def diff_files(self, base: str, head: str) -> list[dict]:
        """Changed files between two commits: {filename,status,additions,deletions,patch,sha,previous}."""
        numstat = self.git("diff", "--numstat", "-z", "--no-renames", base, head).split(b"\0")
        counts = {}
        for rec in numstat:
            if rec:
                plus, minus, fname = rec.decode().split("\t", 2)
                counts[fname] = (0 if plus == "-" else int(plus), 0 if minus == "-" else int(minus))
        status_raw = self.git("diff", "--raw", "-z", "--no-renames", "--abbrev=40", base, head).split(b"\0")
        files = []
        for meta, name in zip(status_raw[0::2], status_raw[1::2]):
            if not meta:
                continue
            parts = meta.decode().lstrip(":").split()
            path = name.decode()
            kind = {"A": "added", "D": "removed", "M": "modified"}.get(parts[4][0], "changed")
            add, dele = counts.get(path, (0, 0))
            patch = self.git("diff", "--no-renames", base, head, "--", path).decode("utf-8", "replace")
            hunk = patch.find("\n@@")
            files.append({"filename": path, "status": kind, "additions": add, "deletions": dele,
                          "sha": parts[3] if kind != "removed" else parts[2],
                          "patch": patch[hunk + 1:] if hunk >= 0 else ""})
        return files
