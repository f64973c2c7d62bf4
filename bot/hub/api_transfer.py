"""Getting large files in: the Git LFS batch API (basic transfer) and Xet tokens and CAS uploads.

LFS (https://github.com/git-lfs/git-lfs/blob/main/docs/api/batch.md, as huggingface_hub's lfs.py uses
it, the path taken with HF_HUB_DISABLE_XET=1 or without hf_xet): the batch answer gives each missing
object a signed `upload` href (a plain PUT: the client sends no token there) and a `verify` href.
Objects already stored get no actions, so the client skips them.

Xet (https://huggingface.co/docs/xet/api, as hf_xet 1.x calls it): `xet-write-token` names the CAS URL
`{endpoint}/xet-cas/{store id}`; under it the client checks chunks (404: no global dedup), asks for an
upload grant (404: it then posts directly), posts xorbs and a shard (v2 answers NDJSON frames).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from bot.hub.api_repos import kind_of, need_write, repos
from bot.hub.errors import HubError, bad_request, base_url, required_user, store_of
from bot.hub.store import User
from bot.hub.xet import XetStore
from bot.hub.xetformat import XetFormatError

router = APIRouter()
OID = re.compile(r"^[0-9a-f]{64}$")
LFS_JSON = "application/vnd.git-lfs+json"
TOKEN_TTL = 3600


def xet_of(request: Request) -> XetStore:
    return request.app.state.xet


# --- Git LFS batch API --------------------------------------------------------------------------------
@router.post("/datasets/{owner}/{name}.git/info/lfs/objects/batch")
async def lfs_batch_dataset(owner: str, name: str, request: Request, user: User = Depends(required_user)):
    return await _batch(request, "dataset", f"{owner}/{name}", user)


@router.post("/spaces/{owner}/{name}.git/info/lfs/objects/batch")
async def lfs_batch_space(owner: str, name: str, request: Request, user: User = Depends(required_user)):
    return await _batch(request, "space", f"{owner}/{name}", user)


@router.post("/{owner}/{name}.git/info/lfs/objects/batch")
async def lfs_batch_model(owner: str, name: str, request: Request, user: User = Depends(required_user)):
    return await _batch(request, "model", f"{owner}/{name}", user)


async def _batch(request: Request, kind: str, repo_id: str, user: User) -> JSONResponse:
    repos(request).visible(kind, repo_id, user)
    need_write(user, repo_id)
    payload = await request.json()
    if payload.get("operation") != "upload":
        raise bad_request("The local Hub's LFS batch API only takes uploads (download with /resolve)")
    if "basic" not in payload.get("transfers", ["basic"]):
        raise bad_request("The local Hub's LFS batch API only offers the basic transfer")
    store, base, objects = store_of(request), base_url(request), []
    for item in payload.get("objects", []):
        oid, size = str(item.get("oid", "")), item.get("size")
        if not OID.match(oid) or not isinstance(size, int) or size < 0:
            objects.append({"oid": oid, "size": size if isinstance(size, int) else 0,
                            "error": {"code": 422, "message": "oid must be a SHA-256 and size an integer"}})
        elif store.has_object(oid, size):
            objects.append({"oid": oid, "size": size})
        else:
            signature = store.sign(f"lfs:{oid}:{size}")
            actions = {"upload": {"href": f"{base}/lfs-upload/{oid}/{size}?sig={signature}", "expires_in": TOKEN_TTL},
                       "verify": {"href": f"{base}/lfs-verify"}}
            objects.append({"oid": oid, "size": size, "authenticated": True, "actions": actions})
    return JSONResponse({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}, media_type=LFS_JSON)


@router.put("/lfs-upload/{oid}/{size}")
async def lfs_upload(oid: str, size: int, sig: str, request: Request) -> Response:
    """The signed PUT of one object; it must hash to `oid` and have `size` bytes, or nothing is kept."""
    store = store_of(request)
    if not store.verify(f"lfs:{oid}:{size}", sig):
        raise HubError(403, "The upload URL is invalid or has expired: ask the LFS batch API again")
    digest, received = hashlib.sha256(), 0
    with store.temp_file() as (tmp, out):
        async for chunk in request.stream():
            digest.update(chunk)
            received += len(chunk)
            out.write(chunk)
        out.close()
        if digest.hexdigest() != oid or received != size:
            raise bad_request(f"The upload has {received} bytes hashing to {digest.hexdigest()}, not {size} / {oid}")
        if not store.has_object(oid):
            store.place(tmp, oid)
    return Response(status_code=200)


@router.post("/lfs-verify")
async def lfs_verify(request: Request) -> dict:
    item = await request.json()
    if not store_of(request).has_object(str(item.get("oid", "")), item.get("size")):
        raise HubError(404, f"LFS object {item.get('oid')} was not uploaded")
    return {}


# --- Xet ------------------------------------------------------------------------------------------------
@router.get("/api/{kind}/{owner}/{name}/xet-{access}-token")
@router.get("/api/{kind}/{owner}/{name}/xet-{access}-token/{revision}")
def xet_token(kind: str, owner: str, name: str, access: str, request: Request,
              user: User = Depends(required_user)) -> JSONResponse:
    repo_id = f"{owner}/{name}"
    if kind == "buckets":
        if request.app.state.buckets.get(repo_id) is None:
            raise HubError(404, f"Bucket not found: {repo_id}", "RepoNotFound")
    else:
        repos(request).visible(kind_of(kind), repo_id, user)
    if access == "write":
        need_write(user, repo_id)
    elif access != "read":
        raise HubError(404, "Not found")
    store = store_of(request)
    token, expires = f"{user.name}/{store.sign('xet:' + user.name, TOKEN_TTL)}", int(time.time()) + TOKEN_TTL
    cas = f"{base_url(request)}/xet-cas/{store.id}"
    headers = {"X-Xet-Cas-Url": cas, "X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(expires)}
    return JSONResponse({"casUrl": cas, "accessToken": token, "exp": expires}, headers=headers)


def cas_caller(request: Request) -> str:
    """The CAS checks the short-lived Xet token, never the user's Hub token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    name, _, signature = token.strip().partition("/")
    if scheme.lower() != "bearer" or not store_of(request).verify("xet:" + name, signature):
        raise HubError(401, "Invalid or expired Xet access token")
    if request.path_params.get("store_id") != store_of(request).id:
        raise HubError(404, "Unknown CAS (this token is from another local Hub store)")
    return name


