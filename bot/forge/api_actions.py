"""GitHub Actions routes: workflows, dispatches, runs, jobs, logs, cancel and artifacts.

Shapes and statuses follow https://docs.github.com/rest/actions and the OpenAPI description: a
dispatch answers 204, or 200 with `{workflow_run_id, run_url, html_url}` when the body asks for
`return_run_details`; cancel answers 202 `{}` (409 once the run completed); job logs, run logs and
artifact archives answer 302 to a short-lived signed download URL, as GitHub's do (clients that
follow redirects get the text or the zip). Runs are executed by actions_runner.py.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import secrets
import time
import zipfile
import zlib

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from bot.forge import schemas as s
from bot.forge.actions_runner import workflow_meta
from bot.forge.api import ApiError, Ctx, forge_of, not_found, page_of, repo_ctx
from bot.forge.rows import Row

router = APIRouter()
downloads = APIRouter()  # the signed URLs the 302s point to: outside /api/v3, no Authorization needed
R = "/repos/{owner}/{repo}"
DOWNLOAD_TTL_S = 300
STATUSES = ("queued", "in_progress", "completed", "requested", "waiting", "pending")


# --- workflows ------------------------------------------------------------------------------------
def workflows(c: Ctx) -> list[dict]:
    """Workflows are the `.github/workflows/*.yml` files on the default branch, like GitHub's."""
    git = c.forge.git(c.repo["full_name"])
    tree = git.resolve(f"refs/heads/{c.repo['default_branch']}:.github/workflows")
    if tree is None:
        return []
    out = []
    for e in git.ls_tree(tree):
        if e["type"] != "blob" or not e["path"].endswith((".yml", ".yaml")):
            continue
        path = f".github/workflows/{e['path']}"
        out.append({"id": zlib.crc32(f"{c.repo['full_name']}/{path}".encode()), "path": path,
                    **workflow_meta(git.read_blob(e["sha"]), path)})
    return out


def _workflow(c: Ctx, workflow_id: str) -> dict:
    for w in workflows(c):
        if workflow_id in (str(w["id"]), w["path"], w["path"].rsplit("/", 1)[-1]):
            return w
    raise not_found()


@router.get(R + "/actions/workflows")
def list_workflows(c: Ctx = Depends(repo_ctx)):
    items = [c.views.workflow(c.repo, w) for w in workflows(c)]
    return {"total_count": len(items), "workflows": items}


@router.get(R + "/actions/workflows/{workflow_id}")
def get_workflow(workflow_id: str, c: Ctx = Depends(repo_ctx)):
    return c.views.workflow(c.repo, _workflow(c, workflow_id))


@router.post(R + "/actions/workflows/{workflow_id}/dispatches", status_code=204)
def dispatch(workflow_id: str, c: Ctx = Depends(repo_ctx), payload: dict = Depends(s.DISPATCH.read)):
    c.need("write")
    w, ref = _workflow(c, workflow_id), payload["ref"]
    git = c.forge.git(c.repo["full_name"])
    sha = git.resolve(f"{ref}^{{commit}}")
    if sha is None:
        raise ApiError(422, f"No ref found for: {ref}")
    blob = git.resolve(f"{sha}:{w['path']}")
    if blob is not None:  # GitHub runs (and checks the inputs of) the workflow as it is at the ref
        w = {**w, **workflow_meta(git.read_blob(blob), w["path"])}
    if not w["dispatchable"]:
        raise ApiError(422, "Workflow does not have 'workflow_dispatch' trigger")
    inputs = payload.get("inputs") or {}
    _check_inputs(w["inputs"], inputs)
    c.forge.record_dispatch(c.repo, w, ref, json.dumps(inputs), c.login)
    run = c.forge.actions.dispatch(c.repo, w, ref, sha, inputs, c.login)
    if payload.get("return_run_details"):
        view = c.views.workflow_run(c.repo, run)
        return JSONResponse({"workflow_run_id": run["id"], "run_url": view["url"], "html_url": view["html_url"]})
    return Response(status_code=204)


def _check_inputs(declared: dict, given: dict) -> None:
    """GitHub refuses inputs the workflow does not declare, and required ones left out."""
    unexpected = [k for k in given if k not in declared]
    if unexpected:
        raise ApiError(422, "Unexpected inputs provided: " + json.dumps(unexpected))
    for name, spec in declared.items():
        if isinstance(spec, dict) and spec.get("required") and spec.get("default") is None and name not in given:
            raise ApiError(422, f"Required input '{name}' not provided")


# --- runs -----------------------------------------------------------------------------------------
def _listed(c: Ctx, rows: list[Row], key: str, view) -> JSONResponse:
    """`{total_count, <key>: [...]}` paginated like GitHub's Actions lists, with the Link header."""
    chunk, headers = page_of(c.request, rows)
    return JSONResponse({"total_count": len(rows), key: [view(r) for r in chunk]}, headers=headers)


