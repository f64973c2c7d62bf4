"""The request bodies the forge reads, as the subset of GitHub's OpenAPI `requestBody` schemas it needs.

Each `Op` copies, for the properties the forge reads, the types, enums and `required` of the
operation in @octokit/openapi `api.github.com.json` (tests/forge/test_forge_refusals.py checks them
against the spec). Properties the forge ignores are not listed, and unknown keys are ignored, as
GitHub ignores them. Where GitHub accepts more than its description says, the forge does too, and
`LENIENT` names each case so the spec check knows it is deliberate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import Request

from bot.forge.validate import read_body

STR = {"type": "string"}
NSTR = {"type": "string", "nullable": True}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
STR_OR_INT = {"oneOf": [STR, INT]}
REACTIONS = ["+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"]
STATE = {"type": "string", "enum": ["open", "closed"]}
STATE_REASON = {"type": "string", "enum": ["completed", "not_planned", "duplicate", "reopened"], "nullable": True}
LABEL_ITEMS = {"type": "array", "items": {"oneOf": [STR, {"type": "object", "properties": {"name": STR}}]}}
PERSON: dict[str, Any] = {"type": "object", "properties": {"name": STR, "email": STR, "date": STR},
                          "required": ["name", "email"]}
GIT_PERSON = {**PERSON, "properties": {**PERSON["properties"], "date": {"type": "string", "format": "date-time"}}}
TREE_ENTRY = {"type": "object", "properties": {
    "path": STR, "mode": {"type": "string", "enum": ["100644", "100755", "040000", "160000", "120000"]},
    "type": {"type": "string", "enum": ["blob", "tree", "commit"]}, "sha": NSTR, "content": STR}}


def obj(properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "object", "properties": properties, "required": list(required)}


@dataclass(frozen=True, eq=False)  # hashed by identity: LENIENT is keyed by Op
class Op:
    """One operation's body: the spec's (method, path), its docs page, and what it must look like."""

    method: str
    path: str
    docs: str
    schema: dict
    required: bool = True  # an absent body is refused (GitHub: the body is required)

    async def read(self, request: Request) -> Any:
        """The route's checked body: `payload: dict = Depends(schemas.CREATE_ISSUE.read)`."""
        return await read_body(self, request)


_D = "https://docs.github.com/rest/"
_R = "/repos/{owner}/{repo}"
_I = _R + "/issues/{issue_number}"
# The labels endpoints also take a bare JSON array (PyGithub's add_to_labels/set_labels send one),
# and an empty list, which GitHub documents as "remove all labels" for PUT.
_LABELS = {"oneOf": [LABEL_ITEMS, obj({"labels": LABEL_ITEMS})]}

CREATE_ISSUE = Op("post", _R + "/issues", _D + "issues/issues#create-an-issue", obj({
    "title": STR_OR_INT, "body": NSTR, "labels": LABEL_ITEMS}, ("title",)))
UPDATE_ISSUE = Op("patch", _I, _D + "issues/issues#update-an-issue", obj({
    "title": {**STR_OR_INT, "nullable": True}, "body": NSTR, "state": STATE, "state_reason": STATE_REASON,
    "labels": LABEL_ITEMS}), required=False)
CREATE_COMMENT = Op("post", _I + "/comments", _D + "issues/comments#create-an-issue-comment",
                    obj({"body": STR}, ("body",)))
UPDATE_COMMENT = Op("patch", _R + "/issues/comments/{comment_id}", _D + "issues/comments#update-an-issue-comment",
                    obj({"body": STR}, ("body",)))
ADD_LABELS = Op("post", _I + "/labels", _D + "issues/labels#add-labels-to-an-issue", _LABELS)
SET_LABELS = Op("put", _I + "/labels", _D + "issues/labels#set-labels-for-an-issue", _LABELS)
CREATE_LABEL = Op("post", _R + "/labels", _D + "issues/labels#create-a-label",
                  obj({"name": STR, "color": STR, "description": STR}, ("name",)))
