"""Which compute trains a plan, and the backend object that talks to it.

The plan's `hardware` names the compute; the backend is built from the bot's settings each time it is
needed, so any process (a fresh Actions runner days later included) can follow, cancel or fetch a job
from nothing but the JobRef kept in the issue's state.
"""

from __future__ import annotations

from typing import Any

from bot.config import Settings
from runners.base import Backend, BackendError

LOCAL, ACTIONS, HF_JOBS = "local", "actions", "hf-jobs"


def backend_of(hardware: str) -> str:
    """The backend that runs a plan's hardware: local-cpu, actions-cpu, or an `hf-` flavor."""
    if hardware == "actions-cpu":
        return ACTIONS
    if hardware.startswith("hf-"):
        return HF_JOBS
    return LOCAL


def backend_named(name: str, github_repo: Any, settings: Settings) -> Backend:
    """The backend `name`, for the repository `github_repo` (PyGithub), configured from the settings."""
    if name == LOCAL:
        from runners.local_jobs import LocalBackend

        return LocalBackend(settings.workdir.resolve() / "jobs")
    if name == ACTIONS:
        from runners.actions import ActionsBackend

        return ActionsBackend(github_repo, settings.require_token())
    if name == HF_JOBS:
        return _hf_jobs(github_repo, settings)
    raise BackendError(f"unknown training backend `{name}`")


def _hf_jobs(github_repo: Any, settings: Settings) -> Backend:
    from huggingface_hub import HfApi

    from runners.hf_jobs import HfJobsBackend

    if not settings.hf_token:
        raise BackendError("HF_TOKEN is not set, so no Hugging Face Job can start. Add a token with write access "
                           "to your namespace (repository secret HF_TOKEN), then comment `/retry`.")
    namespace = settings.hf_namespace or str(github_repo.full_name).split("/")[0]
    return HfJobsBackend(HfApi(endpoint=settings.hf_endpoint, token=settings.hf_token), namespace, settings.hf_token)