def _filtered_runs(c: Ctx, rows: list[Row]) -> list[Row]:
    qp = c.request.query_params
    if qp.get("actor"):
        rows = [r for r in rows if r["actor"].lower() == qp["actor"].lower()]
    if qp.get("branch"):
        rows = [r for r in rows if r["head_branch"] == qp["branch"]]
    if qp.get("event"):
        rows = [r for r in rows if r["event"] == qp["event"]]
    if qp.get("head_sha"):
        rows = [r for r in rows if r["head_sha"] == qp["head_sha"]]
    if qp.get("status"):  # a status (queued, in_progress, completed) or a conclusion (success, failure...)
        field = "status" if qp["status"] in STATUSES else "conclusion"
        rows = [r for r in rows if r[field] == qp["status"]]
    return rows


@router.get(R + "/actions/runs")
def list_runs(c: Ctx = Depends(repo_ctx)):
    rows = _filtered_runs(c, c.forge.runs(c.repo))
    return _listed(c, rows, "workflow_runs", lambda r: c.views.workflow_run(c.repo, r))


@router.get(R + "/actions/workflows/{workflow_id}/runs")
def list_workflow_runs(workflow_id: str, c: Ctx = Depends(repo_ctx)):
    rows = _filtered_runs(c, c.forge.runs(c.repo, _workflow(c, workflow_id)["id"]))
    return _listed(c, rows, "workflow_runs", lambda r: c.views.workflow_run(c.repo, r))


def _run(c: Ctx, run_id: int) -> Row:
    run = c.forge.run(c.repo, run_id)
    if run is None:
        raise not_found()
    return run


@router.get(R + "/actions/runs/{run_id}")
def get_run(run_id: int, c: Ctx = Depends(repo_ctx)):
    return c.views.workflow_run(c.repo, _run(c, run_id))


def _cancel(c: Ctx, run_id: int, force: bool) -> JSONResponse:
    c.need("write")
    run = _run(c, run_id)
    if run["status"] == "completed":
        raise ApiError(409, "Cannot cancel a workflow run that is completed.")
    if not c.forge.actions.cancel(run_id, force=force):
        _cancel_orphan(c, run)
    return JSONResponse({}, status_code=202)


def _cancel_orphan(c: Ctx, run: Row) -> None:
    """A run no thread of this process executes (a forge restarted mid-run, or one that only records
    runs): it ends cancelled at once, with the webhooks a cancel sends."""
    runner = c.forge.actions
    workflow = {"id": run["workflow_id"], "path": run["path"], "name": run["name"]}
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for job in c.forge.jobs(run["id"]):
        if job["status"] != "completed":
            job = c.forge.update_job(job["id"], status="completed", conclusion="cancelled",
                                     started_at=job["started_at"] or ts, completed_at=ts)
            runner.emit_job(c.repo, job, run, "completed")
    run = c.forge.update_run(run["id"], status="completed", conclusion="cancelled")
    runner.emit_run(c.repo, run, workflow, "completed")


@router.post(R + "/actions/runs/{run_id}/cancel")
def cancel_run(run_id: int, c: Ctx = Depends(repo_ctx)):
    return _cancel(c, run_id, force=False)


@router.post(R + "/actions/runs/{run_id}/force-cancel")
def force_cancel_run(run_id: int, c: Ctx = Depends(repo_ctx)):
    """Also stops steps that run after a cancel (`if: always()`), as GitHub's force-cancel does."""
    return _cancel(c, run_id, force=True)


# --- jobs and logs --------------------------------------------------------------------------------
def _job_view(c: Ctx, job: Row) -> dict:
    return c.views.workflow_job(c.repo, job, c.forge.run_row(job["run_id"]))


@router.get(R + "/actions/runs/{run_id}/jobs")
def list_jobs(run_id: int, c: Ctx = Depends(repo_ctx)):
    run = _run(c, run_id)
    return _listed(c, c.forge.jobs(run["id"]), "jobs", lambda j: c.views.workflow_job(c.repo, j, run))


def _job(c: Ctx, job_id: int) -> Row:
    job = c.forge.job(c.repo, job_id)
    if job is None:
        raise not_found()
    return job


@router.get(R + "/actions/jobs/{job_id}")
def get_job(job_id: int, c: Ctx = Depends(repo_ctx)):
    return _job_view(c, _job(c, job_id))


