"""Account set-up outside HTTP: the default local account and `serve create-account`.

On the first start with an empty database the service creates one account so the studio works
offline without set-up. The server must not touch the OS keyring (that is the studio's client
side, `app/service/keys.py`), so it writes the new account's plain keys to
`default-account.json` (mode 0600) in its data folder; the studio reads that file, moves the keys
into the keyring and deletes it. The file is written only once, when the account is created.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from app.server.config import ServiceConfig
from app.server.store import NewAccount, Store


def write_private_json(path: Path, data: object) -> None:
    """Write `data` so that only the owner can read it, atomically (temp file + rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    os.chmod(temp, 0o600)
    os.replace(temp, path)


def ensure_default_account(store: Store, config: ServiceConfig) -> NewAccount | None:
    """Create the default account when the database has none (first start); None otherwise."""
    if not config.create_default_account or store.account_count() > 0:
        return None
    account = store.create_account(config.default_plan, config.default_credits)
    write_private_json(
        config.default_account_file, {**account.as_dict(), **sketchpen_keys(store, account)}
    )
    return account


def sketchpen_keys(store: Store, account: NewAccount) -> dict[str, str]:
    """A Sketchpen live and test key for the account (stored hashed), as printed/written."""
    from app.server.sketchpen_store import SketchStore

    sketch = SketchStore(store.path)
    try:
        return sketch.create_keys(account.account_id).as_dict()
    finally:
        sketch.close()
