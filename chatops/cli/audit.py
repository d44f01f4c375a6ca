"""`chatops audit verify|export|head`: prove the audit trail was not rewritten, and take it out.

`verify` seals what the worker has not sealed yet, then walks the whole chain: exit 0 with the
count and the head, or exit 1 naming the first bad event (docs/audit.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy.exc import OperationalError

from chatops import audit
from chatops.cli.common import CliError, Parser, Subcommands, open_database, parse_instant, usage_of
from chatops.db import Database
from chatops.settings import Settings

EXIT_BROKEN = 1


def add(sub: Subcommands) -> None:
    """`chatops audit verify [--expect SEQ:HASH]`, `audit export`, `audit head`."""
    parser = sub.add_parser("audit", help="verify and export the tamper-evident audit trail")
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", parser_class=Parser)
    verify = actions.add_parser("verify", help="seal new events, then check the whole chain")
    verify.add_argument(
        "--expect",
        metavar="SEQ:HASH",
        help="a head saved earlier (`chatops audit head`): the chain must still hold it",
    )
    verify.set_defaults(func=cmd_verify)
    export = actions.add_parser("export", help="sealed events as JSON lines")
    export.add_argument("--from", dest="start", metavar="ISO", help="first instant (inclusive)")
    export.add_argument("--to", dest="end", metavar="ISO", help="last instant (exclusive)")
    export.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    export.set_defaults(func=cmd_export)
    head = actions.add_parser("head", help="the chain head as one JSON line, to keep elsewhere")
    head.set_defaults(func=cmd_head)
    parser.set_defaults(func=lambda _a, _s: usage_of(parser))


def _sealed(settings: Settings) -> Database:
    db = open_database(settings)
    try:
        with suppress(audit.ChainBroken):  # verify says where
            audit.seal(db)
    except OperationalError as error:  # e.g. the 5 s lock wait ran out under a long transaction
        reason = str(error.orig or error).strip().splitlines()[0]
        raise CliError(f"cannot seal the audit trail now ({reason}); try again") from None
    return db


def _expected(text: str) -> tuple[int, str]:
    seq, sep, digest = text.partition(":")
    if not sep or not seq.isdigit() or len(digest) != 64:
        raise CliError(f"--expect: {text!r} is not SEQ:HASH as `chatops audit head` prints it")
    return int(seq), digest.lower()


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    expect = _expected(args.expect) if args.expect else None
    db = _sealed(settings)
    with db.transaction() as session:
        verdict = audit.verify(session)
        kept = session.get(audit.AuditSeal, expect[0]) if expect else None
    if verdict.problem is not None:
        print(
            f"audit chain broken at {verdict.problem} "
            f"({verdict.verified} events verified before it)"
        )
        return EXIT_BROKEN
    if expect is not None and (kept is None or kept.hash != expect[1]):
        print(
            f"audit chain broken at seq {expect[0]}: rewritten since that head was saved "
            f"(expected {expect[1][:8]}, found {kept.hash[:8] if kept else 'nothing'})"
        )
        return EXIT_BROKEN
    print(f"{verdict.verified} events verified, chain head {verdict.head_hash[:8]}")
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    start = parse_instant(args.start, "--from") if args.start else None
    end = parse_instant(args.end, "--to") if args.end else None
    if start is not None and end is not None and end <= start:
        raise CliError("--to must be after --from")
    db = _sealed(settings)
    if args.out is None:
        _write(db, sys.stdout, start=start, end=end)
        return 0
    try:
        with Path(args.out).open("w", encoding="utf-8") as out:
            count = _write(db, out, start=start, end=end)
    except OSError as error:
        raise CliError(f"--out: cannot write {args.out}: {error.strerror}") from None
    print(f"{count} events written to {args.out}")
    return 0


def _write(db: Database, out: TextIO, *, start: datetime | None, end: datetime | None) -> int:
    count = 0
    with db.transaction() as session:
        for row in audit.export(session, start=start, end=end):
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    return count


def cmd_head(_args: argparse.Namespace, settings: Settings) -> int:
    db = _sealed(settings)
    with db.transaction() as session:
        found = audit.head(session)
    if found is None:
        raise CliError("the audit head record is missing; run `chatops audit verify`")
    sealed_at = audit.instant(found.sealed_at) if found.sealed_at else None
    row = {"seq": found.seq, "hash": found.hash, "event_id": found.event_id, "at": sealed_at}
    print(json.dumps(row, sort_keys=True))
    return 0
