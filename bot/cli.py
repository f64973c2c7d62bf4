"""`ml-intern-bot`: thin entry points that turn input into events for the core."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.config import ConfigError, Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ml-intern-bot", description="A GitHub-native ML intern.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="play the origin story on a local forge (offline, a few minutes)")
    demo.add_argument("--dataset", help="Hub ID or local CSV/Parquet/JSONL path (default: Bitext)")
    demo.add_argument("--workdir", type=Path, default=Path("demo-output"), help="where the demo writes")
    demo.add_argument("--serve", action="store_true", help="keep the forge's web view up at the end")
    demo.add_argument("--goal", help="the issue's text, as a user would write it (default: the origin story)")
    demo.add_argument("--runner", choices=("local", "actions", "hf-jobs"), default="local",
                      help="where training runs: a local process, the forge's GitHub Actions, or the local Hub's HF Jobs")
    serve = sub.add_parser("serve", help="the GitHub App webhook server (POST /webhook)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--host", default="0.0.0.0")
    sub.add_parser("handle-event", help="handle one event in GitHub Actions (GITHUB_EVENT_NAME/PATH)")
    # --help goes on to the forge's own parser, which knows its sub-commands (user, hook, fault, ...).
    forge = sub.add_parser("forge", help="run the local GitHub-compatible forge, or manage it (user, hook, ...)",
                           add_help=False)
    forge.add_argument("--root", type=Path, default=Path("demo-output/forge"))
    forge.add_argument("--port", type=int, default=8080)
    # --help goes on to the hub's own parser, which knows its sub-commands (token add, repo import).
    hub = sub.add_parser("hub", help="run the local Hugging Face Hub (repos, uploads, HF Jobs), or add a token",
                         add_help=False)
    hub.add_argument("--root", type=Path, default=Path("demo-output/hub"))
    hub.add_argument("--port", type=int, default=8766)
    return parser


def main(argv: list[str] | None = None) -> int:
    args, rest = _parser().parse_known_args(argv)
    try:
        if args.command == "demo":
            from bot.playground.demo import run_demo

            return run_demo(args.dataset, args.workdir, serve=args.serve, runner=args.runner, goal=args.goal)
        if args.command == "serve":
            from bot.edge.server import serve

            serve(Settings.from_env(), port=args.port, host=args.host)
            return 0
        if args.command == "handle-event":
            from bot.edge.action import main as action_main

            return action_main() or 0
        if args.command == "forge":
            from bot.forge.server import main as forge_main

            return forge_main(["--root", str(args.root), "--port", str(args.port), *rest]) or 0
        if args.command == "hub":
            from bot.hub.cli import main as hub_main

            return hub_main(["--root", str(args.root), "--port", str(args.port), *rest]) or 0
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
