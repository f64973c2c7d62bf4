"""Training as a Hugging Face Job: the `hf-jobs` backend (`hardware: hf-cpu-basic | hf-t4-small | ...`).

Everything a run needs or makes lives in one PRIVATE model repo per issue, `{namespace}/{name}-issue-{n}-runs`:
`{sha}/src/` is the approved checkout (uploaded by `submit`), `{sha}/out/` the outputs (uploaded by the
job). The job runs `hf_job_launcher.py` (shipped with this package) with `run_uv_job`: it downloads the
checkout, runs train.py then evaluate.py, and always uploads `out/` with a `run.json`. So the job needs
no access to GitHub, a later process on any machine can `fetch` the outputs, and the issue's state keeps
only the job's ID and the repo path (`JobRef.artifacts` = `{repo}/{sha}/out`), never a token.

The Hub token travels to the job as a secret (the Hub shows it masked); the launcher hides it from the
generated scripts. Time: the launcher stops the scripts after the budget plus a margin for `uv` to
install their dependencies, and the Hub's own timeout adds a margin for the final upload on top, so a
run that overruns still leaves its outputs. Errors from the Hub become `BackendError`s that say what to
fix (the token's scope, the namespace, the flavor, billing), never with the token in them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from runners.base import BackendError, JobRef, JobStatus, RunRequest, Stage, scrub_env
from runners.prices import hourly_price

if TYPE_CHECKING:
    from huggingface_hub import HfApi, JobInfo

LAUNCHER = Path(__file__).with_name("hf_job_launcher.py")
INSTALL_MARGIN_S = 600  # `uv run` installing torch and transformers in a fresh container
UPLOAD_MARGIN_S = 180  # the launcher uploading out/ (a model of a few hundred MB) after the scripts stopped
TAIL_LINES = 40
SHA = re.compile(r"[0-9a-f]{40}")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_-]")  # Jobs label keys and values: letters, digits, `-` and `_`
LABEL_MAX = 63
_STAGES: dict[str, tuple[Stage, str]] = {
    "SCHEDULING": ("queued", ""), "RUNNING": ("running", ""), "COMPLETED": ("succeeded", ""),
    "CANCELED": ("cancelled", "the job was cancelled"), "DELETED": ("cancelled", "the job was deleted on the Hub"),
}


def flavor_of(hardware: str) -> str:
    """`hf-t4-small` -> `t4-small`: the plan's hardware names HF Jobs flavors with an `hf-` prefix."""
    if not hardware.startswith("hf-") or len(hardware) == 3:
        raise BackendError(f"hardware `{hardware}` is not an HF Jobs flavor; use `hf-cpu-basic`, `hf-t4-small`, ...")
    return hardware[3:]


def runs_repo(namespace: str, repo: str, issue: int) -> str:
    """`{namespace}/{name}-issue-{n}-runs`, the name made valid for the Hub (no `--`, `..`, at most 96)."""
    suffix = f"-issue-{issue}-runs"
    name = re.sub(r"[^A-Za-z0-9._-]", "-", repo.rsplit("/", 1)[-1])
    name = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", name)).strip(".-")[: 96 - len(suffix)].rstrip(".-")
    return f"{namespace}/{name or 'repo'}{suffix}"


def label(value: str) -> str:
    """A label value the Jobs API accepts (it rejects `/` and `.`, which repository names have)."""
    return _NOT_LABEL.sub("-", value)[:LABEL_MAX]


