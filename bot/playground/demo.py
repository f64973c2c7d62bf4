"""`ml-intern-bot demo`: the origin story, played on the local forge and the local Hub, step by step.

The demo's Hugging Face Hub is the local one (`bot/hub/`, under `WORKDIR/hub`): it holds the default
model, runs HF Jobs, and receives the published model and Space through `HfApi`, so the whole loop uses
the real client offline. `ml-intern-bot hub --root WORKDIR/hub` serves it again afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

ORIGIN_TITLE = "Text classifier for customer support tickets"
ORIGIN_BODY = """Build a text classification model that labels customer support tickets by issue type.
1. Use a public Hugging Face dataset. 2. Use a lightweight transformer model. 3. Evaluate the
model using accuracy, macro F1, and a confusion matrix. 4. Prepare the final model for publishing
on the Hugging Face Hub. Do not run any expensive training job without my approval."""
BITEXT_HUB_ID = "bitext/Bitext-customer-support-llm-chatbot-training-dataset"
# The default tour (no --dataset): small enough for a laptop CPU in a few minutes. With --dataset, the
# planner's defaults apply, as they would to an issue.
DEMO_PLAN = {"max_train_rows": 2000, "epochs": 2, "budget_minutes": 4}
PROBE = "I want a refund for my last order"
COLLECT_MARGIN_S = 300  # training's wait: the run's own hard limit, plus collecting and reporting it


class DemoError(RuntimeError):
    """The demo cannot run; the message says how to fix it."""


def say(text: str = "", *, indent: int = 0) -> None:
    print(" " * indent + text, flush=True)


def choose_dataset(dataset: str | None) -> str:
    """--dataset as given (a catalogued Hub ID means its local copy: the demo's Hub is the local one, which
    holds models, not data sets), else the local copy of Bitext in ../shared/data."""
    from bot.research.data import catalog_entry, default_data_dirs

    if dataset:
        local = Path(dataset).expanduser()
        if local.exists():
            return str(local.resolve())
        entry = catalog_entry(dataset)
        if entry is None:
            raise DemoError(f"--dataset {dataset}: no such file, and not a catalogued Hub data set (see "
                            "../shared/data/README.md). Pass a CSV/Parquet/JSONL path or a catalogued Hub ID.")
        dataset = entry["hub_id"]
    entry = catalog_entry(dataset or BITEXT_HUB_ID) or {}
    for directory in default_data_dirs():
        candidate = Path(directory) / str(entry.get("path", ""))
        if entry.get("path") and candidate.exists():
            return str(candidate.resolve())
    raise DemoError(f"No local copy of {dataset or BITEXT_HUB_ID} found in ML_INTERN_DATA_DIR "
                    f"({os.pathsep.join(map(str, default_data_dirs())) or 'unset'}). Run with --dataset PATH_TO.csv "
                    "(a text column and a label column), or set ML_INTERN_DATA_DIR to the folder holding "
                    f"{entry.get('path', 'bitext/bitext.csv')}.")


def run_demo(dataset: str | None, workdir: Path, serve: bool = False, runner: str = "local",
             goal: str | None = None) -> int:
    started = time.monotonic()
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    plan = None if dataset else DEMO_PLAN  # the quick tour is small; a user's own data set gets the default plan
    try:
        dataset = choose_dataset(dataset)
        _fresh_process()
    except DemoError as exc:
        say(f"error: {exc}")
        return 2
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"ml-intern-bot demo: the origin story on a local forge and a local Hub (training on {runner})")
    say(f"data set: {dataset}")
    from bot.playground.serving import free_port
    from bot.playground.world import world

    port = free_port()  # huggingface_hub reads HF_ENDPOINT once, at import: set it before anything imports it
    os.environ.update(HF_ENDPOINT=f"http://127.0.0.1:{port}", HF_HOME=str(workdir / "hf-home"),
                      HF_HUB_DISABLE_PROGRESS_BARS="1")
    with world(workdir, dataset, plan, runner=runner, hub_port=port) as w:
        number = _play(w, goal or ORIGIN_BODY)
        _finish(w, number, workdir, started, runner)
        if serve:
            say("\nServing the forge's web view; press Ctrl-C to stop.")
            with _suppress_interrupt():
                while True:
                    time.sleep(3600)
    return 0


def _fresh_process() -> None:
    """The demo points huggingface_hub at the local Hub, which it reads once, at import."""
    if "huggingface_hub" in sys.modules:
        raise DemoError("run the demo in a process of its own (`ml-intern-bot demo`): huggingface_hub is already "
                        "imported here, so it cannot be pointed at the demo's local Hub")
    os.environ.pop("HF_HUB_OFFLINE", None)  # offline mode refuses even the local Hub


def _play(w, goal: str) -> int:
    from bot.planner.schema import Plan, run_limit_s

    say("\n1. alice (read access) files the goal issue")
    issue = w.as_user("alice").create_issue(title=ORIGIN_TITLE, body=goal)
    say(f"{w.forge_url}/{issue.repository.full_name}/issues/{issue.number}", indent=4)
    say("2. the maintainer labels it `ml-intern`; the bot researches, plans and smoke-tests")
    state = _maintainer(w, issue.number, "planned", lambda i: i.add_to_labels("ml-intern"))
    plan = state.plan or {}
    say(f"plan: label `{plan.get('label_column')}` ({len(plan.get('labels', []))} classes), model "
        f"{plan.get('model')}, PR #{state.pr_number}", indent=4)
    say("3. the maintainer comments /approve-train; the bot trains exactly the PR's head")
    state = _maintainer(w, issue.number, "trained", lambda i: i.create_comment("/approve-train"),
                        timeout=run_limit_s(Plan(**plan)) + COLLECT_MARGIN_S)
    summary = state.run.summary
    say(f"test accuracy {summary.accuracy:.3f}, macro-F1 {summary.macro_f1:.3f} "
        f"(TF-IDF baseline macro-F1 {summary.baseline_macro_f1:.3f})", indent=4)
    say("4. the maintainer comments /approve-publish")
    _maintainer(w, issue.number, "published", lambda i: i.create_comment("/approve-publish"))
    return issue.number


def _maintainer(w, number: int, phase: str, act, timeout: float = 600):
    """The maintainer acts on the issue; then follow the status comment until `phase` or failure."""
    from bot.core.state import Phase

    act(w.as_user("maintainer").get_issue(number))
    state = w.wait_for(number, {Phase(phase), Phase.FAILED}, timeout=timeout,
                       on_activity=lambda text: say(f"… {text}", indent=4))
    if state.phase == Phase.FAILED:
        raise SystemExit(f"the {state.failed_step} step failed: {state.error}")
    return state


def _finish(w, number: int, workdir: Path, started: float, runner: str) -> None:
    state = w.state(number)
    model_id, space_id = (url.split("/", 3)[-1].removeprefix("spaces/") for url in (state.published.model,
                                                                                  state.published.space))
    label = _probe_space(w.hub_url, space_id, workdir / "space-probe")
    job = state.run.job
    say(f"\nDone in {time.monotonic() - started:.0f} s. Where everything is:")
    say(f"issue:  {w.forge_url}/acme/support-bot/issues/{number}", indent=2)
    say(f"PR:     {w.forge_url}/acme/support-bot/pull/{state.pr_number}", indent=2)
    say(f"run:    {job.get('url') or job.get('artifacts')} (metrics.json, report.md, confusion_matrix.png)", indent=2)
    say(f"model:  {state.published.model}", indent=2)
    say(f"Space:  {state.published.space}", indent=2)
    say(f"The Space labels {PROBE!r} as {label}.", indent=2)
    say(f"Reopen the web view later: ml-intern-bot forge --root {workdir / 'forge'}", indent=2)
    say(f"Serve the model again:     ml-intern-bot hub --root {workdir / 'hub'}", indent=2)
    print(json.dumps(_summary(w, state, number, runner, model_id, space_id, label)), flush=True)


def _summary(w, state, number: int, runner: str, model_id: str, space_id: str, label: str) -> dict:
    """The demo's last line: where things are and what shipped, read from the published metrics.json."""
    from huggingface_hub import hf_hub_download

    from bot.writing.artifacts import shipped_abstain, shipped_eval, shipped_key

    metrics = json.loads(Path(hf_hub_download(model_id, "metrics.json", endpoint=w.hub_url)).read_text())
    shipped, abstain = shipped_eval(metrics), shipped_abstain(metrics)  # what the Space serves, and its abstention
    return {"issue": number, "pr": state.pr_number, "runner": runner, "model": model_id, "space": space_id,
            "shipped": shipped_key(metrics), "accuracy": shipped.get("accuracy"),
            "macro_f1": shipped.get("macro_f1"), "finetuned_accuracy": metrics["finetuned"].get("accuracy"),
            "baseline_accuracy": metrics["baseline"].get("accuracy"),
            "train_seconds": metrics.get("train", {}).get("train_seconds"),
            "coverage": abstain.get("coverage"), "ood_refusal_rate": abstain.get("ood_refusal_rate"),
            "cost_usd": state.run.cost_usd, "probe": label}


def _probe_space(endpoint: str, space_id: str, folder: Path) -> str:
    """Download the published Space from the Hub and ask its app about a refund, as a visitor would."""
    import runpy

    from huggingface_hub import snapshot_download

    space = Path(snapshot_download(space_id, repo_type="space", endpoint=endpoint, local_dir=folder))
    cwd = os.getcwd()
    sys.path.insert(0, str(space))
    try:
        os.chdir(space)
        app = runpy.run_path(str(space / "app.py"), run_name="ml_intern_space")
        return str(app["predict"](PROBE)["label"])
    finally:
        os.chdir(cwd)
        sys.path.remove(str(space))


class _suppress_interrupt:
    def __enter__(self):
        return self

    def __exit__(self, kind, *rest):
        return kind is KeyboardInterrupt
