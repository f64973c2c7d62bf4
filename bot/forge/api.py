"""The forge's REST API under /api/v3: GitHub's routes, status codes, errors and JSON shapes.

Permission rules follow https://docs.github.com/en/organizations/managing-user-access-to-your-
organizations-repositories/repository-roles-for-an-organization; insufficient rights answer 403
"Resource not accessible by integration" everywhere, missing things 404 "Not Found".
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from bot.forge import errors, faults, schemas
from bot.forge.errors import ApiError, forbidden, invalid, not_found
from bot.forge.objects import Views
from bot.forge.rows import Row, present
from bot.forge.store import Forge

ROLE_TO_PERMISSION = {"admin": "admin", "maintain": "write", "write": "write", "triage": "read",
                      "read": "read"}
__all__ = ["ApiError", "Ctx", "forbidden", "invalid", "not_found", "page_of", "paginate", "repo_ctx"]


# --- dependencies -------------------------------------------------------------------------------
def forge_of(request: Request) -> Forge:
    return request.app.state.forge


def current_user(request: Request) -> dict:
    """Authenticate `Authorization: token X` / `Bearer X` (GitHub accepts both). No header at all is
    "Requires authentication", a wrong token "Bad credentials", as on GitHub."""
    header = request.headers.get("authorization", "")
    if not header.strip():
        raise ApiError(401, "Requires authentication")
    scheme, _, token = header.partition(" ")
    user = None
    if scheme.lower() in ("token", "bearer"):
        user = forge_of(request).user_by_token(token.strip())
    if user is None:
        raise ApiError(401, "Bad credentials")
    return user


class Ctx:
    """Per-request context: forge, views, the caller and (for /repos routes) the repository."""

    def __init__(self, request: Request, user: Row, repo: Row | None = None):
        self.request, self.forge, self.user, self._repo = request, forge_of(request), user, repo
        self.views = Views(self.forge)
        self.login = user["login"]

    @property
    def repo(self) -> Row:
        """The repository of a /repos/{owner}/{repo} route (see repo_ctx); other routes have none."""
        return present(self._repo)

    def need(self, role: str) -> None:
        """Raise 403 unless the caller has at least `role` on the repository."""
        if not self.forge.can(self.repo, self.login, role):
            raise forbidden()

    def has(self, role: str) -> bool:
        return self.forge.can(self.repo, self.login, role)

    def emit(self, event: str, payload: dict) -> None:
        self.forge.emit(self.repo, event, payload)

    def issue(self, number: int) -> dict:
        issue = self.forge.issue(self.repo, number)
        if issue is None:
            raise not_found()
        return issue


def ctx(request: Request, user: dict = Depends(current_user)) -> Ctx:
    return Ctx(request, user)


def repo_ctx(owner: str, repo: str, request: Request, user: dict = Depends(current_user)) -> Ctx:
    """Resolve /repos/{owner}/{repo}; private repos are invisible (404) without a role."""
    row = forge_of(request).repo(f"{owner}/{repo}")
    if row is None or forge_of(request).role(row, user["login"]) is None:
        raise not_found()
    return Ctx(request, user, row)


def _int(text: str | None, default: int) -> int:
    """A query number; GitHub ignores one it cannot read rather than failing the request."""
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def paginate(request: Request, items: list, status: int = 200) -> JSONResponse:
    """Slice a list by per_page/page and add GitHub's Link header."""
    chunk, headers = page_of(request, items)
    return JSONResponse(chunk, status_code=status, headers=headers)


