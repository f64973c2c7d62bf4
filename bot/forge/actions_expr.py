"""GitHub Actions expressions (`${{ ... }}`), the subset the forge's runner evaluates.

Follows https://docs.github.com/en/actions/reference/evaluate-expressions-in-workflows-and-actions:
literals (null, booleans, numbers, 'strings' with '' as the quote), context access (`a.b`, `a['b']`,
case-insensitive like GitHub's), the operators `( ) [ ] . ! < <= > >= == != && ||` with GitHub's
loose comparison (strings compared case-insensitively, other mixed types compared as numbers), and
the functions contains, startsWith, endsWith, format, join, toJSON, fromJSON and the status checks
success(), failure(), always(), cancelled(). `&&`/`||` return an operand, as GitHub's do. Anything
else (hashFiles, object filters `.*`, unknown names) raises ExprError, which fails the step with the
reason, rather than being guessed at.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

STATUS_FUNCTIONS = ("success", "failure", "always", "cancelled")
_TOKEN = re.compile(r"""\s*(?:
    (?P<num>0x[0-9a-fA-F]+|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<str>'(?:[^']|'')*')
  | (?P<op>&&|\|\||==|!=|<=|>=|[<>!()\[\].,*])
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
)""", re.VERBOSE)
_EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class ExprError(ValueError):
    """An expression the runner cannot evaluate; the message says why, in words for the run's log."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"Unexpected symbol: '{text[pos:].strip()[:20]}' in expression: {text}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    """Recursive descent over the tokens; evaluates as it parses (expressions are tiny)."""

    def __init__(self, text: str, names: dict[str, Any], status: Callable[[str], bool]):
        self.text, self.toks, self.i, self.names, self.status = text, _tokens(text), 0, names, status

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok[0] == "end" or (value is not None and tok[1] != value):
            raise ExprError(f"Unexpected end of expression (expected '{value}'): {self.text}" if tok[0] == "end"
                            else f"Unexpected symbol: '{tok[1]}' in expression: {self.text}")
        self.i += 1
        return tok

    def parse(self) -> Any:
        if not self.toks:
            return None
        value = self.or_()
        if self.peek()[0] != "end":
            raise ExprError(f"Unexpected symbol: '{self.peek()[1]}' in expression: {self.text}")
        return value

    def or_(self) -> Any:
        left = self.and_()
        while self.peek()[1] == "||":
            self.take()
            right = self.and_()
            left = left if truthy(left) else right
        return left

    def and_(self) -> Any:
        left = self.equality()
        while self.peek()[1] == "&&":
            self.take()
            right = self.equality()
            left = right if truthy(left) else left
        return left

    def equality(self) -> Any:
        left = self.comparison()
        while self.peek()[1] in ("==", "!="):
            op = self.take()[1]
            right = self.comparison()
            left = equal(left, right) == (op == "==")
        return left

    def comparison(self) -> Any:
        left = self.unary()
        while self.peek()[1] in ("<", "<=", ">", ">="):
            op = self.take()[1]
            right = self.unary()
            left = _compare(left, right, op)
        return left

    def unary(self) -> Any:
        if self.peek()[1] == "!":
            self.take()
            return not truthy(self.unary())
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, value = self.take()
        if kind == "num":
            return float(int(value, 16)) if value.lower().startswith("0x") else _number(value)
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if value == "(":
            inner = self.or_()
            self.take(")")
            return inner
        if kind != "name":
            raise ExprError(f"Unexpected symbol: '{value}' in expression: {self.text}")
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        if self.peek()[1] == "(":
            return self.call(value)
        for name, context in self.names.items():
            if name.lower() == value.lower():
                return context
        raise ExprError(f"Unrecognized named-value: '{value}'. Located in expression: {self.text}")

    def postfix(self, value: Any) -> Any:
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                kind, prop = self.take()
                if kind != "name":
                    raise ExprError(f"Unsupported property access '.{prop}' in expression: {self.text}")
            else:
                prop = self.or_()
                self.take("]")
            value = _index(value, prop)
        return value

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek()[1] != ")":
            args.append(self.or_())
            if self.peek()[1] != ")":
                self.take(",")
        self.take(")")
        fn = name.lower()
        if fn in STATUS_FUNCTIONS:
            return self.status(fn)
        funcs: dict[str, Callable[..., Any]] = {
            "contains": _contains, "startswith": lambda a, b: to_str(a).lower().startswith(to_str(b).lower()),
            "endswith": lambda a, b: to_str(a).lower().endswith(to_str(b).lower()), "format": _format,
            "join": lambda a, sep=",": to_str(sep).join(to_str(x) for x in a) if isinstance(a, list) else to_str(a),
            "tojson": lambda a: json.dumps(a, indent=2), "fromjson": _from_json,
        }
        if fn not in funcs:
            raise ExprError(f"Unrecognized function: '{name}'. Located in expression: {self.text}")
        try:
            return funcs[fn](*args)
        except TypeError as exc:
            raise ExprError(f"Wrong arguments for {name}(): {self.text}") from exc


