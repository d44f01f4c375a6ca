"""`chatops intake add | list | revoke`: the key is shown once and stored only as its hash."""

from __future__ import annotations

import re
from pathlib import Path

from sqlmodel import select

from chatops.db import Database, make_engine
from chatops.intake.keys import key_hash
from chatops.intake.models import Integration
from tests.support.clirun import EXAMPLE, chatops


def test_add_list_revoke(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}"}
    assert chatops("db", "upgrade", cwd=tmp_path, env=env).returncode == 0
    assert chatops("rota", "import", str(EXAMPLE), "--force", cwd=tmp_path, env=env).returncode == 0

    added = chatops(
        "intake", "add", "mail-gateway", "--type", "threat-of-violence", cwd=tmp_path, env=env
    )
    assert added.returncode == 0, added.stderr
    key = re.search(r"routing key \(shown once, keep it secret\): ([a-z0-9]{32})", added.stdout)
    assert key is not None
    db = Database(make_engine(env["DATABASE_URL"]))
    with db.transaction() as session:
        [row] = session.exec(select(Integration))
        assert row.key_hash == key_hash(key.group(1)) and key.group(1) not in row.key_hash
    db.dispose()

    again = chatops("intake", "add", "mail-gateway", cwd=tmp_path, env=env)
    assert again.returncode == 2 and again.stderr.count("\n") == 1
    listed = chatops("intake", "list", cwd=tmp_path, env=env)
    assert "mail-gateway\tthreat-of-violence" in listed.stdout and "live" in listed.stdout
    assert key.group(1) not in listed.stdout

    assert chatops("intake", "revoke", "mail-gateway", cwd=tmp_path, env=env).returncode == 0
    twice = chatops("intake", "revoke", "mail-gateway", cwd=tmp_path, env=env)
    assert (twice.returncode, twice.stderr) == (2, "chatops: mail-gateway is revoked already\n")
    assert "revoked" in chatops("intake", "list", cwd=tmp_path, env=env).stdout