@router.get("/xet-cas/{store_id}/v1/chunks/{prefix}/{chunk}")
def global_dedup(chunk: str, caller: str = Depends(cas_caller)) -> Response:
    return JSONResponse({"error": "global deduplication is not offered by the local Hub"}, status_code=404)


@router.post("/xet-cas/{store_id}/v1/xorb-grants/{prefix}/{xorb}")
def xorb_grant(xorb: str, caller: str = Depends(cas_caller)) -> Response:
    return JSONResponse({"error": "upload grants are not offered: post the xorb directly"}, status_code=404)


@router.post("/xet-cas/{store_id}/v1/xorbs/{prefix}/{xorb}")
async def upload_xorb(xorb: str, request: Request, caller: str = Depends(cas_caller)) -> dict:
    try:
        body = await request.body()
        return {"was_inserted": await asyncio.to_thread(xet_of(request).put_xorb, xorb, body)}
    except XetFormatError as exc:
        raise bad_request(str(exc)) from exc


@router.post("/xet-cas/{store_id}/v1/shards")
async def upload_shard_v1(request: Request, caller: str = Depends(cas_caller)) -> dict:
    try:
        body = await request.body()
        await asyncio.to_thread(xet_of(request).ingest_shard, body)
    except XetFormatError as exc:
        raise bad_request(str(exc)) from exc
    return {"result": 1}


@router.post("/xet-cas/{store_id}/v2/shards")
async def upload_shard_v2(request: Request, caller: str = Depends(cas_caller)) -> Response:
    """Same as v1, answered as the NDJSON frames of a ShardUploadEvent stream (the status is already 200)."""
    try:
        body = await request.body()
        files = await asyncio.to_thread(xet_of(request).ingest_shard, body)
        frames = f'{{"type":"validating","verified":{len(files)},"total":{len(files)}}}\n{{"type":"result"}}\n'
    except XetFormatError as exc:
        frames = json.dumps({"type": "error", "message": str(exc), "retryable": False}) + "\n"
    return Response(frames, media_type="application/x-ndjson")


@router.post("/v1/telemetry")
def telemetry() -> dict:
    """hf_xet reports transfer statistics to the CAS host; the local Hub takes and forgets them."""
    return {}
