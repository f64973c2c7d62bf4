"""`ml-intern-bot forge`: serve the local forge, or change one while another process serves it.

Every command opens the same `--root` (its SQLite in WAL mode, git repositories beside it), so a
user, permission, webhook or fault added here is what the serving process sees on its next request.

    ml-intern-bot forge --root DIR --port N                      serve (seed, print URLs and tokens)
    ml-intern-bot forge --root DIR user add NAME --permission write [--bot] [--repo OWNER/NAME]
    ml-intern-bot forge --root DIR hook add --url URL --secret S [--repo OWNER/NAME] [--events a,b]
    ml-intern-bot forge --root DIR deliveries [--json]
    ml-intern-bot forge --root DIR redeliver GUID
    ml-intern-bot forge --root DIR fault add --status 500 [--method POST] [--path REGEX]
                                              [--when before|after] [--times N] [--message TEXT]
    ml-intern-bot forge --root DIR fault list [--json] | fault clear

`fault` is a TESTING AID (bot/forge/faults.py): it makes the forge's REST API fail on purpose.
`--port` is accepted everywhere (bot/cli.py always passes it) and used only when serving.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from bot.forge.rows import present
from bot.forge.store import ROLES, Forge

DEFAULT_EVENTS = "issues,issue_comment,pull_request"
# Applied after parsing: set_defaults would rewrite the shared --root action's default, and a
# subcommand's copy of it would then overwrite a --root given before the subcommand.
GLOBAL_DEFAULTS = {"root": Path(".forge"), "port": 8765, "host": "127.0.0.1"}
FAULT_HELP = ("TESTING AID: make the forge's REST API answer an error on purpose. --when before: answer "
              "without processing (an outage: --status 503 --times 0); --when after: process the request "
              "(a write is saved) and answer the error instead of the real response.")


class CliError(Exception):
    """A refusal the user can fix; printed as `error: ...`, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--root", type=Path, default=argparse.SUPPRESS, help="state directory")
    common.add_argument("--port", type=int, default=argparse.SUPPRESS, help="port to serve on (serving only)")
    common.add_argument("--host", default=argparse.SUPPRESS, help="address to serve on (serving only)")
    parser = argparse.ArgumentParser(prog="ml-intern-bot forge", parents=[common],
                                     description="Serve the local GitHub-compatible forge (the default), or "
                                                 "change one that another process serves.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", parents=[common], help="seed, print URLs and tokens, serve until Ctrl-C")
    _user_parser(sub, common)
    _hook_parser(sub, common)
    deliveries = sub.add_parser("deliveries", parents=[common], help="list webhook deliveries, oldest first")
    deliveries.add_argument("--json", action="store_true", help="print one JSON array")
    redeliver = sub.add_parser("redeliver", parents=[common], help="send a delivery again (same GUID and body)")
    redeliver.add_argument("guid")
    _fault_parser(sub, common)
    return parser


def _user_parser(sub, common) -> None:
    user = sub.add_parser("user", parents=[common], help="manage users").add_subparsers(dest="action", required=True)
    add = user.add_parser("add", parents=[common], help="create a user, grant a role, print its token last")
    add.add_argument("name")
    add.add_argument("--permission", required=True, choices=ROLES)
    add.add_argument("--bot", action="store_true", help='a "Bot" account (as GitHub Apps act)')
    add.add_argument("--repo", default=None, help="OWNER/NAME (default: the seeded acme/support-bot)")


def _hook_parser(sub, common) -> None:
    hook = sub.add_parser("hook", parents=[common], help="manage webhooks").add_subparsers(dest="action", required=True)
    add = hook.add_parser("add", parents=[common], help="register a webhook (one per repo and URL); print its id")
    add.add_argument("--url", required=True)
    add.add_argument("--secret", required=True)
    add.add_argument("--repo", default=None, help="OWNER/NAME (default: the seeded acme/support-bot)")
    add.add_argument("--events", default=DEFAULT_EVENTS, help=f"comma-separated (default: {DEFAULT_EVENTS})")