def _signed(request: Request, kind: str, ident: int) -> RedirectResponse:
    """302 to a download URL that works without a token for DOWNLOAD_TTL_S seconds."""
    expires = int(time.time()) + DOWNLOAD_TTL_S
    sig = _signature(request, kind, ident, expires)
    forge = forge_of(request)
    base = (forge.actions.download_url or forge.html_url).rstrip("/")
    url = f"{base}/_forge/actions/{kind}/{ident}?expires={expires}&signature={sig}"
    return RedirectResponse(url, status_code=302)


def _signature(request: Request, kind: str, ident: int, expires: int) -> str:
    app = request.app
    if not hasattr(app.state, "download_key"):
        app.state.download_key = secrets.token_bytes(32)
    return hmac.new(app.state.download_key, f"{kind}:{ident}:{expires}".encode(), hashlib.sha256).hexdigest()


@router.get(R + "/actions/jobs/{job_id}/logs")
def job_logs(job_id: int, c: Ctx = Depends(repo_ctx)):
    return _signed(c.request, "job-logs", _job(c, job_id)["id"])


@router.get(R + "/actions/runs/{run_id}/logs")
def run_logs(run_id: int, c: Ctx = Depends(repo_ctx)):
    return _signed(c.request, "run-logs", _run(c, run_id)["id"])


# --- artifacts ------------------------------------------------------------------------------------
def _artifact_rows(c: Ctx, rows: list[Row]) -> JSONResponse:
    name = c.request.query_params.get("name")
    if name:
        rows = [a for a in rows if a["name"] == name]
    return _listed(c, rows, "artifacts", lambda a: _artifact_view(c, a))


def _expired(a: Row) -> bool:
    """Past its retention days (`expires_at`, ISO UTC strings, compare in time order), as GitHub reports it."""
    return a["expires_at"] <= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _artifact_view(c: Ctx, a: Row) -> dict:
    return {**c.views.artifact(c.repo, a, c.forge.run_row(a["run_id"])), "expired": _expired(a)}


@router.get(R + "/actions/artifacts")
def list_artifacts(c: Ctx = Depends(repo_ctx)):
    return _artifact_rows(c, c.forge.artifacts(c.repo))


@router.get(R + "/actions/runs/{run_id}/artifacts")
def list_run_artifacts(run_id: int, c: Ctx = Depends(repo_ctx)):
    return _artifact_rows(c, c.forge.artifacts(c.repo, _run(c, run_id)["id"]))


def _artifact(c: Ctx, artifact_id: int) -> Row:
    artifact = c.forge.artifact(c.repo, artifact_id)
    if artifact is None:
        raise not_found()
    return artifact


@router.get(R + "/actions/artifacts/{artifact_id}")
def get_artifact(artifact_id: int, c: Ctx = Depends(repo_ctx)):
    return _artifact_view(c, _artifact(c, artifact_id))


@router.get(R + "/actions/artifacts/{artifact_id}/{archive_format}")
def download_artifact(artifact_id: int, archive_format: str, c: Ctx = Depends(repo_ctx)):
    a = _artifact(c, artifact_id)
    if archive_format != "zip":
        raise not_found()
    if _expired(a):  # GitHub: 410 Gone once the retention days are over
        raise ApiError(410, "Artifact has expired")
    return _signed(c.request, "artifacts", a["id"])


# --- the signed download URLs ---------------------------------------------------------------------
@downloads.get("/_forge/actions/{kind}/{ident}")
def signed_download(kind: str, ident: int, request: Request, expires: int = 0, signature: str = ""):
    good = _signature(request, kind, ident, expires)
    if not hmac.compare_digest(good, signature) or expires < time.time():
        return Response("<Error><Code>AuthenticationFailed</Code></Error>", status_code=403,
                        media_type="application/xml")
    forge = forge_of(request)
    if kind == "job-logs":
        return Response(forge.job_log(ident), media_type="text/plain; charset=utf-8")
    if kind == "run-logs":
        return Response(_run_logs_zip(forge, ident), media_type="application/zip",
                        headers={"Content-Disposition": f"attachment; filename=logs_{ident}.zip"})
    if kind == "artifacts":
        path = forge.artifact_path(ident)
        if path.exists():
            return Response(path.read_bytes(), media_type="application/zip",
                            headers={"Content-Disposition": f"attachment; filename={ident}.zip"})
    return Response("<Error><Code>BlobNotFound</Code></Error>", status_code=404, media_type="application/xml")


def _run_logs_zip(forge, run_id: int) -> bytes:
    """A run's logs as GitHub zips them: one `<n>_<job name>.txt` per job."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        error = forge.run_row(run_id)["error"]
        if error:  # a workflow that could not start has no jobs: say why
            zf.writestr("workflow.txt", f"The workflow could not start: {error}\n")
        for n, job in enumerate(forge.jobs(run_id)):
            zf.writestr(f"{n}_{job['name'].replace('/', '_')}.txt", forge.job_log(job["id"]))
    return buffer.getvalue()

