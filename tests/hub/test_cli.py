"""`ml-intern-bot hub`: tokens from the command line, and a served Hub used by a client configured only
through the environment (HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE unset), as a user or a runner would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from bot.hub.cli import main
from bot.hub.store import HubStore

ROOT = Path(__file__).resolve().parents[2]
CLIENT = """
import json, os
from huggingface_hub import HfApi, hf_hub_download, list_jobs
api = HfApi()  # HF_ENDPOINT and HF_TOKEN from the environment
me = api.whoami()["name"]
api.create_repo("acme/cli-model", exist_ok=True)
blob = b"\\0" + os.urandom(1 << 20)
api.upload_file(path_or_fileobj=blob, path_in_repo="weights.bin", repo_id="acme/cli-model")
same = open(hf_hub_download("acme/cli-model", "weights.bin"), "rb").read() == blob
job = api.run_job(image="python:3.12", command=["python", "-c", "print('hi')"])
logs = list(api.fetch_job_logs(job_id=job.id, follow=True))
print(json.dumps({"me": me, "same": same, "logs": logs, "jobs": [j.id for j in list_jobs()], "job": job.id}))
"""


def test_token_add_prints_the_same_token_last_each_time(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "token", "add", "bob", "--org", "acme"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert main(["token", "add", "bob", "--root", str(tmp_path)]) == 0
    second = capsys.readouterr().out.splitlines()

    assert first[-1] == second[-1] and first[-1].startswith("hf_")
    user = HubStore(tmp_path).user(first[-1])
    assert user is not None and user.name == "bob" and user.orgs == ()  # the second call replaced the orgs
    assert main(["--root", str(tmp_path), "token", "add", "a/b"]) == 2


def test_repo_import_seeds_a_repository_the_client_can_read(hub, online, tmp_path, capsys):
    from huggingface_hub import HfApi

    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "model" / "model.safetensors").write_bytes(b"\0" * 64)
    argv = ["--root", str(hub.store.root), "repo", "import", "seed/minilm", str(tmp_path / "model")]
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[-1]
    assert main(argv) == 0 and capsys.readouterr().out.splitlines()[-1] == first  # nothing new: no commit

    info = HfApi(endpoint=hub.url).model_info("seed/minilm", files_metadata=True)
    assert info.sha == first and {s.rfilename: bool(s.lfs) for s in info.siblings} == {
        ".gitattributes": False, "config.json": False, "model.safetensors": True}


def test_serve_then_use_it_through_the_environment_only(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    server = subprocess.Popen([sys.executable, "-m", "bot.hub.cli", "--root", str(tmp_path / "hub"), "--port", "0"],
                              cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(3)]
        endpoint = lines[0].split("hub endpoint: ")[1].strip()
        token = lines[2].rsplit(": ", 1)[1].strip()
        client_env = {**env, "HF_ENDPOINT": endpoint, "HF_TOKEN": token, "HF_HOME": str(tmp_path / "hf"),
                      "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        client = subprocess.run([sys.executable, "-c", CLIENT], env=client_env, capture_output=True, text=True,
                                timeout=60)
        assert client.returncode == 0, client.stderr
        result = json.loads(client.stdout.splitlines()[-1])
    finally:
        server.send_signal(signal.SIGTERM)
        rest, _ = server.communicate(timeout=20)

    assert result["me"] == "ml-intern" and result["same"] is True
    assert result["logs"] == ["hi"] and result["job"] in result["jobs"]
    assert "hub stopped" in rest and server.returncode == 0
