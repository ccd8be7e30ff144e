"""The ``antiscrape`` command: ``check`` a config, ``replay`` access logs, ``update-bot-ranges``.

Every failure an operator can cause (bad config, unreadable log, no network) ends with one
clear line on stderr and exit code 1, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .config import Config, read_toml, secrets_from_environment
from .errors import ConfigError
from .identity import describe_client_ip
from .typed_loader import dump

SECRET_KEYS = frozenset({"secret_key", "old_secret_keys", "state_secret", "token", "password"})
_URI_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]+@")


def redacted(data: Any, key: str = "") -> Any:
    """The config as data with secrets masked, so ``check`` output can be pasted anywhere."""
    if isinstance(data, dict):
        return {k: redacted(v, k) for k, v in data.items()}
    if key in SECRET_KEYS:
        if isinstance(data, list):
            return ["***" for _ in data]
        return "***" if data else data
    if isinstance(data, list):
        return [redacted(v, key) for v in data]
    if isinstance(data, str) and "://" in data:
        return _URI_PASSWORD.sub(r"\1***@", data)
    return data


# -- a small TOML writer: enough for the config tree (tables, arrays of tables, scalars) --------

def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    if value is None:
        return '""'
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Scalars first, then sub-tables, then arrays of tables (TOML's ordering rule).

    Keys whose value is None are left out: TOML has no null, and leaving the key out means
    "default", which for these optional keys is None.
    """
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            tables.append((key, value))
        elif _is_table_list(value):
            arrays.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    out = "\n".join(lines)
    for key, table in tables:
        name = f"{prefix}{_toml_key(key)}"
        body = to_toml(table, name + ".")
        out += f"\n\n[{name}]\n{body}" if body.strip() and not body.startswith("\n") else \
            f"\n\n[{name}]{body}"
    for key, items in arrays:
        name = f"{prefix}{_toml_key(key)}"
        for item in items:
            out += f"\n\n[[{name}]]\n" + to_toml(item, name + ".")
    return out.strip("\n") if not prefix else out


# -- subcommands ---------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .preflight import preflight

    try:
        config = Config.load(args.config)
        preflight(config)
    except ConfigError as exc:
        err.write(f"antiscrape: invalid config: {exc}\n")
        return 1
    data = redacted(dump(config))
    if args.json:
        out.write(json.dumps(data, indent=2) + "\n")
    else:
        out.write(f"# effective configuration of {args.config} (defaults filled in, "
                  "secrets masked)\n")
        out.write(to_toml(data) + "\n")
    err.write(describe_client_ip(config.trusted_proxies, config.forwarded_header) + "\n")
    err.write(describe_guard(config) + "\n")
    err.write(f"{args.config}: OK\n")
    return 0


def describe_guard(config: Config) -> str:
    """One line on the site guard: forced on or off in config, learned, or not running."""
    if not config.visitor.enabled:
        return "site guard: off (visitor.enabled = false: no visitors, no anonymous pool)"
    mode = config.guard.mode
    if mode == "on":
        return ("site guard: forced ON (guard.mode = \"on\"): every protected read by a client "
                "without a clearance or an account needs one")
    if mode == "off":
        return ("site guard: forced OFF (guard.mode = \"off\"): only the anonymous "
                "allowances apply")
    g = config.guard
    day = f", or {g.min_young_reads_per_day} a day" if g.min_young_reads_per_day else ""
    return (f"site guard: learned (guard.mode = \"auto\"): enters when anonymous reads of a "
            f"kind exceed {g.factor:g}x their usual rate (at least {g.min_reads} per "
            f"{g.bucket} s), its reads by visitors new today theirs (at least "
            f"{g.min_young_reads}{day}), its reads by visitors without a clearance theirs (at "
            f"least {g.min_visitor_reads}) or new visitors theirs (at least "
            f"{g.min_new_visitors}); leaves after {g.cooldown} s at or under "
            f"{g.leave_factor:g}x the usual rate (or the floor)")


def replay_config(path: str | None) -> Config:
    """The config a replay decides with: the file's, plus the environment's keys as always.

    A replay signs nothing that leaves the process (its state lives in memory for the run),
    so it needs no secret: without one in the file or the environment it takes a throwaway
    key rather than refusing the file the application itself would start with."""
    data = secrets_from_environment(read_toml(path) if path else {}, os.environ)
    if not data.get("secret_key"):
        data["secret_key"] = secrets.token_urlsafe(32)
    return Config.load(data)


