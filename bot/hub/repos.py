"""Repositories with commits: what makes revisions, `snapshot_download(revision=...)` and the tree work.

    ROOT/repos/<type>/<owner>/<name>/repo.json          {id, type, private, sdk, createdAt}
                                      refs.json          {"main": <commit sha>}
                                      commits/<sha>.json {id, parents, title, message, author, date, files}

A commit's `files` maps every path to {sha256, size, lfs, oid[, pointerSize]}; the bytes live in the
content store. `oid` is what git would call the blob: the SHA-1 of `blob <size>\\0<content>` for a regular
file, of its LFS pointer file for an LFS one (as the Hub reports `blobId`). Commit ids are 40 hex digits,
so the client treats them as immutable revisions. Branches other than `main` and pull requests are not
modelled. Which files are LFS follows the repo's `.gitattributes` (the Hub's default one is committed
when a repo is created), plus any file over 10 MiB or whose first bytes hold a NUL byte.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import shutil
from pathlib import Path, PurePosixPath

from bot.hub.errors import HubError, entry_not_found, repo_not_found, revision_not_found
from bot.hub.store import HubStore, now_iso, read_json, valid_id, write_json

TYPES = ("model", "dataset", "space")
LFS_SIZE = 10 * 1024 * 1024
DEFAULT_BRANCH = "main"
LFS_PATTERNS = ("*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib", "*.lfs.*",
                "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot", "*.parquet", "*.pb",
                "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors", "saved_model/**/*", "*.tar.*",
                "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*")
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS)


def git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def file_entry(sha256: str, size: int, lfs: bool, data: bytes | None = None) -> dict:
    if lfs:
        pointer = lfs_pointer(sha256, size)
        return {"sha256": sha256, "size": size, "lfs": True, "oid": git_blob_oid(pointer),
                "pointerSize": len(pointer)}
    return {"sha256": sha256, "size": size, "lfs": False, "oid": git_blob_oid(data or b"")}


def lfs_patterns(gitattributes: str) -> list[str]:
    return [line.split()[0] for line in gitattributes.splitlines()
            if line.strip() and not line.startswith("#") and "filter=lfs" in line.split()[1:]]


def matches(path: str, pattern: str) -> bool:
    """gitattributes matching: a pattern without `/` matches the file name at any depth."""
    if "/" not in pattern.rstrip("/"):
        return fnmatch.fnmatchcase(PurePosixPath(path).name, pattern)
    return fnmatch.fnmatchcase(path, pattern.replace("**/", "*"))


class Repos:
    """Every repository of a store (the `model` / `dataset` / `space` types)."""

    def __init__(self, store: HubStore):
        self.store = store

    def folder(self, kind: str, repo_id: str):
        return self.store.root / "repos" / kind / repo_id

    def get(self, kind: str, repo_id: str) -> dict | None:
        if kind not in TYPES or not valid_id(repo_id):
            return None
        return read_json(self.folder(kind, repo_id) / "repo.json")

    def all(self, kind: str) -> list[dict]:
        return [read_json(p) for p in sorted((self.store.root / "repos" / kind).glob("*/*/repo.json"))]

    def visible(self, kind: str, repo_id: str, user) -> dict:
        """The repo when the caller may read it; a private repo of someone else is "not found"."""
        repo = self.get(kind, repo_id)
        if repo is None or (repo["private"] and (user is None or repo_id.split("/")[0] not in user.namespaces)):
            raise repo_not_found(repo_id, 401 if user is None else 404)
        return repo

    def create(self, kind: str, repo_id: str, author: str, private: bool, sdk: str | None = None) -> dict:
        if kind not in TYPES or not valid_id(repo_id):
            raise HubError(400, f"Invalid repo type or id: {kind} {repo_id!r}")
        with self.store.lock:
            if self.get(kind, repo_id) is not None:
                raise HubError(409, f"You already created this {kind} repo")
            repo = {"id": repo_id, "type": kind, "private": private, "sdk": sdk, "createdAt": now_iso()}
            folder = self.folder(kind, repo_id)
            (folder / "commits").mkdir(parents=True, exist_ok=True)
            data = GITATTRIBUTES.encode()
            files = {".gitattributes": file_entry(self.store.put_bytes(data), len(data), False, data)}
            sha = self._write_commit(folder, [], files, "initial commit", "", author)
            write_json(folder / "refs.json", {DEFAULT_BRANCH: sha})
            write_json(folder / "repo.json", repo)
            return repo

    def delete(self, kind: str, repo_id: str) -> None:
        with self.store.lock:
            if self.get(kind, repo_id) is None:
                raise repo_not_found(repo_id)
            shutil.rmtree(self.folder(kind, repo_id))

    def set_private(self, kind: str, repo_id: str, private: bool) -> None:
        with self.store.lock:
            repo = self.get(kind, repo_id) or {}
            write_json(self.folder(kind, repo_id) / "repo.json", {**repo, "private": private})

    # --- revisions ----------------------------------------------------------------------------
    def refs(self, kind: str, repo_id: str) -> dict[str, str]:
        return read_json(self.folder(kind, repo_id) / "refs.json", {})

    def resolve(self, kind: str, repo_id: str, revision: str | None) -> str:
        """A branch name, a full commit id or an unambiguous prefix of 7+ hex digits -> commit id."""
        revision = revision or DEFAULT_BRANCH
        refs = self.refs(kind, repo_id)
        if revision in refs:
            return refs[revision]
        commits = self.folder(kind, repo_id) / "commits"
        if len(revision) >= 7 and all(c in "0123456789abcdef" for c in revision):
            found = [p.stem for p in commits.glob(f"{revision}*.json")]
            if len(found) == 1:
                return found[0]
        raise revision_not_found(revision)

    def commit_record(self, kind: str, repo_id: str, sha: str) -> dict:
        record = read_json(self.folder(kind, repo_id) / "commits" / f"{sha}.json")
        if record is None:
            raise revision_not_found(sha)
        return record

    def files(self, kind: str, repo_id: str, revision: str | None) -> tuple[str, dict[str, dict]]:
        sha = self.resolve(kind, repo_id, revision)
        return sha, self.commit_record(kind, repo_id, sha)["files"]

    def history(self, kind: str, repo_id: str, revision: str | None) -> list[dict]:
        """Commits from `revision` back to the first one, newest first."""
        out, sha = [], self.resolve(kind, repo_id, revision)
        while sha:
            record = self.commit_record(kind, repo_id, sha)
            out.append(record)
            sha = record["parents"][0] if record["parents"] else ""
        return out

    # --- writing -------------------------------------------------------------------------------
    def upload_mode(self, files: dict[str, dict], path: str, size: int, sample: bytes) -> str:
        """"lfs" or "regular" for a file about to be uploaded (the preupload answer)."""
        attributes = files.get(".gitattributes")
        text = (self.store.object_path(attributes["sha256"]).read_text(errors="replace")
                if attributes else GITATTRIBUTES)
        if size >= LFS_SIZE or b"\x00" in sample or any(matches(path, p) for p in lfs_patterns(text)):
            return "lfs"
        return "regular"

    def commit(self, kind: str, repo_id: str, branch: str, operations: list[dict], title: str, message: str,
               author: str, parent: str | None = None) -> str:
        """Apply `operations` ({op: add|delete|delete_folder, path, entry}) on top of `branch`'s head."""
        with self.store.lock:
            refs = self.refs(kind, repo_id)
            if branch not in refs:
                raise revision_not_found(branch)
            head = refs[branch]
            if parent and not head.startswith(parent):
                raise HubError(412, f"A commit has happened since {parent}: the head of {branch} is {head}")
            files = dict(self.commit_record(kind, repo_id, head)["files"])
            for op in operations:
                _apply(files, op, head)
            folder = self.folder(kind, repo_id)
            sha = self._write_commit(folder, [head], files, title, message, author)
            write_json(folder / "refs.json", {**refs, branch: sha})
            return sha

    def import_folder(self, kind: str, repo_id: str, folder: Path, author: str, message: str = "Import files") -> str:
        """Create `repo_id` if needed and commit every file under `folder` (or the one file `folder`, at the
        repo's root) as it is (no HTTP): seeds the playground's Hub with models and data sets, such as the
        offline copies of catalogued Hub data sets. Returns the head, unchanged when nothing differs."""
        if self.get(kind, repo_id) is None:
            self.create(kind, repo_id, author, private=False)
        sha, files = self.files(kind, repo_id, None)
        operations = []
        folder = Path(folder)
        paths = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
        for path in paths:
            name, data = path.relative_to(folder.parent if folder.is_file() else folder).as_posix(), path.read_bytes()
            digest = self.store.put_bytes(data)
            lfs = self.upload_mode(files, name, len(data), data[:512]) == "lfs"
            if files.get(name, {}).get("sha256") != digest or files[name]["lfs"] != lfs:
                operations.append({"op": "add", "path": name, "entry": file_entry(digest, len(data), lfs, data)})
        return self.commit(kind, repo_id, DEFAULT_BRANCH, operations, message, "", author) if operations else sha

    def _write_commit(self, folder, parents: list[str], files: dict, title: str, message: str, author: str) -> str:
        record = {"parents": parents, "files": files, "title": title, "message": message, "author": author,
                  "date": now_iso()}
        sha = hashlib.sha1(json.dumps(record, sort_keys=True).encode()).hexdigest()
        write_json(folder / "commits" / f"{sha}.json", {"id": sha, **record})
        return sha


def _apply(files: dict[str, dict], op: dict, head: str) -> None:
    path = op["path"]
    if op["op"] == "add":
        files[path] = op["entry"]
    elif op["op"] == "delete":
        if files.pop(path, None) is None:
            raise HubError(404, f"A file with this name doesn't exist: {path}", "EntryNotFound",
                           {"X-Repo-Commit": head})
    else:
        prefix = path.rstrip("/") + "/"
        doomed = [name for name in files if name.startswith(prefix)]
        if not doomed:
            raise entry_not_found(path, head)
        for name in doomed:
            del files[name]