class HfJobsBackend:
    """Jobs on Hugging Face, in `namespace` (a user or an organisation the api's token may write to)."""

    name = "hf-jobs"

    def __init__(self, api: HfApi, namespace: str, token: str, *, install_margin_s: float = INSTALL_MARGIN_S,
                 upload_margin_s: float = UPLOAD_MARGIN_S):
        self.api, self.namespace, self.token = api, namespace, token
        self.install_margin_s, self.upload_margin_s = install_margin_s, upload_margin_s
        self._prices: dict[str, float] = {}

    # --- the Backend protocol --------------------------------------------------------------------
    def submit(self, request: RunRequest) -> JobRef:
        """Upload the checkout to the runs repo, then start the launcher on the plan's flavor."""
        flavor, sha = flavor_of(request.hardware), self._checked(request)
        repo_id = runs_repo(self.namespace, request.repo, request.issue)
        deadline = self._deadline_s(request.budget_s)
        with self._hub_errors("create the runs repository and upload the scripts", flavor=flavor):
            self._private_repo(repo_id)
            self.api.upload_folder(repo_id=repo_id, folder_path=request.source, path_in_repo=f"{sha}/src",
                                   commit_message=f"Scripts of {request.repo}@{sha[:12]} for issue #{request.issue}")
        with self._hub_errors("start the job", flavor=flavor):
            info = self.api.run_uv_job(
                script=str(LAUNCHER), script_args=["--deadline-s", str(deadline)], flavor=flavor,
                timeout=self.timeout_s(request.budget_s), secrets={"HF_TOKEN": self.token},
                env={**scrub_env(request.env), "ML_INTERN_RUNS_REPO": repo_id, "ML_INTERN_SHA": sha,
                     "ML_INTERN_FOLDER": request.folder},
                labels={"ml-intern-repo": label(request.repo), "ml-intern-issue": str(request.issue),
                        "ml-intern-sha": sha},
                name=label(f"ml-intern-{request.repo.rsplit('/', 1)[-1]}-issue-{request.issue}"),
                namespace=self.namespace)
        return JobRef(backend=self.name, id=info.id, url=info.url, artifacts=f"{repo_id}/{sha}/out")

    def status(self, job: JobRef) -> JobStatus:
        """The Hub's stage, made the bot's; events and the log tail from the job's log so far."""
        info = self._inspect(job)
        lines = self._log(job) if _value(info.status.stage) != "SCHEDULING" else []
        events, launcher = _events(lines)
        stage, message = _stage(info, events, launcher)
        seconds = _seconds(info)
        return JobStatus(stage=stage, message=message, seconds=seconds, cost_usd=self._cost(info, seconds),
                         events=events, log_tail="\n".join(lines[-TAIL_LINES:]))

    def cancel(self, job: JobRef) -> None:
        """Cancel the job; one that has already ended (or ends meanwhile) is left as it is."""
        if self._inspect(job).status.stage in _ENDED:
            return
        try:
            with self._hub_errors("cancel the job", self._namespace(job), missing=f"job {job.id}"):
                self.api.cancel_job(job_id=job.id, namespace=self._namespace(job))
        except BackendError:
            if self._inspect(job).status.stage not in _ENDED:
                raise

    def fetch(self, job: JobRef, dest: Path) -> Path:
        """Download `{sha}/out/` of the runs repo into `dest`; returns the folder holding metrics.json."""
        repo_id, sha = _artifacts(job)
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        with self._hub_errors("download the job's outputs", repo_id.split("/")[0], missing=f"repository {repo_id}"):
            self.api.snapshot_download(repo_id=repo_id, allow_patterns=f"{sha}/out/**", local_dir=dest)
        out = dest / sha / "out"
        if (out / "metrics.json").is_file():
            return out
        if out.is_dir() and any(p.is_file() for p in out.rglob("*")):
            raise BackendError("the job's outputs have no metrics.json: training or evaluation did not finish "
                               f"(its run.json and log say why: {job.url or job.id}); fix it and `/retry`")
        raise BackendError("the job wrote no outputs; `/retry`")

    def timeout_s(self, budget_s: float) -> int:
        """The most a job with this budget can run (and be billed): budget, installs, final upload.

        Cost estimates take `worst_case_cost(flavor, backend.timeout_s(budget_s))`.
        """
        return math.ceil(self._deadline_s(budget_s) + self.upload_margin_s)

    # --- helpers ---------------------------------------------------------------------------------
    def _deadline_s(self, budget_s: float) -> int:
        """When the launcher stops the scripts: `uv run` installs their dependencies inside that time too."""
        return math.ceil(budget_s + self.install_margin_s)

    def _checked(self, request: RunRequest) -> str:
        """The approved commit, refused unless the checkout holds the scripts (nothing else may run)."""
        if not SHA.fullmatch(request.sha):
            raise BackendError(f"`{request.sha}` is not a full commit SHA; a job runs only an approved commit")
        source = Path(request.source).resolve()
        scripts = (source / request.folder).resolve()
        if not scripts.is_relative_to(source) or not (scripts / "train.py").is_file():
            raise BackendError(f"{request.folder}/train.py is not in the checkout of {request.sha[:12]}")
        return request.sha

    def _private_repo(self, repo_id: str) -> None:
        """Create the runs repo, private; an existing one must be private too (runs hold private code and data).

        It asks first rather than `create_repo(exist_ok=True)`: with a token that may not create repos that
        call answers an existing repo through a URL parser that refuses any Hub but huggingface.co.
        """
        try:
            private = self.api.repo_info(repo_id).private
        except RepositoryNotFoundError:
            self.api.create_repo(repo_id, private=True, exist_ok=True)
            return
        if not private:
            raise BackendError(f"the runs repository {repo_id} is public, and runs may hold private code and data: "
                               "make it private (or delete it) on the Hub, then `/retry`")

    def _inspect(self, job: JobRef) -> JobInfo:
        with self._hub_errors("see the job", self._namespace(job), missing=f"job {job.id}"):
            return self.api.inspect_job(job_id=job.id, namespace=self._namespace(job))

    def _log(self, job: JobRef) -> list[str]:
        """The log so far; [] when the Hub cannot give it now (the stage still says how the job is)."""
        try:
            return list(self.api.fetch_job_logs(job_id=job.id, namespace=self._namespace(job)))
        except (HfHubHTTPError, httpx2.HTTPError, ConnectionError, TimeoutError):
            return []

    def _cost(self, info: JobInfo, seconds: float) -> float | None:
        flavor = str(_value(info.flavor) or "cpu-basic")
        if flavor not in self._prices:
            try:
                self._prices[flavor] = hourly_price(flavor, self.api)
            except BackendError:
                return None
        return seconds * self._prices[flavor] / 3600

    def _namespace(self, job: JobRef) -> str:
        """Where the job runs: its runs repo's namespace (it outlives a change of configuration)."""
        return job.artifacts.split("/", 1)[0] if "/" in job.artifacts else self.namespace

    @contextmanager
    def _hub_errors(self, doing: str, namespace: str = "", *, flavor: str = "", missing: str = "") -> Iterator[None]:
        """Hub and network errors as BackendErrors that say what to fix (in `namespace`, default the configured)."""
        try:
            yield
        except HfHubHTTPError as exc:
            message = _explain(exc, doing, namespace or self.namespace, flavor, missing or f"namespace {self.namespace}")
            raise BackendError(self._scrub(message)) from exc
        except (httpx2.HTTPError, ConnectionError, TimeoutError) as exc:
            raise BackendError(f"could not reach the Hugging Face Hub to {doing} ({type(exc).__name__}); "
                               "try again later") from exc

    def _scrub(self, message: str) -> str:
        for secret in {self.token, str(self.api.token or "")} - {""}:
            message = message.replace(secret, "***")
        return message


