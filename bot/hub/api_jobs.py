"""HF Jobs routes under /api/jobs, shaped as huggingface_hub's `run_job` / `run_uv_job`, `inspect_job`,
`list_jobs`, `fetch_job_logs`, `cancel_job` and `list_jobs_hardware` send and parse them (hf_api.py,
_jobs_api.py: `JobInfo`, `JobHardwareInfo`). Logs are Server-Sent Events, one `data: {"timestamp",
"data"}` line per output line; the stream stays open while the job runs (with a keep-alive comment every
20 s) and ends once it has finished, which is what `follow=True` waits for.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from bot.hub.errors import HubError, base_url, forbidden, required_user, store_of
from bot.hub.hardware import hardware
from bot.hub.jobs import TERMINAL, Jobs
from bot.hub.store import User

router = APIRouter()
POLL = 0.2
KEEP_ALIVE = 20.0


def jobs_of(request: Request) -> Jobs:
    return request.app.state.jobs


def _visible(request: Request, namespace: str, job_id: str, user: User) -> dict:
    if namespace not in user.namespaces:
        raise forbidden(f"You don't have the rights to see the jobs of {namespace}")
    job = jobs_of(request).get(job_id)
    if job is None or job["owner"]["name"] != namespace:
        raise HubError(404, f"Job not found: {job_id}")
    return job


def _present(job: dict) -> dict:
    """The stored record plus the durations the Hub computes on each request."""
    def seconds(start: str | None, end: str | None) -> int | None:
        if not start:
            return None
        stop = datetime.fromisoformat(end).timestamp() if end else time.time()
        return max(0, round(stop - datetime.fromisoformat(start).timestamp()))
    durations = {"schedulingSecs": seconds(job["createdAt"], job["startedAt"] or job["finishedAt"]),
                 "runningSecs": seconds(job["startedAt"], job["finishedAt"]),
                 "totalSecs": seconds(job["createdAt"], job["finishedAt"])}
    return {**job, "durations": durations}


@router.get("/api/jobs/hardware")
def list_hardware(request: Request) -> list[dict]:
    return hardware(store_of(request).root)


@router.post("/api/jobs/{namespace}")
async def run_job(namespace: str, request: Request, user: User = Depends(required_user)) -> dict:
    if not user.can_write(namespace):
        raise forbidden(f"You don't have the rights to run jobs under {namespace}")
    spec = await request.json()
    kind = "user" if namespace == user.name else "org"
    owner = {"id": hashlib.sha1(namespace.encode()).hexdigest()[:24], "name": namespace, "type": kind}
    flavors = {row["name"] for row in hardware(store_of(request).root)}
    job = await asyncio.to_thread(jobs_of(request).start, spec, owner, base_url(request), flavors)
    return _present(job)


@router.get("/api/jobs/{namespace}")
def list_jobs(namespace: str, request: Request, user: User = Depends(required_user)) -> list[dict]:
    if namespace not in user.namespaces:
        raise forbidden(f"You don't have the rights to see the jobs of {namespace}")
    stages = set(request.query_params.getlist("stage"))
    labels = [label.partition("=") for label in request.query_params.getlist("label")]
    return [_present(job) for job in jobs_of(request).all()
            if job["owner"]["name"] == namespace and (not stages or job["status"]["stage"] in stages)
            and all((job.get("labels") or {}).get(key) == value for key, _, value in labels)]


@router.get("/api/jobs/{namespace}/{job_id}")
def inspect_job(namespace: str, job_id: str, request: Request, user: User = Depends(required_user)) -> dict:
    return _present(_visible(request, namespace, job_id, user))


@router.post("/api/jobs/{namespace}/{job_id}/cancel")
async def cancel_job(namespace: str, job_id: str, request: Request, user: User = Depends(required_user)) -> dict:
    _visible(request, namespace, job_id, user)
    if not user.can_write(namespace):
        raise forbidden(f"You don't have the rights to cancel jobs of {namespace}")
    return _present(await asyncio.to_thread(jobs_of(request).cancel, job_id))


@router.get("/api/jobs/{namespace}/{job_id}/logs")
def job_logs(namespace: str, job_id: str, request: Request, tail: int | None = None,
             user: User = Depends(required_user)) -> StreamingResponse:
    _visible(request, namespace, job_id, user)
    jobs = jobs_of(request)
    return StreamingResponse(_events(jobs, job_id, tail), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


async def _events(jobs: Jobs, job_id: str, tail: int | None):
    """Replay the log from the start (or its last `tail` lines), then follow it until the job has ended."""
    path, offset, last = jobs.log_path(job_id), 0, time.monotonic()
    if tail is not None and path.exists():
        lines = path.read_bytes().splitlines(keepends=True)
        offset = sum(len(line) for line in lines[:max(0, len(lines) - tail)])
    while True:
        finished = (jobs.get(job_id) or {}).get("status", {}).get("stage") in TERMINAL
        chunk = b""
        if path.exists():
            with path.open("rb") as log:
                log.seek(offset)
                chunk = log.read()
            chunk = chunk[:chunk.rfind(b"\n") + 1]  # whole lines only: the job may be writing one
            offset += len(chunk)
        for line in chunk.decode().splitlines():
            yield f"data: {json.dumps(json.loads(line))}\n\n"
            last = time.monotonic()
        if finished:  # read after the stage: every line written before the job ended has been sent
            return
        if time.monotonic() - last > KEEP_ALIVE:
            last = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL)