def _number(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def _from_json(text: Any) -> Any:
    try:
        return json.loads(to_str(text))
    except ValueError as exc:
        raise ExprError(f"fromJSON: not JSON: {to_str(text)[:60]}") from exc


def _index(value: Any, prop: Any) -> Any:
    if isinstance(value, dict):
        key = to_str(prop).lower()
        return next((v for k, v in value.items() if k.lower() == key), None)
    if isinstance(value, list) and isinstance(prop, int | float) and 0 <= int(prop) < len(value):
        return value[int(prop)]
    return None


def _contains(search: Any, item: Any) -> bool:
    if isinstance(search, list):
        return any(equal(x, item) for x in search)
    return to_str(item).lower() in to_str(search).lower()


def _format(template: Any, *args: Any) -> str:
    def sub(m: re.Match) -> str:
        if m.group(0) in ("{{", "}}"):
            return m.group(0)[0]
        index = int(m.group(1))
        if index >= len(args):
            raise ExprError(f"format(): no argument {index} for '{template}'")
        return to_str(args[index])
    return re.sub(r"\{\{|\}\}|\{(\d+)\}", sub, to_str(template))


def truthy(value: Any) -> bool:
    """GitHub's truthiness: false, 0, -0, '', null and NaN are false."""
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def to_number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def equal(a: Any, b: Any) -> bool:
    """`==`: same-type values compared directly (strings ignoring case), mixed ones as numbers."""
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    return to_number(a) == to_number(b)


def _compare(a: Any, b: Any, op: str) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a.lower()
        y: Any = b.lower()
    else:
        x, y = to_number(a), to_number(b)
        if math.isnan(x) or math.isnan(y):
            return False
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


def to_str(value: Any) -> str:
    """How GitHub writes a value into a string: null as '', booleans as true/false, objects as JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return str(value)


def evaluate(text: str, names: dict[str, Any], status: Callable[[str], bool] | None = None) -> Any:
    """One bare expression (without `${{ }}`); `status(fn)` answers success()/failure()/always()/cancelled()."""
    def no_status(fn: str) -> bool:
        raise ExprError(f"{fn}() is only available in 'if' conditions")
    return _Parser(text, names, status or no_status).parse()


def interpolate(value: Any, names: dict[str, Any]) -> Any:
    """A workflow value with `${{ }}` parts: a value that is exactly one expression keeps its type,
    anything else becomes a string with each expression written in (to_str)."""
    if not isinstance(value, str) or "${{" not in value:
        return value
    whole = _EMBEDDED.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), names)
    return _EMBEDDED.sub(lambda m: to_str(evaluate(m.group(1), names)), value)


def has_expression(text: str) -> bool:
    return "${{" in text


def condition(text: Any, names: dict[str, Any], status: Callable[[str], bool]) -> bool:
    """An `if:` (with or without `${{ }}`); without a status function it means `success() && (...)`."""
    if isinstance(text, bool):
        return text and status("success")
    source = str(text).strip()
    whole = _EMBEDDED.fullmatch(source)
    if whole:
        source = whole.group(1).strip()
    elif "${{" in source:
        source = _EMBEDDED.sub(lambda m: to_str(evaluate(m.group(1), names)), source)
        source = "'" + source.replace("'", "''") + "'"
    if not re.search(r"\b(" + "|".join(STATUS_FUNCTIONS) + r")\s*\(", source, re.IGNORECASE):
        source = f"success() && ({source})"
    return truthy(_Parser(source, names, status).parse())
