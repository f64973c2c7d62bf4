"""GitHub's error shapes, for every refusal the forge makes under /api/v3 and for the framework's own.

A client that handles GitHub's errors (PyGithub raises GithubException with `.data`) must see the
same JSON here: `{"message", "documentation_url", "status"}`, plus `errors` for "Validation Failed"
(https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api and the spec's
`basic-error`, `validation-error` and `validation-error-simple` schemas). Starlette's plain-text
404/405/500 pages and FastAPI's `{"detail": ...}` validation errors never reach a client.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported where used, so the CLI starts without the web stack
    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

DOCS = "https://docs.github.com/rest"
log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered in GitHub's JSON error shape; `docs` is the operation's documentation_url."""

    def __init__(self, status: int, message: str, errors: list | None = None, docs: str | None = None):
        super().__init__(message)
        self.status, self.message, self.errors, self.docs = status, message, errors, docs


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def forbidden() -> ApiError:
    return ApiError(403, "Resource not accessible by integration")


def invalid(resource: str, field: str, code: str = "invalid", message: str = "Validation Failed") -> ApiError:
    return ApiError(422, message, [{"resource": resource, "field": field, "code": code}])


def unparsable() -> ApiError:
    """What GitHub answers for a body that is not JSON, or not the JSON object the route reads."""
    return ApiError(400, "Problems parsing JSON")


def error_body(status: int, message: str, errors: list | None = None, docs: str | None = None) -> dict:
    body: dict[str, Any] = {"message": message, "documentation_url": docs or DOCS, "status": str(status)}
    if errors is not None:
        body["errors"] = errors
    return body


def error_response(status: int, message: str, errors: list | None = None, docs: str | None = None,
                   headers: dict | None = None) -> JSONResponse:
    from fastapi.responses import JSONResponse

    return JSONResponse(error_body(status, message, errors, docs), status_code=status, headers=headers)


def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    """The operation's own documentation_url once its body was read (validate.payload notes it)."""
    docs = exc.docs or getattr(request.state, "docs", None)
    return error_response(exc.status, exc.message, exc.errors, docs)


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Unknown routes, and known routes with a method they lack: GitHub answers both 404 Not Found
    (troubleshooting page, "404 Not Found for an existing resource")."""
    status = 404 if exc.status_code in (404, 405) else exc.status_code
    message = "Not Found" if status == 404 else HTTPStatus(status).phrase
    return error_response(status, message)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's own parameter checks, worded like GitHub's schema refusals."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "Problems parsing JSON")
    lines = "".join(f"\nFor '{'/'.join(str(p) for p in e.get('loc', ()))}', {e.get('msg', 'invalid')}."
                    for e in errors)
    return error_response(422, "Invalid request.\n" + lines)


def _server_error(request: Request, exc: Exception) -> JSONResponse:
    """A bug in the forge still answers JSON (GitHub's 500 body); the traceback goes to the log."""
    log.exception("forge: unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "Server Error")


def install(app: FastAPI) -> None:
    """Route every error the app can produce through GitHub's shape."""
    from fastapi.exceptions import RequestValidationError
    from starlette.exceptions import HTTPException as StarletteHTTPException

    # Starlette types every handler as taking any Exception, but calls each only with its own class.
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _server_error)
