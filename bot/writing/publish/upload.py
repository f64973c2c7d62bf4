"""Putting the two repos somewhere: a local folder laid out like the Hub, or the Hub via huggingface_hub.

Both targets take the same file lists (`build_model_repo`, `build_space`), so a local publish (the
playground and the tests) lays out byte for byte what `publish_hub` commits, except that the local
Space also carries `model/`. Both are idempotent because `/approve-publish` may be delivered twice:
locally only files whose bytes differ are written; on the Hub each repo gets exactly one
`create_commit`, and huggingface_hub's preupload check skips unchanged files, so publishing the same
run again makes no commit at all.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.planner.schema import Plan
from bot.writing.publish.card import build_model_repo
from bot.writing.publish.run import Files, PublishError
from bot.writing.publish.space import build_space

if TYPE_CHECKING:  # huggingface_hub is imported where used, as for the rest of the Hub client
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}$")
MODEL_MESSAGE = "Publish model trained by ml-intern-bot"
SPACE_MESSAGE = "Publish demo Space by ml-intern-bot"


@dataclass(frozen=True)
class PublishResult:
    model_url: str  # Hub URL, or the local folder for a local publish
    space_url: str
    already_published: bool = False  # True when nothing changed: the same run was published before


def check_ids(*repo_ids: str) -> None:
    """Repo ids are `owner/name` (Hub rules); anything else could also escape the local target folder."""
    for repo_id in repo_ids:
        if not REPO_ID.match(repo_id) or ".." in repo_id:
            raise PublishError(f"{repo_id!r} is not a Hub repo id like owner/name")


def _content(value: Path | bytes) -> bytes:
    return value.read_bytes() if isinstance(value, Path) else value


def _write_tree(root: Path, files: Files) -> bool:
    """Write files under root, touching only those whose bytes differ; True when anything changed.

    Each file is written beside its target and renamed over it, so a crash never leaves half a file.
    """
    changed = False
    for name, value in files.items():
        dest = root / name
        data = _content(value)
        if dest.is_file() and dest.read_bytes() == data:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, dest)
        changed = True
    return changed


def publish_local(
    target: Path, out_dir: Path, plan: Plan, metrics: dict, repo_id: str, space_id: str, inspection: dict | None = None
) -> PublishResult:
    """Lay out `target/models/<repo_id>` and `target/spaces/<space_id>` as the Hub would; idempotent."""
    check_ids(repo_id, space_id)
    target = Path(target)
    model_root, space_root = target / "models" / repo_id, target / "spaces" / space_id
    changed = _write_tree(model_root, build_model_repo(out_dir, plan, metrics, repo_id, inspection))
    changed |= _write_tree(space_root, build_space(out_dir, plan, metrics, space_id, repo_id, include_model=True))
    return PublishResult(str(model_root), str(space_root), already_published=not changed)


def _commit(api, repo_id: str, files: Files, repo_type: str, message: str) -> tuple[str, bool]:
    """One create_commit for all files; returns (url, unchanged)."""
    from huggingface_hub import CommitOperationAdd

    kwargs = {"space_sdk": "gradio"} if repo_type == "space" else {}
    url = str(api.create_repo(repo_id, repo_type=repo_type, exist_ok=True, **kwargs))
    before = api.repo_info(repo_id, repo_type=repo_type).sha
    ops = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=value) for name, value in files.items()]
    info = api.create_commit(repo_id, operations=ops, commit_message=message, repo_type=repo_type)
    return url, info.oid == before


def _hub_error(exc: OfflineModeIsEnabled | HfHubHTTPError) -> PublishError:
    """What a maintainer can do about a failed upload, in words (the token never appears in them)."""
    from huggingface_hub.errors import OfflineModeIsEnabled

    if isinstance(exc, OfflineModeIsEnabled):
        return PublishError(
            "HF_HUB_OFFLINE is set, so the Hub cannot be reached: unset it, or set "
            "ML_INTERN_PUBLISH_TARGET to publish into a local folder"
        )
    status = exc.response.status_code if exc.response is not None else "?"
    return PublishError(
        f"the Hub refused the upload (HTTP {status}): {exc.server_message or exc}. "
        "Check that HF_TOKEN has write access to the namespace."
    )


def publish_hub(
    token: str,
    out_dir: Path,
    plan: Plan,
    metrics: dict,
    repo_id: str,
    space_id: str,
    inspection: dict | None = None,
    *,
    endpoint: str | None = None,
) -> PublishResult:
    """Create (if needed) and fill the model repo and the Space, one commit each; idempotent."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    check_ids(repo_id, space_id)
    if not token:
        raise PublishError("HF_TOKEN is not set: add a Hugging Face token with write access as a secret")
    api = HfApi(token=token, endpoint=endpoint)
    model_files = build_model_repo(out_dir, plan, metrics, repo_id, inspection)
    space_files = build_space(out_dir, plan, metrics, space_id, repo_id)
    try:
        model_url, same_model = _commit(api, repo_id, model_files, "model", MODEL_MESSAGE)
        space_url, same_space = _commit(api, space_id, space_files, "space", SPACE_MESSAGE)
    except (OfflineModeIsEnabled, HfHubHTTPError) as exc:
        raise _hub_error(exc) from exc
    return PublishResult(model_url, space_url, already_published=same_model and same_space)
