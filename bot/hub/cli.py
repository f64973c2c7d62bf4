"""`ml-intern-bot hub`: serve the local Hub, or add a token to one that another process serves.

    ml-intern-bot hub --root DIR --port N [--host H] [--user NAME] [--org ORG ...]
        serve; prints the endpoint URL and a write token for NAME (default ml-intern, org acme)
    ml-intern-bot hub --root DIR token add NAME [--org ORG ...] [--role write|read]
        print NAME's token as the last line (the same one each time; --org replaces the organisations)
    ml-intern-bot hub --root DIR repo import OWNER/NAME FOLDER [--type model|dataset|space]
        commit FOLDER's files (or one file) to a repo (created public if missing); print the head commit last;
        e.g. `repo import PolyAI/banking77 ../shared/data/banking77 --type dataset` serves that offline copy to
        `datasets.load_dataset("PolyAI/banking77")`

Point the real client at it with HF_ENDPOINT=<endpoint> HF_TOKEN=<token>, with HF_HUB_OFFLINE unset:
huggingface_hub refuses every request, even to a local endpoint, in offline mode.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.hub.repos import TYPES
from bot.hub.store import ROLES, HubStore, valid_id

# Applied after parsing, so a --root given before the sub-command is not overwritten (as in forge/cli.py).
GLOBAL_DEFAULTS = {"root": Path(".hub"), "port": 8766, "host": "127.0.0.1"}


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=argparse.SUPPRESS, help="state directory")
    common.add_argument("--port", type=int, default=argparse.SUPPRESS, help="port to serve on (serving only)")
    common.add_argument("--host", default=argparse.SUPPRESS, help="address to serve on (serving only)")
    parser = argparse.ArgumentParser(prog="ml-intern-bot hub", parents=[common],
                                     description="Serve the local Hugging Face Hub (the default), or add a token.")
    parser.add_argument("--user", default="ml-intern", help="the user whose token serving prints")
    parser.add_argument("--org", action="append", default=None, help="an organisation of --user (repeatable; "
                                                                      "default: acme)")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", parents=[common], help="print the endpoint and a token, serve until Ctrl-C")
    token = sub.add_parser("token", parents=[common], help="manage tokens").add_subparsers(dest="action",
                                                                                            required=True)
    add = token.add_parser("add", parents=[common], help="create (or repeat) a user's token; print it last")
    add.add_argument("name")
    add.add_argument("--org", action="append", default=[], dest="orgs", help="an organisation (repeatable)")
    add.add_argument("--role", choices=ROLES, default="write")
    repo = sub.add_parser("repo", parents=[common], help="manage repositories").add_subparsers(dest="action",
                                                                                             required=True)
    load = repo.add_parser("import", parents=[common], help="commit a folder's files (or a file) to a repo; print "
                                                             "the commit")
    load.add_argument("repo_id")
    load.add_argument("folder", type=Path)
    load.add_argument("--type", choices=TYPES, default="model", dest="kind")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.command in (None, "serve"):
        from bot.hub.server import SEED_ORGS, serve

        orgs = tuple(args.org) if args.org is not None else SEED_ORGS
        return serve(args.root, args.host, args.port, args.user, orgs)
    if args.command == "repo":
        return _import(args)
    try:
        token = HubStore(args.root).add_token(args.name, tuple(args.orgs), args.role)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"token for {args.name} ({args.role}; orgs: {', '.join(args.orgs) or '-'}) on the local Hub in {args.root}")
    print(token)
    return 0


def _import(args) -> int:
    from bot.hub.repos import Repos

    if not valid_id(args.repo_id) or not args.folder.exists():
        print(f"error: need OWNER/NAME and a folder or a file, not {args.repo_id!r} {str(args.folder)!r}",
              file=sys.stderr)
        return 2
    owner = args.repo_id.split("/")[0]
    sha = Repos(HubStore(args.root)).import_folder(args.kind, args.repo_id, args.folder, owner)
    print(f"{args.kind} {args.repo_id} imported from {args.folder}")
    print(sha)
    return 0


if __name__ == "__main__":
    sys.exit(main())
