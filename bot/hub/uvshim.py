"""`uv` inside a local Hub job: `uv run [options] SCRIPT|URL|COMMAND [args]` on this machine's Python.

HF Jobs run `uv run script.py` in a container where uv installs the script's PEP 723 dependencies.
Offline, uv cannot install anything, so a local job runs the script with the Python that serves the
local Hub, whose packages (torch, transformers, ...) stand in for the declared dependencies; `--with`,
`--python` and the other options are accepted and ignored. A script given as a URL is downloaded first
(with $HF_TOKEN when the URL is on $HF_ENDPOINT). This file runs as a script (stdlib only): the job's
`bin/uv` executes it, so it must not import the bot.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from urllib.parse import urlparse

# uv run options that take a value (https://docs.astral.sh/uv/reference/cli/#uv-run)
VALUE_OPTIONS = {"--with", "-w", "--with-requirements", "--with-editable", "--python", "-p", "--index",
                 "--default-index", "--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--env-file",
                 "--directory", "--project", "--group", "--extra", "--package", "--cache-dir", "--config-file",
                 "--index-strategy", "--resolution", "--prerelease", "--exclude-newer", "--color"}
NOTE = ("uv (local Hub): running on this machine's Python ({python}); the script's inline dependencies and "
        "--with are not installed")


def main(argv: list[str]) -> int:
    if not argv or argv[0] != "run":
        print("uv (local Hub): only `uv run` is available inside a local Hub job", file=sys.stderr)
        return 2
    args, at, module = argv[1:], 0, False
    while at < len(args) and args[at].startswith("-"):
        option = args[at]
        at += 1
        if option == "--":
            break
        if option in ("-m", "--module"):
            module = True
            break
        if "=" not in option and option in VALUE_OPTIONS:
            at += 1
    if at >= len(args):
        print("uv (local Hub): `uv run` needs a script, a URL or a command", file=sys.stderr)
        return 2
    target, rest = args[at], args[at + 1:]
    print(NOTE.format(python=sys.executable), file=sys.stderr, flush=True)
    if module:
        os.execv(sys.executable, [sys.executable, "-m", target, *rest])
    if target.startswith(("http://", "https://")):
        target = fetch(target)
    if target.endswith(".py") or os.path.isfile(target):
        os.execv(sys.executable, [sys.executable, target, *rest])
    os.execvp(target, [target, *rest])  # a command, such as `python` (the job's own shim)
    return 1  # not reached


def fetch(url: str) -> str:
    """Download a script into the working folder; the Hub token goes only to the Hub's own endpoint."""
    request = urllib.request.Request(url)
    endpoint, token = os.environ.get("HF_ENDPOINT", ""), os.environ.get("HF_TOKEN", "")
    if token and endpoint and urlparse(url).netloc == urlparse(endpoint).netloc:
        request.add_header("Authorization", f"Bearer {token}")
    name = os.path.basename(urlparse(url).path) or "script.py"
    with urllib.request.urlopen(request, timeout=60) as response, open(name, "wb") as out:
        out.write(response.read())
    return os.path.abspath(name)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
