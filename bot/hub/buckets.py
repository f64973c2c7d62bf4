"""Storage buckets, as far as HF Jobs needs them: `run_uv_job` with a local script uploads it to the
`{namespace}/jobs-artifacts` bucket (create_bucket + Xet upload + batch_bucket_files) and mounts that
bucket's folder at /data in the job. Buckets hold files by path, without history.

    ROOT/buckets/<owner>/<name>.json   {id, private, createdAt, files: {path: {sha256, size, xetHash, mtime}}}

Routes (hf_api.py `create_bucket`, `bucket_info`, `_batch_bucket_files`): create, info and batch
(addFile / copyFile by Xet hash, deleteFile). Listing and downloading bucket files are not served.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from bot.hub.errors import HubError, bad_request, base_url, forbidden, optional_user, required_user
from bot.hub.store import HubStore, User, now_iso, read_json, valid_id, write_json

router = APIRouter()


class Buckets:
    def __init__(self, store: HubStore):
        self.store = store

    def path(self, bucket_id: str):
        return self.store.root / "buckets" / f"{bucket_id}.json"

    def get(self, bucket_id: str) -> dict | None:
        return read_json(self.path(bucket_id)) if valid_id(bucket_id) else None

    def create(self, bucket_id: str, private: bool) -> dict:
        if not valid_id(bucket_id):
            raise HubError(400, f"Invalid bucket id {bucket_id!r}")
        with self.store.lock:
            if self.get(bucket_id) is not None:
                raise HubError(409, f"You already created this bucket: {bucket_id}")
            bucket = {"id": bucket_id, "private": private, "createdAt": now_iso(), "files": {}}
            write_json(self.path(bucket_id), bucket)
            return bucket

    def apply(self, bucket_id: str, operations: list[dict], lookup) -> list[dict]:
        """Apply NDJSON batch operations; returns the failures ({path, error}) the client reports."""
        failed = []
        with self.store.lock:
            bucket = self.get(bucket_id) or {}
            files = bucket.setdefault("files", {})
            for op in operations:
                path = str(op.get("path", "")).strip("/")
                if not path or ".." in path.split("/"):
                    failed.append({"path": path, "error": "invalid path"})
                    continue
                if op.get("type") == "deleteFile":
                    if files.pop(path, None) is None:
                        failed.append({"path": path, "error": "no such file"})
                    continue
                known = lookup(str(op.get("xetHash", "")))
                if known is None:
                    failed.append({"path": path, "error": "unknown xetHash: upload the file through Xet first"})
                    continue
                files[path] = {**known, "xetHash": op["xetHash"], "mtime": op.get("mtime")}
            write_json(self.path(bucket_id), bucket)
        return failed

    def folder_files(self, bucket_id: str, folder: str) -> dict[str, str]:
        """relative path -> sha256 of the files under `folder` (the whole bucket for "")."""
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        files = (self.get(bucket_id) or {}).get("files", {})
        return {p[len(prefix):]: f["sha256"] for p, f in files.items() if p.startswith(prefix)}


def buckets_of(request: Request) -> Buckets:
    return request.app.state.buckets


def _bucket_id(owner: str, name: str, user: User | None) -> str:
    if owner == "me":
        if user is None:
            raise HubError(401, "You must be authenticated to use the `me` namespace")
        owner = user.name
    return f"{owner}/{name}"


def _readable(request: Request, bucket_id: str, user: User | None) -> dict:
    bucket = buckets_of(request).get(bucket_id)
    if bucket is None or (bucket["private"] and (user is None or bucket_id.split("/")[0] not in user.namespaces)):
        raise HubError(404, f"Bucket not found: {bucket_id}", "RepoNotFound")
    return bucket


@router.post("/api/buckets/{owner}/{name}")
async def create_bucket(owner: str, name: str, request: Request, user: User = Depends(required_user)) -> JSONResponse:
    bucket_id = _bucket_id(owner, name, user)
    if not user.can_write(bucket_id.split("/")[0]):
        raise forbidden(f"You don't have the rights to create a bucket under {bucket_id.split('/')[0]}")
    payload = json.loads(await request.body() or b"{}")
    url = f"{base_url(request)}/buckets/{bucket_id}"
    try:
        buckets_of(request).create(bucket_id, payload.get("visibility", "public") != "public")
    except HubError as exc:
        exc.body["url"] = url  # create_bucket(exist_ok=True) reads the url of the 409
        raise
    return JSONResponse({"url": url, "id": bucket_id, "name": bucket_id})


@router.get("/api/buckets/{owner}/{name}")
def bucket_info(owner: str, name: str, request: Request, user: User | None = Depends(optional_user)) -> dict:
    bucket = _readable(request, _bucket_id(owner, name, user), user)
    files = bucket["files"].values()
    return {"id": bucket["id"], "private": bucket["private"], "createdAt": bucket["createdAt"],
            "size": sum(f["size"] for f in files), "totalFiles": len(bucket["files"])}


@router.post("/api/buckets/{owner}/{name}/batch")
async def batch(owner: str, name: str, request: Request, user: User = Depends(required_user)) -> JSONResponse:
    bucket_id = _bucket_id(owner, name, user)
    _readable(request, bucket_id, user)
    if not user.can_write(bucket_id.split("/")[0]):
        raise forbidden(f"You don't have the rights to write to the bucket {bucket_id}")
    try:
        operations = [json.loads(line) for line in (await request.body()).splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise bad_request(f"The batch payload is not NDJSON: {exc}") from exc
    failed = buckets_of(request).apply(bucket_id, operations, request.app.state.xet.lookup)
    return JSONResponse({"failed": failed}, status_code=422 if failed and len(failed) == len(operations) else 200)
