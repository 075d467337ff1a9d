"""API keys: kept in the OS keyring (never in settings or project files), masked for display,
and scrubbed from every log record.

A machine without a usable keyring (a headless Linux box without Secret Service, a locked
keychain) gets a `KeyringUnavailable` error value that tells the user what to do, never a crash.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

import keyring
import keyring.backend
import keyring.errors

from app.redact import (
    RedactingFilter,
    forget_secrets,
    install_log_redaction,
    redact,
    remember_secret,
)
from app.service.errors import Action, ApiError, Category

SERVICE_PREFIX = "Reelsmith"
KEY_USERNAME = "api-key"
KEYRING_UNAVAILABLE = "KEYRING_UNAVAILABLE"


class KeyMode(StrEnum):
    """Live keys spend credits; test keys are sandbox keys that never do."""

    LIVE = "live"
    TEST = "test"
    UNKNOWN = "unknown"


_MODE_PREFIXES = {
    "ve_live_": KeyMode.LIVE,
    "ve_test_": KeyMode.TEST,
    "sk_live_": KeyMode.LIVE,
    "sk_test_": KeyMode.TEST,
}


def key_mode(key: str) -> KeyMode:
    """The mode a key's prefix declares (PhantomFlow `ve_…`, Sketchpen `sk_…`)."""
    for prefix, mode in _MODE_PREFIXES.items():
        if key.startswith(prefix):
            return mode
    return KeyMode.UNKNOWN


def mask_key(key: str) -> str:
    """`ve_live_0123…a1b2` → `ve_live_…a1b2`: enough to tell keys apart, useless to an attacker."""
    prefix = next((p for p in _MODE_PREFIXES if key.startswith(p)), "")
    rest = key[len(prefix) :]
    if len(rest) < 12:
        return f"{prefix}…"
    return f"{prefix}…{rest[-4:]}"


def service_name(base_url: str) -> str:
    """The keyring service for a server: one entry per scheme+host+port (path ignored)."""
    parts = urlsplit(base_url.strip())
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or parts.path or "").lower()
    port = parts.port
    default_port = {"http": 80, "https": 443}.get(scheme)
    netloc = host if port is None or port == default_port else f"{host}:{port}"
    return f"{SERVICE_PREFIX} {scheme}://{netloc}"


class KeyringUnavailable(ApiError):
    """No usable system keyring: keys cannot be stored or read until the user sets one up."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            code=KEYRING_UNAVAILABLE,
            message=(
                "No system keyring is available, so Reelsmith cannot store or read API keys. "
                "Install and unlock a keyring (GNOME Keyring or KWallet on Linux; the login "
                f"keychain on macOS; Windows Credential Manager), then try again. ({reason})"
            ),
            category=Category.CREDENTIALS,
            actions=(Action.SET_UP_KEYRING, Action.COPY_DETAILS),
        )


def _usable_backend() -> keyring.backend.KeyringBackend:
    backend = keyring.get_keyring()
    # The `fail` backend (priority 0) is what keyring picks when nothing real is installed.
    if type(backend).__module__ == "keyring.backends.fail":
        raise KeyringUnavailable("no keyring backend is installed")
    return backend


class KeyStore:
    """API keys per service URL in the OS keyring."""

    def __init__(self, username: str = KEY_USERNAME) -> None:
        self._username = username

    def get(self, base_url: str) -> str | None:
        """The stored key for this server, or None when none is stored."""
        try:
            key = _usable_backend().get_password(service_name(base_url), self._username)
        except keyring.errors.KeyringLocked as exc:
            raise KeyringUnavailable("the keyring is locked") from _scrubbed(exc)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from _scrubbed(exc)
        if key is not None:
            remember_secret(key)
        return key

    def set(self, base_url: str, key: str) -> None:
        """Store (or replace) the key for this server."""
        key = key.strip()
        remember_secret(key)
        try:
            _usable_backend().set_password(service_name(base_url), self._username, key)
        except keyring.errors.KeyringLocked as exc:
            raise KeyringUnavailable("the keyring is locked") from _scrubbed(exc)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from _scrubbed(exc)

    def delete(self, base_url: str) -> bool:
        """Remove the key for this server; False if there was none."""
        try:
            _usable_backend().delete_password(service_name(base_url), self._username)
        except keyring.errors.PasswordDeleteError:
            return False
        except keyring.errors.KeyringLocked as exc:
            raise KeyringUnavailable("the keyring is locked") from _scrubbed(exc)
        except keyring.errors.KeyringError as exc:
            raise KeyringUnavailable(type(exc).__name__) from _scrubbed(exc)
        return True


def _scrubbed(exc: BaseException) -> RuntimeError:
    """A stand-in cause whose text is redacted: backend messages may echo the password."""
    return RuntimeError(redact(f"{type(exc).__name__}: {exc}"))


__all__ = [
    "KeyMode",
    "KeyStore",
    "KeyringUnavailable",
    "RedactingFilter",
    "forget_secrets",
    "install_log_redaction",
    "key_mode",
    "mask_key",
    "service_name",
]


TEST_KEY_USERNAME = f"{KEY_USERNAME}:test"
#: The Sketchpen (AI drafts) keys of the same server sit under their own names.
SKETCHPEN_KEY_USERNAME = "sketchpen-key"
SKETCHPEN_TEST_KEY_USERNAME = f"{SKETCHPEN_KEY_USERNAME}:test"


def adopt_default_account(keys_file: Path, base_url: str) -> bool:
    """Move the local service's default-account keys from its private `keys_file` into the
    keyring (live key as this server's key, test key beside it, and the Sketchpen keys under
    `SKETCHPEN_KEY_USERNAME` / `SKETCHPEN_TEST_KEY_USERNAME` when the file has them), then
    delete the file.

    The local service writes that file on its first start because it must not touch the
    keyring itself. Returns False when there is no file. If the keyring cannot take the keys,
    `KeyringUnavailable` is raised and the file stays, so the keys are never lost."""
    try:
        data = json.loads(keys_file.read_text("utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        raise ValueError(f"{keys_file}: not a readable keys file ({type(exc).__name__})") from None
    live, test = data.get("live_key"), data.get("test_key")
    if not isinstance(live, str) or not isinstance(test, str):
        raise ValueError(f"{keys_file}: live_key and test_key are missing")
    sketch_live, sketch_test = data.get("sketchpen_live_key"), data.get("sketchpen_test_key")
    KeyStore().set(base_url, live)
    KeyStore(TEST_KEY_USERNAME).set(base_url, test)
    if isinstance(sketch_live, str):
        KeyStore(SKETCHPEN_KEY_USERNAME).set(base_url, sketch_live)
    if isinstance(sketch_test, str):
        KeyStore(SKETCHPEN_TEST_KEY_USERNAME).set(base_url, sketch_test)
    keys_file.unlink()
    return True
