"""Smoke-test the PR's scripts before the bot pushes them: train.py --smoke, then evaluate.py --smoke.

A PR whose scripts crash on a few hundred rows wastes a maintainer's review, so the bot runs them
first, in a scratch folder, with credentials scrubbed from the environment (ARCHITECTURE.md
principle 5). The result says in one line what happened, for the PR's status comment.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.writing.artifacts import shipped_eval, shipped_title
from runners.base import RunResult, scrub_env
from runners.local import LocalRunner, reap


@dataclass
class SmokeResult:
    ok: bool
    seconds: float
    summary: str
    log_tail: str


def write_files(files: Mapping[str, str], folder: Path) -> None:
    """Write the rendered files; names are the templates' fixed file names, kept inside folder."""
    folder = folder.resolve()
    for name, text in files.items():
        target = (folder / name).resolve()
        if folder not in target.parents:
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def smoke_test(
    files: Mapping[str, str], workdir: Path, *, timeout_s: float = 240, env: Mapping[str, str] | None = None
) -> SmokeResult:
    """Run the scripts on the plan's smoke sample within timeout_s; never raises for script failures."""
    src, out = Path(workdir) / "src", Path(workdir) / "out"
    reap(out)  # scripts a killed bot left running must not write into this run
    shutil.rmtree(out, ignore_errors=True)
    write_files(files, src)
    result = LocalRunner(extra_args=["--smoke"]).run(src, out, budget_s=timeout_s, env=scrub_env(env))
    return SmokeResult(
        ok=result.ok, seconds=result.seconds, summary=_summary(result, timeout_s), log_tail=result.log_tail
    )


def _summary(result: RunResult, timeout_s: float) -> str:
    """One line for the PR comment: what ran, how long, and on failure the scripts' own message."""
    if result.status == "timed_out":
        return f"smoke test timed out after {timeout_s:.0f} s ({result.message})"
    if not result.ok:
        return f"smoke test failed after {result.seconds:.0f} s: {result.message or result.status}"
    start = next((e for e in result.events if e.get("event") == "start"), {})
    m = result.metrics or {}
    shipped, base = shipped_eval(m), m.get("baseline", {})
    rows = start.get("finetune_train_rows", start.get("train_rows", "?"))  # the fine-tune's (capped) rows
    return (
        f"smoke test passed in {result.seconds:.0f} s: trained on {rows} rows "
        f"for {start.get('total_steps', '?')} steps and evaluated on {m.get('rows', {}).get('test', '?')} "
        f"test rows ({shipped_title(m)} macro-F1 {shipped.get('macro_f1', 0):.2f}, "
        f"baseline {base.get('macro_f1', 0):.2f}; "
        "a smoke sample, not a quality measure)"
    )