def page_of(request: Request, items: list) -> tuple[list, dict[str, str]]:
    """The per_page/page slice of a list and its Link header (empty when there is one page)."""
    qp = request.query_params
    per_page = max(1, min(100, _int(qp.get("per_page"), 30)))
    page = max(1, _int(qp.get("page"), 1))
    last = max(1, -(-len(items) // per_page))
    chunk = items[(page - 1) * per_page: page * per_page]
    base = str(request.url).split("?")[0]
    links = []

    def link(p: int, rel: str) -> str:
        params: dict[str, str | int] = {k: v for k, v in qp.items() if k != "page"}
        params["page"] = p
        return f'<{base}?{urlencode(params)}>; rel="{rel}"'

    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    if page > 1:
        links += [link(1, "first"), link(page - 1, "prev")]
    return chunk, ({"Link": ", ".join(links)} if links else {})


router = APIRouter()


# --- meta & users -----------------------------------------------------------------------------
@router.get("/rate_limit")
def rate_limit(c: Ctx = Depends(ctx)):
    reset = int(time.time()) + 3600
    core = {"limit": 5000, "remaining": 4999, "reset": reset, "used": 1, "resource": "core"}
    search = {"limit": 30, "remaining": 30, "reset": reset, "used": 0, "resource": "search"}
    return {"resources": {"core": core, "search": search, "graphql": dict(core, resource="graphql")},
            "rate": core}


def _full_user(c: Ctx, login: str, private: bool) -> dict:
    row = present(c.forge.user(login))  # the caller, or a user the route found
    out = c.views.user(login)
    out.update(user_view_type="private" if private else "public", name=row["login"], company=None,
               blog="", location=None, email=None, hireable=None, bio=None, twitter_username=None,
               public_repos=0, public_gists=0, followers=0, following=0,
               created_at=row["created_at"], updated_at=row["created_at"])
    if private:
        out.update(private_gists=0, total_private_repos=0, owned_private_repos=0, disk_usage=0,
                   collaborators=0, two_factor_authentication=False)
    return out


@router.get("/user")
def get_authenticated_user(c: Ctx = Depends(ctx)):
    return _full_user(c, c.login, private=True)


@router.get("/users/{login}")
def get_user(login: str, c: Ctx = Depends(ctx)):
    if c.forge.user(login) is None:
        raise not_found()
    return _full_user(c, login, private=False)


# --- repository & collaborators -------------------------------------------------------------
@router.get("/repos/{owner}/{repo}")
def get_repo(c: Ctx = Depends(repo_ctx)):
    out = c.views.repo(c.repo)
    out["permissions"] = {r: c.has(r) for r in ("admin", "maintain", "triage")}
    out["permissions"].update(push=c.has("write"), pull=c.has("read"))
    return out


@router.get("/repos/{owner}/{repo}/collaborators/{username}/permission")
def get_permission(username: str, c: Ctx = Depends(repo_ctx)):
    user = c.forge.user(username)
    if user is None:
        raise not_found()
    role = c.forge.role(c.repo, user["login"])
    permission = ROLE_TO_PERMISSION.get(role, "none") if role else "none"
    who = c.views.user(user["login"])
    who["role_name"] = role or "none"
    who["permissions"] = {"admin": role == "admin", "maintain": role in ("admin", "maintain"),
                          "push": permission in ("admin", "write"),
                          "triage": role not in (None, "read"), "pull": role is not None}
    return {"permission": permission, "role_name": role or "none", "user": who}


@router.put("/repos/{owner}/{repo}/collaborators/{username}", status_code=204)
def put_collaborator(username: str, c: Ctx = Depends(repo_ctx), body: dict = Depends(schemas.PUT_COLLABORATOR.read)):
    c.need("admin")
    perm = body.get("permission", "write")
    perm = {"pull": "read", "push": "write"}.get(perm, perm)
    if perm not in ROLE_TO_PERMISSION:
        raise invalid("Repository", "permission")
    if c.forge.user(username) is None:
        raise not_found()
    c.forge.set_permission(c.repo["full_name"], username, perm)
    return Response(status_code=204)


@router.get("/repos/{owner}/{repo}/collaborators/{username}")
def check_collaborator(username: str, c: Ctx = Depends(repo_ctx)):
    found = c.forge.user(username) and c.forge.explicit_role(c.repo, username)
    return Response(status_code=204 if found else 404)


def create_app(forge: Forge) -> FastAPI:
    """The forge as an ASGI app: REST under /api/v3, the read-only HTML view at /."""
    from bot.forge import api_actions, api_git, api_issues, api_pulls, web

    app = FastAPI(title="ml-intern forge", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.forge = forge
    errors.install(app)
    app.add_middleware(faults.FaultMiddleware, forge=forge, prefix="/api/v3")

    for r in (router, api_issues.router, api_git.router, api_pulls.router, api_actions.router):
        app.include_router(r, prefix="/api/v3")
    app.include_router(api_actions.downloads)
    app.include_router(web.router)
    return app
