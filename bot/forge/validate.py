"""Request bodies checked the way GitHub checks them, before a route reads them.

GitHub validates each body against the operation's JSON schema (the `requestBody` of its OpenAPI
description) and answers 422 with a one-line reason per problem, worded with Ruby's `inspect`:

    Invalid request.\\n\\n"title" wasn't supplied.
    Invalid request.\\n\\nFor 'properties/body', nil is not a string.
    Invalid request.\\n\\nFor 'properties/body', 42 is not a string or null.

(recorded from api.github.com; the innermost property is named, array members are 'items').
A body that is not JSON, or JSON that is not the object (or array) the route reads, is 400
"Problems parsing JSON". Schemas here are the subset of JSON Schema the spec uses for these routes:
type, nullable, enum, properties, required, items, oneOf, format date-time, maxProperties.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request

from bot.forge.errors import ApiError, unparsable

_ARTICLE = {"string": "a string", "integer": "an integer", "number": "a number", "boolean": "a boolean",
            "array": "an array", "object": "an object", "null": "null"}
_JSON_TYPES: dict[type, str] = {str: "string", list: "array", dict: "object"}
# RFC 3339 date-time, as the spec's `format: date-time` means (a zone is required).
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def ruby(value: Any) -> str:
    """A JSON value as Ruby's `inspect` prints it, which is how GitHub quotes a bad value."""
    if value is None:
        return "nil"
    if isinstance(value, bool | int | float | str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(ruby(v) for v in value) + "]"
    return "{" + ", ".join(f"{ruby(k)} => {ruby(v)}" for k, v in value.items()) + "}"


def json_type(value: Any) -> str:
    """The JSON type of a parsed value; bool is checked first because Python's bool is an int."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return _JSON_TYPES[type(value)]


def _types(schema: dict) -> list[str]:
    """The types a schema admits, in the spec's order (oneOf branches flattened)."""
    if "oneOf" in schema:
        return [t for branch in schema["oneOf"] for t in _types(branch)]
    return [schema["type"]] if "type" in schema else []


def _admits(kind: str, types: list[str]) -> bool:
    return kind in types or (kind == "integer" and "number" in types)


def _branch(schema: dict, kind: str) -> dict:
    """The oneOf branch whose type the value has (the schema itself when there is no oneOf)."""
    for branch in schema.get("oneOf", [schema]):
        if _admits(kind, _types(branch)):
            return branch
    return schema


def check(schema: dict, value: Any, where: str = "") -> list[str]:
    """Every problem with `value` under `schema`, in GitHub's words (empty when valid)."""
    kind, types = json_type(value), _types(schema)
    if kind == "null" and (schema.get("nullable") or not types):
        return []
    if types and not _admits(kind, types):
        allowed = " or ".join(_ARTICLE[t] for t in types) + (" or null" if schema.get("nullable") else "")
        return [f"For '{where}', {ruby(value)} is not {allowed}."]
    schema = _branch(schema, kind)
    if "enum" in schema and value not in schema["enum"]:
        allowed = schema["enum"] + ([None] if schema.get("nullable") else [])
        return [f"For '{where}', {ruby(value)} is not one of {ruby(allowed)}."]
    if schema.get("format") == "date-time" and not _DATE_TIME.match(value):
        return [f"{value} is not a valid date-time."]
    if kind == "array":
        return [p for item in value for p in check(schema.get("items", {}), item, "items")]
    if kind == "object":
        return _check_object(schema, value)
    return []


def _check_object(schema: dict, value: dict) -> list[str]:
    limit = schema.get("maxProperties")
    if limit is not None and len(value) > limit:
        return [f"No more than {limit} properties are allowed; {len(value)} were supplied."]
    problems = []
    props = schema.get("properties", {})
    for name in sorted(n for n in value if n in props):
        problems += check(props[name], value[name], f"properties/{name}")
    missing = [n for n in schema.get("required", []) if n not in value]
    if missing:
        names = ", ".join(f'"{n}"' for n in missing)
        problems.append(f"{names} {'wasn' if len(missing) == 1 else 'weren'}'t supplied.")
    return problems


def parse(raw: bytes) -> Any:
    """Strict JSON (no NaN/Infinity, UTF-8 only) or 400 "Problems parsing JSON"."""
    def no_constants(name: str):
        raise ValueError(name)

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError) as exc:
        raise unparsable() from exc


def validated(schema: dict, body: Any) -> Any:
    """`body` when it fits `schema`; 400 when it is not the container the route reads, else 422."""
    kinds = _types(schema) or ["object"]
    if json_type(body) not in kinds:
        raise unparsable()
    problems = check(schema, body)
    if problems:
        raise ApiError(422, "Invalid request.\n" + "".join("\n" + p for p in problems))
    return body


async def read_body(operation, request: Request) -> Any:
    """The checked JSON body of `operation` (a schemas.Op), for `Depends(Op.read)`.

    Declared after the auth and repository dependencies, it runs after them, so 401 and 404 come
    first, as on GitHub. It notes the operation's documentation_url for the route's own refusals
    (errors.py reads `request.state.docs`).
    """
    request.state.docs = operation.docs
    raw = await request.body()
    if not raw.strip():
        if operation.required:  # GitHub's wording when the body is absent altogether
            raise ApiError(422, "Invalid request.\n\nFor 'links/0/schema', nil is not an object.")
        return {}
    return validated(operation.schema, parse(raw))
