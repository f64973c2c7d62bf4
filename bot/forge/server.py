"""Run a forge in a background thread (tests, demo) or in the foreground (`ml-intern-bot forge`)."""

from __future__ import annotations

import signal
import socket
import threading
import time
from pathlib import Path
from typing import Self

from bot.forge.store import Forge

SEED_USERS = (("alice", "User", "read"), ("maintainer", "User", "write"), ("reader", "User", "read"),
              ("ml-intern[bot]", "Bot", "write"))
SEED_REPO = "acme/support-bot"


class ForgeServer:
    """uvicorn serving a Forge on a background thread; port 0 picks a free port."""

    def __init__(self, forge: Forge, host: str = "127.0.0.1", port: int = 0):
        import uvicorn  # here, so the CLI's other commands start without the web stack

        from bot.forge.api import create_app

        self.forge, self.host = forge, host
        # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only for such sockets;
        # without it, Nagle and the client's delayed ACK add ~40 ms to every keep-alive request.
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        self.api_url = f"{self.url}/api/v3"
        forge.html_url = self.url
        config = uvicorn.Config(create_app(forge), log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
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
    """Demo users and the acme/support-bot repository; returns login -> token. A role someone
    changed since (the CLI's `user add`) is kept: seeding only fills in users without one."""
    tokens = {login: forge.add_user(login, type=kind) for login, kind, _ in SEED_USERS}
    readme = "# support-bot\n\nCustomer-support tooling.\n"
    repo = forge.repo(SEED_REPO) or forge.create_repo(SEED_REPO, owner_type="Organization", files={"README.md": readme})
    for login, _, role in SEED_USERS:
        if forge.explicit_role(repo, login) is None:
            forge.set_permission(SEED_REPO, login, role)
    return tokens


def serve(root: Path, host: str, port: int) -> int:
    """Seed, print the URLs and tokens (flushed: a parent process may be reading them), serve
    until Ctrl-C or SIGTERM."""
    forge = Forge(root)
    tokens = seed(forge)
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with ForgeServer(forge, host=host, port=port) as srv:
        print(f"forge web: {srv.url}/{SEED_REPO}", flush=True)
        print(f"forge API: {srv.api_url}", flush=True)
        for login, token in tokens.items():
            print(f"  token {login}: {token}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
        print("forge stopped", flush=True)
    forge.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    """`ml-intern-bot forge --root DIR --port N [command ...]`: serve (the default) or one CLI
    command on the same root; see bot/forge/cli.py."""
    from bot.forge.cli import main as cli_main

    return cli_main(argv)