REACT_ISSUE = Op("post", _I + "/reactions", _D + "reactions/reactions#create-reaction-for-an-issue",
                 obj({"content": {"type": "string", "enum": REACTIONS}}, ("content",)))
REACT_COMMENT = Op("post", _R + "/issues/comments/{comment_id}/reactions",
                   _D + "reactions/reactions#create-reaction-for-an-issue-comment",
                   obj({"content": {"type": "string", "enum": REACTIONS}}, ("content",)))
CREATE_BLOB = Op("post", _R + "/git/blobs", _D + "git/blobs#create-a-blob",
                 obj({"content": STR, "encoding": STR}, ("content",)))
CREATE_TREE = Op("post", _R + "/git/trees", _D + "git/trees#create-a-tree",
                 obj({"tree": {"type": "array", "items": TREE_ENTRY}, "base_tree": STR}, ("tree",)))
CREATE_COMMIT = Op("post", _R + "/git/commits", _D + "git/commits#create-a-commit", obj({
    "message": STR, "tree": STR, "parents": {"type": "array", "items": STR}, "author": GIT_PERSON,
    "committer": {**GIT_PERSON, "required": []}}, ("message", "tree")))
CREATE_REF = Op("post", _R + "/git/refs", _D + "git/refs#create-a-reference", obj({"ref": STR, "sha": STR},
                                                                                 ("ref", "sha")))
UPDATE_REF = Op("patch", _R + "/git/refs/{ref}", _D + "git/refs#update-a-reference",
                obj({"sha": STR, "force": BOOL}, ("sha",)))
CREATE_PULL = Op("post", _R + "/pulls", _D + "pulls/pulls#create-a-pull-request", obj({
    "title": STR, "head": STR, "base": STR, "body": NSTR, "maintainer_can_modify": BOOL, "draft": BOOL},
    ("head", "base")))
UPDATE_PULL = Op("patch", _R + "/pulls/{pull_number}", _D + "pulls/pulls#update-a-pull-request", obj({
    "title": STR, "body": NSTR, "state": STATE, "base": STR, "maintainer_can_modify": BOOL}), required=False)
DISPATCH = Op("post", _R + "/actions/workflows/{workflow_id}/dispatches",
              _D + "actions/workflows#create-a-workflow-dispatch-event",
              obj({"ref": STR, "inputs": {"type": "object", "maxProperties": 25}, "return_run_details": BOOL},
                  ("ref",)))
PUT_CONTENTS = Op("put", _R + "/contents/{path}", _D + "repos/contents#create-or-update-file-contents", obj({
    "message": STR, "content": STR, "sha": STR, "branch": STR, "committer": PERSON, "author": PERSON},
    ("message", "content")))
PUT_COLLABORATOR = Op("put", _R + "/collaborators/{username}", _D + "collaborators/collaborators#add-a-repository-"
                      "collaborator", obj({"permission": STR}), required=False)

OPERATIONS = (CREATE_ISSUE, UPDATE_ISSUE, CREATE_COMMENT, UPDATE_COMMENT, ADD_LABELS, SET_LABELS, CREATE_LABEL,
              REACT_ISSUE, REACT_COMMENT, CREATE_BLOB, CREATE_TREE, CREATE_COMMIT, CREATE_REF, UPDATE_REF,
              CREATE_PULL, UPDATE_PULL, DISPATCH, PUT_CONTENTS, PUT_COLLABORATOR)

# (operation, JSON pointer in our schema): where the forge accepts more than the spec says, and why.
LENIENT = {
    (CREATE_ISSUE, "/properties/body"): "null body accepted (PyGithub sends body=None as null)",
    (CREATE_PULL, "/properties/body"): "null body accepted, as for issues",
    (UPDATE_PULL, "/properties/body"): "null body accepted, as for issues",
    (ADD_LABELS, ""): "a bare array of names is accepted (PyGithub's add_to_labels sends one)",
    (SET_LABELS, ""): "a bare array of names is accepted (PyGithub's set_labels sends one)",
}
