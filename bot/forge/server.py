"""Run a forge in a background thread (tests, demo) or in the foreground (`ml-intern-bot forge`)."""

from __future__ import annotations

import argparse
import socket
import threading
import time
from pathlib import Path
from typing import Self

import uvicorn

from bot.forge.api import create_app
from bot.forge.store import Forge

SEED_USERS = (("alice", "User", "read"), ("maintainer", "User", "write"), ("reader", "User", "read"),
              ("ml-intern[bot]", "Bot", "write"))
SEED_REPO = "acme/support-bot"


class ForgeServer:
    """uvicorn serving a Forge on a background thread; port 0 picks a free port."""

    def __init__(self, forge: Forge, host: str = "127.0.0.1", port: int = 0):
        self.forge, self.host = forge, host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.api_url = f"{self.url}/api/v3"
        forge.html_url = self.url
        config = uvicorn.Config(create_app(forge), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> ForgeServer:
        """Start serving and wait until the socket accepts requests."""
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name="forge-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("forge server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Stop serving (deliveries already queued still go out)."""
        self._server.should_exit = True
        if self._thread:
            self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def seed(forge: Forge) -> dict[str, str]:
    """Demo users and the acme/support-bot repository; returns login -> token."""
    tokens = {login: forge.add_user(login, type=kind) for login, kind, _ in SEED_USERS}
    if forge.repo(SEED_REPO) is None:
        forge.create_repo(SEED_REPO, owner_type="Organization",
                          files={"README.md": "# support-bot\n\nCustomer-support tooling.\n"})
    for login, _, role in SEED_USERS:
        forge.set_permission(SEED_REPO, login, role)
    return tokens


def main(argv: list[str] | None = None) -> int:
    """`ml-intern-bot forge --root DIR --port N`: seed, print tokens and URLs, serve until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="ml-intern-bot forge", description=main.__doc__)
    parser.add_argument("--root", type=Path, default=Path(".forge"), help="state directory")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args(argv)
    forge = Forge(args.root)
    tokens = seed(forge)
    with ForgeServer(forge, host=args.host, port=args.port) as srv:
        print(f"forge web: {srv.url}/{SEED_REPO}")
        print(f"forge API: {srv.api_url}")
        for login, token in tokens.items():
            print(f"  token {login}: {token}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("forge stopped")
    forge.close()
    return 0