def cmd_replay(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .replay import LogSource, Progress, replay_file
    from .replay.html import render_report
    from .replay.shards import choose_workers
    from .replay.text import format_summary

    try:
        config = replay_config(args.config)
    except ConfigError as exc:
        err.write(f"antiscrape: invalid config: {exc}\n")
        return 1
    fmt = "auto" if args.format == "auto" else args.format
    try:
        source = LogSource(args.log)
    except OSError as exc:
        err.write(f"antiscrape: cannot read {args.log}: {exc.strerror or exc}\n")
        return 1
    workers, why = choose_workers(args.workers, args.log, config)
    err.write(f"antiscrape: replay: {why}\n")
    with source:
        progress = Progress(source, err, enabled=args.progress)
        try:
            run = replay_file(args.log, config, fmt=fmt, workers=workers,
                              progress=progress.update, source=source)
        except (OSError, EOFError) as exc:  # truncated gzip, I/O error mid-file
            err.write(f"antiscrape: reading {args.log} failed: {exc}\n")
            return 1
        except KeyboardInterrupt:  # Ctrl-C reaches every worker process too
            err.write("\nantiscrape: replay interrupted, no report\n")
            return 130
        progress.finish(run.tally.lines)
    summary = run.tally.summary(args.top)
    out.write(format_summary(summary, lines_per_second=run.lines_per_second,
                             workers=run.workers) + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1), encoding="utf-8")
        err.write(f"summary written to {args.json}\n")
    if args.html:
        html = render_report(summary, source=Path(args.log).name,
                             lines_per_second=run.lines_per_second)
        Path(args.html).write_text(html, encoding="utf-8")
        err.write(f"report written to {args.html}\n")
    return 0


def cmd_update_bot_ranges(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from .goodbots.ranges import load_ranges, refresh

    try:
        current = load_ranges(args.base)
    except (OSError, ValueError) as exc:
        err.write(f"antiscrape: cannot read ranges file {args.base}: {exc}\n")
        return 1
    urls = None
    if args.url:
        urls = {}
        for spec in args.url:
            name, sep, url = spec.partition("=")
            if not sep or not url:
                err.write(f"antiscrape: --url needs NAME=URL, got {spec!r}\n")
                return 1
            urls.setdefault(name, ())
            urls[name] = (*urls[name], url)
    report = refresh(current, urls=urls, timeout=args.timeout)
    for name, why in sorted(report.failed.items()):
        err.write(f"  {name}: not updated ({why})\n")
    if not report.updated:
        err.write("antiscrape: could not fetch any vendor's crawler ranges (no network "
                  "access?); nothing written, the shipped ranges stay in use\n")
        return 1
    Path(args.output).write_text(json.dumps(report.data.to_json(), indent=1) + "\n",
                                 encoding="utf-8")
    out.write(f"updated {', '.join(report.updated)}; wrote {args.output}\n"
              f"use it with: [good_bots] ranges_file = {json.dumps(str(args.output))}\n")
    return 0


def _workers(text: str) -> int | None:
    """``--workers``: a positive count, or ``auto`` (None)."""
    if text == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or 'auto', got {text!r}") from None
    if not 1 <= count <= 64:
        raise argparse.ArgumentTypeError("expected 1 to 64")
    return count


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="antiscrape",
                                     description="antiscrape operations tool")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="validate a config file and print the effective config")
    check.add_argument("config", help="path to antiscrape.toml")
    check.add_argument("--json", action="store_true", help="print JSON instead of TOML")
    check.set_defaults(func=cmd_check)

    replay = sub.add_parser("replay", help="run an access log through the engine (monitor mode)")
    replay.add_argument("log", help="access log (plain or .gz); '-' reads stdin")
    replay.add_argument("--config", "-c", help="antiscrape.toml (default: built-in defaults)")
    replay.add_argument("--format", choices=("auto", "combined", "common", "json"),
                        default="auto", help="log format (default: sniffed from the first line)")
    replay.add_argument("--html", metavar="PATH", help="write a self-contained HTML report")
    replay.add_argument("--json", metavar="PATH", help="write the summary as JSON")
    replay.add_argument("--top", type=int, default=10, help="top offenders to list")
    replay.add_argument("--workers", type=_workers, default=None, metavar="N|auto",
                        help="processes, split by client network (default auto: one per CPU "
                             "when that decides exactly as one process, else 1)")
    replay.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    replay.set_defaults(func=cmd_replay)

    update = sub.add_parser("update-bot-ranges",
                            help="fetch the crawler IP ranges the vendors publish")
    update.add_argument("--output", "-o", default="antiscrape-bot-ranges.json",
                        help="file to write (point good_bots.ranges_file at it)")
    update.add_argument("--base", default=None,
                        help="ranges file to start from (default: the shipped data)")
    update.add_argument("--url", action="append", metavar="NAME=URL",
                        help="fetch NAME's ranges from URL instead (repeatable)")
    update.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    update.set_defaults(func=cmd_update_bot_ranges)
    return parser


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.func(args, out or sys.stdout, err or sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
