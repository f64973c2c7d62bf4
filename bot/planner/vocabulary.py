"""The plan's vocabulary: every key a maintainer may set, in one typed table.

One table serves `/plan key=value` (through `normalize_overrides`), `.github/ml-intern.yml` (through
`read_config`, called by make_plan) and the README (through `markdown_table`), so the three accept the
same names and aliases and say the same thing. Each key names a Plan field; its type, bounds and
choices are read from that field's own pydantic constraints, and every value is checked by the
Plan's own validators, so the table cannot drift from the Plan.

Pure: no I/O here. `normalize_overrides` runs inside the sans-I/O core (bot/core/machine.py).
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pydantic

from bot.planner.schema import Plan
from bot.research import sources

CONFIG_FILE = "`.github/ml-intern.yml`"
TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")
NONE_WORDS = ("none", "null")
SHOWN_CHARS = 40
SHOWN_COLUMNS = 30
_INT = re.compile(r"^[+-]?\d{1,19}$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_UNSHOWN = re.compile(r"[`\x00-\x1f\x7f|]+")
_BOUNDS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))  # annotated_types' names, as Field(ge=…) stores them
Kind = Literal["int", "float", "bool", "choice", "text"]
_KINDS: dict[type, Kind] = {bool: "bool", int: "int", float: "float", str: "text"}  # "choice": any Literal


@dataclass(frozen=True)
class PlanKey:
    """One key a maintainer may set: the name users write, its aliases and the Plan field it sets.

    The Plan field's name is always accepted as well. `text_format` says what a valid text value looks
    like (the Plan's validators decide); `chosen` says how the planner picks the value when nobody sets it.
    """

    name: str
    field: str
    meaning: str
    aliases: tuple[str, ...] = ()
    text_format: str | None = None
    chosen: str | None = None
    config_only: bool = False  # settable in the config file only: reviewed like code, never by a comment

    @property
    def spellings(self) -> tuple[str, ...]:
        """Every name this key answers to: its name, its aliases and its Plan field, without repeats."""
        return tuple(dict.fromkeys((self.name, *self.aliases, self.field)))

    @property
    def _info(self):
        return Plan.model_fields[self.field]

    @property
    def optional(self) -> bool:
        """Whether `none` is a value (the Plan field admits None)."""
        return type(None) in typing.get_args(self._info.annotation)

    @property
    def _base(self) -> Any:
        annotation = self._info.annotation
        if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
            annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        return annotation

    @property
    def kind(self) -> Kind:
        base = self._base
        if typing.get_origin(base) is Literal:
            return "choice"
        return _KINDS[base]

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(typing.get_args(self._base)) if self.kind == "choice" else ()

    @property
    def bounds(self) -> tuple[tuple[str, int | float], ...]:
        """The field's bounds as (symbol, limit), lower bounds first: e.g. (('≥', 1), ('≤', 20))."""
        metadata = self._info.metadata
        return tuple((symbol, getattr(m, name)) for name, symbol in _BOUNDS for m in metadata
                     if getattr(m, name, None) is not None)

    @property
    def allowed(self) -> str:
        """The allowed values in words, from the Plan field's type, bounds and choices."""
        if self.kind == "bool":
            text = "`true` or `false` (also yes/no, on/off, 1/0)"
        elif self.kind == "choice":
            text = "one of " + ", ".join(f"`{c}`" for c in self.choices)
        elif self.kind == "text":
            text = self.text_format or "text"
        else:
            number = "a whole number" if self.kind == "int" else "a number"
            text = f"{number} " + " and ".join(f"{symbol} {_number(limit)}" for symbol, limit in self.bounds)
        return text + (", or `none`" if self.optional else "")

    @property
    def default(self) -> str:
        """The default in words: how the planner chooses it, or the Plan field's default."""
        if self.chosen:
            return self.chosen
        value = self._info.default
        if value is None:
            return "`none`"
        if isinstance(value, bool):
            return f"`{str(value).lower()}`"
        return f"`{_number(value) if isinstance(value, (int, float)) else value}`"

    def coerce(self, value: Any, written: str | None = None, sep: str = "=") -> Any:
        """`value` as the Plan field's type, checked by the Plan's own validators; ValueError otherwise.

        Text from `/plan` and typed values from YAML are both accepted (`"3"` and `3` alike); the message
        names the key as written, the value, and what is allowed.
        """
        said = f"`{written or self.name}{sep}{shown(value)}`"
        parsed = self._parse(value, said)
        if parsed is None:
            return None
        if self.field == "dataset" and sources.classify(parsed) == "repo":
            try:
                sources.repo_path(parsed)
            except sources.DatasetError as exc:
                raise ValueError(f"{said}: {exc}") from None
        try:
            probe = Plan.model_construct()
            Plan.__pydantic_validator__.validate_assignment(probe, self.field, parsed, strict=True)
        except pydantic.ValidationError as exc:
            error = exc.errors()[0]
            problem = {"literal_error": "is not allowed", "value_error": "is not valid"}.get(
                error["type"], "is out of range" if error["type"] in _RANGE_ERRORS else "is not valid")
            raise ValueError(self._refusal(said, problem)) from None
        return getattr(probe, self.field)

    def _parse(self, value: Any, said: str) -> Any:
        """The value in the field's Python type, or ValueError saying why it is not one."""
        if isinstance(value, str):
            value = value.strip()
            if self.optional and value.lower() in NONE_WORDS:
                return None
            if not value:
                raise ValueError(self._refusal(said, "has no value"))
        elif value is None:
            if self.optional:
                return None
            raise ValueError(self._refusal(said, "has no value"))
        parse, problem = _PARSERS[self.kind]
        parsed = parse(value)
        if parsed is None:
            raise ValueError(self._refusal(said, problem))
        return parsed

    def _refusal(self, said: str, problem: str) -> str:
        return f"{said} {problem}; `{self.name}` ({self.meaning}) must be {self.allowed}"


_RANGE_ERRORS = {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    word = str(value).lower() if isinstance(value, (str, int)) else None
    return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None


def _as_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return int(value) if isinstance(value, str) and _INT.match(value) else None


def _as_float(value: Any) -> float | None:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (numeric or (isinstance(value, str) and _FLOAT.match(value))):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _as_text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


_PARSERS = {"bool": (_as_bool, "is not true or false"), "int": (_as_int, "is not a whole number"),
            "float": (_as_float, "is not a number"), "choice": (_as_text, "is not text"),
            "text": (_as_text, "is not text")}


def _number(value: float) -> str:
    """1 -> '1', 10000000 -> '10,000,000', 0.01 -> '0.01'."""
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


def shown(value: Any) -> str:
    """A value as it may appear inside backticks in a comment: one line, no backticks, at most 40 characters."""
    text = " ".join(_UNSHOWN.sub(" ", str(value)).split())
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


HUB_TEXT = "a Hub {} ID like `owner/name`"
COLUMN_TEXT = "a column name (letters, digits, space, `.` `_` `-`)"
REF_TEXT = "a name of letters, digits and `.` `_` `/` `-`"

KEYS: tuple[PlanKey, ...] = (
    PlanKey("dataset", "dataset", "the data to train on",
            text_format=(HUB_TEXT.format("dataset") + ", a CSV/Parquet/JSONL file in the repository, or (from "
                         "`/plan` and " + CONFIG_FILE + ") a path inside `ML_INTERN_DATA_DIR`"),
            chosen="named in the issue, else the closest catalogued dataset"),
    PlanKey("dataset_config", "dataset_config", "the Hub dataset's configuration (subset)", text_format=REF_TEXT),
    PlanKey("dataset_revision", "dataset_revision", "the Hub dataset's branch, tag or commit", text_format=REF_TEXT),
    PlanKey("label", "label_column", "the column holding the class", text_format=COLUMN_TEXT,
            chosen="detected from the goal's wording and the data"),
    PlanKey("text", "text_column", "the column holding the text", text_format=COLUMN_TEXT,
            chosen="the string column with the longest texts"),
    PlanKey("model", "model", "the model to fine-tune", text_format=HUB_TEXT.format("model")),
    PlanKey("epochs", "epochs", "passes over the training data",
            chosen="`5`, fewer (not below 2) when the time estimate would not fit the budget"),
    PlanKey("lr", "learning_rate", "learning rate"),
    PlanKey("batch_size", "batch_size", "training batch size"),
    PlanKey("max_length", "max_length", "tokens kept per text; longer texts are truncated",
            chosen="the data's 99th-percentile length in tokens, rounded up to a multiple of 8 (16 to 256)"),
    PlanKey("seed", "seed", "random seed for the split and the training"),
    PlanKey("rows", "max_train_rows", "most training rows the fine-tune uses, a stratified sample; the TF-IDF "
            "model uses every row",
            chosen="every row, or fewer when even 2 epochs would not fit the budget"),
    PlanKey("budget", "time_budget_minutes", "training time budget in minutes; training stops cleanly and "
            "keeps the best checkpoint, then evaluation runs", aliases=("budget_minutes",)),
    PlanKey("hardware", "hardware", "where training runs: this machine, GitHub Actions, or a Hugging Face Jobs "
            "flavor, billed by the minute"),
    PlanKey("max_cost_usd", "max_cost_usd", "most a training job may cost, in US dollars, at its flavor's price "
            "for the whole time budget; a plan over it stops before any job starts (`0`: free compute only). "
            "Set it in " + CONFIG_FILE + " only", config_only=True),
    PlanKey("class_weights", "class_weights", "weight the loss by inverse class frequency",
            chosen="`true` when the largest class has over 3× the rows of the smallest"),
    PlanKey("ensemble", "ensemble_with_baseline", "let the fine-tune averaged with the TF-IDF baseline compete "
            "for shipping; it ships only when significantly better on validation (`false`: not a candidate)"),
    PlanKey("early_stopping_patience", "early_stopping_patience",
            "epochs without a better validation macro-F1 before training stops (`0`: never early)",
            chosen="`2`, or `0` when the epochs leave no room to stop early"),
    PlanKey("threads", "threads", "CPU threads for training (`0`: all cores)"),
)
BY_SPELLING: dict[str, PlanKey] = {spelling: key for key in KEYS for spelling in key.spellings}
BY_FIELD: dict[str, PlanKey] = {key.field: key for key in KEYS}
FIELDS = frozenset(BY_FIELD)
assert len(BY_SPELLING) == sum(len(key.spellings) for key in KEYS), "two keys share a spelling"


def lookup(written: str) -> PlanKey | None:
    """The key a name as written (`lr`, `learning_rate`) stands for, or None."""
    return BY_SPELLING.get(written.strip().lower()) if isinstance(written, str) else None


def key_names() -> str:
    return ", ".join(key.name for key in KEYS)


def _normalize(raw: Mapping[str, Any], sep: str, unknown) -> dict[str, Any]:
    out: dict[str, Any] = {}
    written_as: dict[str, str] = {}
    for written, value in raw.items():
        key = lookup(written)
        if key is None:
            raise ValueError(unknown(written))
        if key.field in out:
            raise ValueError(f"`{key.name}` is set twice (as `{shown(written_as[key.field])}` and "
                             f"`{shown(written)}`); set it once")
        written_as[key.field] = str(written)
        out[key.field] = key.coerce(value, str(written).strip(), sep)
    return out


def check_columns(values: Mapping[str, Any], columns: Sequence[str] | None = None) -> None:
    """ValueError when the label and text columns are the same column, or (given `columns`) one is missing."""
    label, text = values.get("label_column"), values.get("text_column")
    if label is not None and label == text:
        raise ValueError(f"`label` and `text` are both `{shown(label)}`; the class and the text must be "
                         "different columns")
    if columns is None:
        return
    names = [str(c) for c in columns]
    for field in ("label_column", "text_column"):
        value = values.get(field)
        if value is not None and value not in names:
            listed = ", ".join(shown(c) for c in names[:SHOWN_COLUMNS])
            more = f" (and {len(names) - SHOWN_COLUMNS} more)" if len(names) > SHOWN_COLUMNS else ""
            name = BY_FIELD[field].name
            raise ValueError(f"`{name}={shown(value)}`: column `{shown(value)}` not found in the dataset; "
                             f"its columns: {listed}{more}")


def normalize_overrides(raw: Mapping[str, Any], columns: Sequence[str] | None = None) -> dict[str, Any]:
    """`/plan` options as typed Plan fields (JSON-serialisable), checked at once; ValueError naming the key,
    the value and what is allowed.

    Keys may be written by name, alias or Plan field, so the result can be normalised again unchanged.
    Given the dataset's `columns`, `label` and `text` must name one of them, unless the same `/plan` also
    changes `dataset` (those columns are the old dataset's). No I/O: this runs in the pure core.
    """
    out = _normalize(raw, "=", lambda written: f"unknown plan key '{shown(written)}'; the keys are: {key_names()}")
    for field in out:
        if BY_FIELD[field].config_only:
            raise ValueError(f"`{BY_FIELD[field].name}` can only be set in {CONFIG_FILE}: spending is the "
                             "repository's decision, reviewed like code")
    check_columns(out, None if "dataset" in out else columns)
    return out


def read_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """`.github/ml-intern.yml` as typed Plan fields, through the same table as `/plan`; ValueError for an
    unknown key or a bad value, in the same words as `/plan`."""
    out = _normalize(config, ": ", lambda written: (f"{CONFIG_FILE} has an unknown key '{shown(written)}'; "
                                                    f"the keys are: {key_names()}"))
    check_columns(out)
    return out


def markdown_table(keys: Iterable[PlanKey] = KEYS) -> str:
    """The README's table of plan keys (between `<!-- plan-keys:start -->` and `<!-- plan-keys:end -->`)."""
    lines = ["| Key | Also accepted | Meaning | Allowed values | Default |", "|---|---|---|---|---|"]
    for key in keys:
        also = ", ".join(f"`{name}`" for name in key.spellings[1:]) or "–"
        lines.append(f"| `{key.name}` | {also} | {key.meaning} | {key.allowed} | {key.default} |")
    return "\n".join(lines) + "\n"