def _fault_parser(sub, common) -> None:
    fault = sub.add_parser("fault", parents=[common], help="TESTING AID: inject API errors", description=FAULT_HELP)
    actions = fault.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", parents=[common], help="add a fault; print its id", description=FAULT_HELP)
    add.add_argument("--status", type=int, required=True, help="HTTP error status to answer (400-599)")
    add.add_argument("--method", default=None, help="only this HTTP method (default: any)")
    add.add_argument("--path", default=None, help="regex searched in the path after /api/v3 (default: any)")
    add.add_argument("--when", choices=("before", "after"), default="before")
    add.add_argument("--times", type=int, default=1, help="how many requests it fails (0: until cleared)")
    add.add_argument("--message", default=None, help="the error body's message (default: the status phrase)")
    listing = actions.add_parser("list", parents=[common], help="list faults and how often each fired")
    listing.add_argument("--json", action="store_true")
    actions.add_parser("clear", parents=[common], help="remove every fault")


# --- commands -----------------------------------------------------------------------------------
def _repo(forge: Forge, full_name: str | None) -> str:
    """The target repository, created when missing: the default one seeded like `serve` does."""
    from bot.forge.server import SEED_REPO, seed

    full_name = full_name or SEED_REPO
    if "/" not in full_name:
        raise CliError(f"--repo must be OWNER/NAME, not {full_name!r}")
    if full_name.lower() == SEED_REPO.lower():
        seed(forge)
    repo = forge.repo(full_name) or forge.create_repo(full_name, owner_type="Organization")
    return repo["full_name"]


def user_add(forge: Forge, args) -> int:
    """Idempotent: the same token every time; the role is set to --permission each time."""
    repo = _repo(forge, args.repo)
    kind = "Bot" if args.bot else (forge.user(args.name) or {}).get("type", "User")  # --bot only ever adds
    token = forge.add_user(args.name, type=kind)
    forge.set_user_type(args.name, kind)
    forge.set_permission(repo, args.name, args.permission)
    user = present(forge.user(args.name))  # just added
    print(f"user {user['login']} ({user['type']}): {args.permission} on {repo}")
    print(token)
    return 0


def hook_add(forge: Forge, args) -> int:
    events = [e.strip() for e in args.events.split(",") if e.strip()]
    if not events:
        raise CliError("--events names no event")
    try:
        print(forge.add_hook(_repo(forge, args.repo), url=args.url, secret=args.secret, events=events))
    except ValueError as exc:
        raise CliError(str(exc)) from exc
    return 0


def deliveries(forge: Forge, args) -> int:
    rows = forge.deliveries()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for d in rows:
        status = "queued" if d["status_code"] is None else str(d["status_code"])
        print(f"{d['id']}  {d['event']:<14} {d['action'] or '-':<12} {status:>6}"
              f"{'  redelivery' if d['redelivery'] else ''}")
    return 0


def redeliver(forge: Forge, args) -> int:
    """Sent from this process; exit 0 when the receiver answered 2xx, 1 otherwise."""
    try:
        record = forge.redeliver(args.guid, wait=True)
    except KeyError as exc:
        raise CliError(exc.args[0]) from exc
    print(record["status_code"])
    if record["error"]:
        print(f"error: {record['error']}", file=sys.stderr)
    return 0 if 200 <= record["status_code"] < 300 else 1


def fault(forge: Forge, args) -> int:
    if args.action == "clear":
        print(f"cleared {forge.clear_faults()} fault(s)")
    elif args.action == "list":
        rows = forge.faults()
        print(json.dumps(rows, indent=2) if args.json else "\n".join(_fault_line(f) for f in rows))
    else:
        try:
            print(forge.add_fault(args.status, method=args.method, path=args.path, when=args.when,
                                  times=args.times, message=args.message))
        except (ValueError, re.error) as exc:  # both are the user's input
            raise CliError(str(exc)) from exc
    return 0


def _fault_line(f: dict) -> str:
    left = "until cleared" if f["remaining"] is None else f"{f['remaining']} left"
    return (f"#{f['id']}  {f['status']} {f['when']:<6} {f['method'] or '*':<6} /{f['path'] or '.*'}/  "
            f"fired {f['fired']}, {left}")


COMMANDS = {"user": user_add, "hook": hook_add, "deliveries": deliveries, "redeliver": redeliver, "fault": fault}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for name, default in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    if args.command in (None, "serve"):
        from bot.forge.server import serve

        return serve(args.root, args.host, args.port)
    forge = Forge(args.root)
    try:
        return COMMANDS[args.command](forge, args)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        forge.close()