_ENDED = ("COMPLETED", "CANCELED", "ERROR", "DELETED")


def _explain(exc: HfHubHTTPError, doing: str, ns: str, flavor: str, missing: str) -> str:
    """What the Hub's refusal means for the person who configured the bot, and what to change."""
    code = exc.response.status_code if exc.response is not None else 0
    said = (exc.server_message or "").strip().splitlines()[0] if exc.server_message else ""
    if code == 401:
        return (f"the Hugging Face token was refused while trying to {doing} (invalid, expired or revoked): "
                "set a valid token with write access")
    if code == 402:
        return (f"HF Jobs asks for payment to run `{flavor}` in `{ns}`: add a payment method or credits to "
                f"`{ns}` (https://huggingface.co/settings/billing), or train on `hardware=actions-cpu`")
    if code == 403:
        return (f"the Hugging Face token may not {doing} in `{ns}`: give it write access to `{ns}` (a fine-grained "
                "token needs write access to its repositories and the permission to start Jobs), or configure a "
                "namespace the token can write to")
    if code == 404:
        return (f"the Hub has no {missing} (or the token cannot see it) while trying to {doing}: check the configured "
                "namespace and the token's access")
    if code in (400, 422) and "flavor" in said.lower():
        return (f"HF Jobs refused the flavor `{flavor}` ({said}): choose another `hardware=hf-...` "
                "(for example `hf-cpu-basic` or `hf-t4-small`)")
    if code == 429 or code >= 500:
        return f"the Hugging Face Hub could not {doing} right now (HTTP {code}); try again later"
    return f"the Hugging Face Hub refused to {doing} (HTTP {code}: {said or 'no reason given'})"


def _value(x: object) -> object:
    """A JobStage/JobHardware enum member or the plain string the client may leave in its place."""
    return getattr(x, "value", x)


def _events(lines: list[str]) -> tuple[list[dict], dict | None]:
    """The scripts' JSON progress lines, oldest first, and the launcher's final word (if it said it)."""
    events: list[dict] = []
    launcher = None
    for line in lines:
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or "event" not in event:
            continue
        if event["event"] == "launcher":
            launcher = event
        else:
            events.append(event)
    return events, launcher


def _stage(info: JobInfo, events: list[dict], launcher: dict | None) -> tuple[Stage, str]:
    """The bot's stage and why; the Hub has no TIMEOUT stage (an ERROR says "Job timeout after Ns")."""
    stage, hub_message = str(_value(info.status.stage)), info.status.message or ""
    if stage in _STAGES:
        return _STAGES[stage]
    said = (launcher or {}).get("status"), str((launcher or {}).get("message") or "")
    if "job timeout" in hub_message.lower() or said[0] == "timed_out":
        return "timed_out", hub_message if "job timeout" in hub_message.lower() else said[1]
    errors = [str(e.get("message")) for e in events if e.get("event") == "error" and e.get("message")]
    return "failed", errors[-1] if errors else said[1] or hub_message or "the job failed"


def _seconds(info: JobInfo) -> float:
    """Run time (what is billed): from the start to the end, or to now while it runs."""
    if info.started_at is None:
        return 0.0
    end = info.finished_at or datetime.now(UTC)
    return max(0.0, (end - info.started_at).total_seconds())


def _artifacts(job: JobRef) -> tuple[str, str]:
    """`owner/name/{sha}/out` -> (runs repo, sha)."""
    parts = job.artifacts.split("/")
    if len(parts) != 4 or parts[3] != "out" or not SHA.fullmatch(parts[2]):
        raise BackendError(f"job {job.id} does not say where its outputs are (`{job.artifacts}`); `/retry`")
    return f"{parts[0]}/{parts[1]}", parts[2]
