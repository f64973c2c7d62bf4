"""Errors the way huggingface_hub reads them, and who is asking.

The client (utils/_http.py, `hf_raise_for_status`) picks its exception from the `X-Error-Code` header
(RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo) and shows `X-Error-Message` and the JSON
body's `error`; a 401 whose message is "Invalid credentials in Authorization header" is a bad token.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.hub.store import HubStore, User

BAD_TOKEN = "Invalid credentials in Authorization header"


class HubError(Exception):
    """An HTTP error answer: status, message, optional X-Error-Code and extra headers/body fields."""

    def __init__(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None,
                 **body):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code
        self.headers, self.body = dict(headers or {}), body


def repo_not_found(repo_id: str, status: int = 404) -> HubError:
    return HubError(status, f"Repository not found: {repo_id}", "RepoNotFound")


def revision_not_found(revision: str) -> HubError:
    return HubError(404, f"Invalid rev id: {revision}", "RevisionNotFound")


def entry_not_found(path: str, commit: str | None = None) -> HubError:
    """404 EntryNotFound; X-Repo-Commit lets the client remember the file is absent at that commit."""
    return HubError(404, f"Entry not found: {path}", "EntryNotFound",
                    {"X-Repo-Commit": commit} if commit else None)


def forbidden(message: str) -> HubError:
    return HubError(403, message)


def bad_request(message: str) -> HubError:
    return HubError(400, message)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HubError, _answer)  # type: ignore[arg-type]


def _answer(request: Request, exc: HubError) -> JSONResponse:
    headers = {"X-Error-Message": exc.message.encode("ascii", "replace").decode(), **exc.headers}
    if exc.code:
        headers["X-Error-Code"] = exc.code
    return JSONResponse({"error": exc.message, **exc.body}, status_code=exc.status, headers=headers)


# --- who is asking ----------------------------------------------------------------------------------
def store_of(request: Request) -> HubStore:
    return request.app.state.store


def optional_user(request: Request) -> User | None:
    """The caller, or None without an Authorization header; a token the Hub does not know is a 401."""
    header = request.headers.get("authorization", "").strip()
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    user = store_of(request).user(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise HubError(401, BAD_TOKEN)
    return user


def required_user(request: Request) -> User:
    user = optional_user(request)
    if user is None:
        raise HubError(401, "You must be authenticated to access this resource. Pass a token (HF_TOKEN).")
    return user


def base_url(request: Request) -> str:
    """The endpoint as the client called it (signed URLs and commit URLs point back to it)."""
    return str(request.base_url).rstrip("/")
