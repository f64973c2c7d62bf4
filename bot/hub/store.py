"""The local Hub's disk: tokens, a content store of every file by SHA-256, and small JSON records.

    ROOT/id                    this store's random id (names its Xet CAS URL, so client caches never mix stores)
    ROOT/secret                HMAC key for signed upload URLs and Xet access tokens
    ROOT/tokens.json           token -> {name, orgs, role, created}; written by `ml-intern-bot hub token add`
    ROOT/objects/ab/<sha256>   file contents (regular and LFS alike), written once, renamed into place
    ROOT/repos/, buckets/, xet/, jobs/   see repos.py, buckets.py, xet.py and jobs.py

Only the serving process writes records other than tokens; the CLI adds tokens while it serves (each
request re-reads tokens.json when it changed). Every JSON file is replaced atomically.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

TOKEN_PREFIX = "hf_"
ROLES = ("read", "write")
NAME = re.compile(r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")  # a user, organisation or repo name
SHA256 = re.compile(r"^[0-9a-f]{64}$")


def valid_id(repo_id: str) -> bool:
    """`owner/name` with Hub-like names: never a path that could leave its folder."""
    parts = repo_id.split("/")
    return len(parts) == 2 and all(NAME.match(part) for part in parts)


def now_iso() -> str:
    """UTC time the way the Hub writes it: 2025-07-16T20:35:12.808000Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return default


def write_json(path: Path, value: Any) -> None:
    """Write beside the target and rename over it, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as out:
        json.dump(value, out, indent=1, sort_keys=True)
    os.replace(tmp, path)


@dataclass(frozen=True)
class User:
    """Who a token belongs to; `namespaces` are the user's own name and its organisations."""

    name: str
    orgs: tuple[str, ...] = ()
    role: str = "write"
    token_created: str = ""
    namespaces: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "namespaces", frozenset((self.name, *self.orgs)))

    def can_write(self, namespace: str) -> bool:
        return self.role == "write" and namespace in self.namespaces


class HubStore:
    """The root folder and what every part shares: locking, tokens, objects, signatures."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        for folder in ("objects", "repos", "buckets", "xet", "jobs", "tmp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        self.id = self._once("id", lambda: secrets.token_hex(8))
        self._secret = self._once("secret", lambda: secrets.token_hex(32)).encode()
        self.lock = threading.RLock()  # every read-modify-write of a JSON record holds it
        self._tokens: dict[str, dict] = {}
        self._tokens_mtime: float | None = None

    def _once(self, name: str, make) -> str:
        path = self.root / name
        if not path.exists():
            fd, tmp = tempfile.mkstemp(dir=self.root)
            with os.fdopen(fd, "w") as out:
                out.write(make())
            try:
                os.link(tmp, path)  # first writer wins; a racing process reads the winner's value
            except FileExistsError:
                pass
            os.unlink(tmp)
        return path.read_text().strip()

    # --- tokens -----------------------------------------------------------------------------
    @property
    def tokens_path(self) -> Path:
        return self.root / "tokens.json"

    def add_token(self, name: str, orgs: tuple[str, ...] = (), role: str = "write") -> str:
        """Idempotent: the same user and role keep their token; the organisations are replaced."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if not all(NAME.match(n) for n in (name, *orgs)):
            raise ValueError(f"not a user or organisation name: {', '.join((name, *orgs))}")
        with self.lock, self._file_lock("tokens.lock"):  # the CLI may add one while the server seeds its own
            tokens = read_json(self.tokens_path, {})
            token = next((t for t, v in tokens.items() if v["name"] == name and v["role"] == role), None)
            token = token or TOKEN_PREFIX + secrets.token_urlsafe(26).replace("-", "a").replace("_", "b")
            created = tokens.get(token, {}).get("created") or now_iso()
            tokens[token] = {"name": name, "orgs": sorted(set(orgs)), "role": role, "created": created}
            write_json(self.tokens_path, tokens)
            return token

    @contextmanager
    def _file_lock(self, name: str) -> Iterator[None]:
        with open(self.root / name, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def user(self, token: str) -> User | None:
        """The token's user (compared in constant time), or None."""
        try:
            mtime = self.tokens_path.stat().st_mtime
        except FileNotFoundError:
            return None
        if mtime != self._tokens_mtime:
            self._tokens, self._tokens_mtime = read_json(self.tokens_path, {}), mtime
        for known, record in self._tokens.items():
            if hmac.compare_digest(known.encode(), token.encode()):
                return User(record["name"], tuple(record.get("orgs", ())), record.get("role", "write"),
                            record.get("created", ""))
        return None

    # --- content store ----------------------------------------------------------------------
    def object_path(self, sha256: str) -> Path:
        if not SHA256.match(sha256):
            raise ValueError(f"{sha256!r} is not a SHA-256")
        return self.root / "objects" / sha256[:2] / sha256

    def has_object(self, sha256: str, size: int | None = None) -> bool:
        if not SHA256.match(str(sha256)):
            return False
        path = self.object_path(sha256)
        return path.is_file() and (size is None or path.stat().st_size == size)

    def put_bytes(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        if not self.has_object(sha):
            with self.temp_file() as (tmp, out):
                out.write(data)
                out.close()
                self.place(tmp, sha)
        return sha

    @contextmanager
    def temp_file(self) -> Iterator[tuple[Path, BinaryIO]]:
        fd, name = tempfile.mkstemp(dir=self.root / "tmp")
        out = os.fdopen(fd, "wb")
        try:
            yield Path(name), out
        finally:
            out.close()
            Path(name).unlink(missing_ok=True)

    def place(self, tmp: Path, sha: str) -> None:
        """Move a finished temporary file into the content store under its SHA-256."""
        dest = self.object_path(sha)
        dest.parent.mkdir(exist_ok=True)
        os.replace(tmp, dest)

    # --- signatures -------------------------------------------------------------------------
    def sign(self, message: str, ttl: int = 3600) -> str:
        """`<expiry>.<hmac>` binding `message` until expiry (signed URLs, Xet access tokens)."""
        expires = int(time.time()) + ttl
        mac = hmac.new(self._secret, f"{expires}:{message}".encode(), hashlib.sha256).hexdigest()
        return f"{expires}.{mac}"

    def verify(self, message: str, signature: str) -> bool:
        expires, _, mac = signature.partition(".")
        if not expires.isdigit() or int(expires) < time.time():
            return False
        want = hmac.new(self._secret, f"{expires}:{message}".encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, mac)
