"""Keys live in the keyring, show masked, never reach a log, and a missing keyring is an error."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import keyring
import keyring.backend
import keyring.backends.fail
import keyring.errors
import pytest

from app.redact import forget_secrets, redact
from app.service.errors import Action, Category
from app.service.keys import (
    KeyMode,
    KeyringUnavailable,
    KeyStore,
    RedactingFilter,
    install_log_redaction,
    key_mode,
    mask_key,
    service_name,
)

LIVE = "ve_live_0123456789abcdef0123456789abcdef"
TEST = "ve_test_fedcba9876543210fedcba9876543210"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A real keyring backend that keeps passwords in a dict."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.store:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.store[(service, username)]


class LockedKeyring(MemoryKeyring):
    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked(f"locked while reading {LIVE}")


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)
    forget_secrets()


def test_round_trip_per_service_url(memory_keyring: MemoryKeyring) -> None:
    store = KeyStore()
    store.set("https://api.phantomflow.dev/", LIVE)
    store.set("http://127.0.0.1:48213", TEST)
    assert store.get("https://api.phantomflow.dev") == LIVE
    assert store.get("https://API.phantomflow.dev:443/api") == LIVE
    assert store.get("http://127.0.0.1:48213") == TEST
    assert store.get("http://127.0.0.1:9999") is None
    assert ("Reelsmith https://api.phantomflow.dev", "api-key") in memory_keyring.store
    assert store.delete("https://api.phantomflow.dev")
    assert store.get("https://api.phantomflow.dev") is None
    assert not store.delete("https://api.phantomflow.dev")


def test_stored_keys_with_odd_shapes_are_redacted_after_reading(
    memory_keyring: MemoryKeyring,
) -> None:
    odd = "HOSTEDKEY-9f8e7d6c5b4a"
    memory_keyring.store[(service_name("https://x.example"), "api-key")] = odd
    assert KeyStore().get("https://x.example") == odd
    assert odd not in redact(f"sending {odd}")


def test_missing_keyring_backend_is_an_actionable_error() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(keyring.backends.fail.Keyring())
    try:
        with pytest.raises(KeyringUnavailable) as caught:
            KeyStore().get("https://api.phantomflow.dev")
        with pytest.raises(KeyringUnavailable):
            KeyStore().set("https://api.phantomflow.dev", LIVE)
    finally:
        keyring.set_keyring(previous)
    error = caught.value
    assert error.category is Category.CREDENTIALS
    assert error.actions[0] is Action.SET_UP_KEYRING
    assert "No system keyring is available" in error.message
    assert "install" in error.message.lower() and "unlock" in error.message.lower()


def test_locked_keyring_is_an_error_without_the_key() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(LockedKeyring())
    try:
        with pytest.raises(KeyringUnavailable) as caught:
            KeyStore().get("https://api.phantomflow.dev")
    finally:
        keyring.set_keyring(previous)
    error = caught.value
    assert "locked" in error.message
    assert LIVE not in str(error.__cause__)
    assert LIVE not in error.details_text()


@pytest.mark.parametrize(
    ("key", "mode"),
    [
        (LIVE, KeyMode.LIVE),
        (TEST, KeyMode.TEST),
        ("sk_live_abc", KeyMode.LIVE),
        ("sk_test_abc", KeyMode.TEST),
        ("something-else", KeyMode.UNKNOWN),
        ("VE_LIVE_abc", KeyMode.UNKNOWN),
    ],
)
def test_mode_detection(key: str, mode: KeyMode) -> None:
    assert key_mode(key) is mode


def test_masking() -> None:
    assert mask_key(LIVE) == "ve_live_…cdef"
    assert mask_key("sk_test_0123456789abcdefa1b2") == "sk_test_…a1b2"
    assert mask_key("ve_live_short") == "ve_live_…"
    assert mask_key("abc") == "…"


def log_through_filter(message: str, *args: object, exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("reelsmith.test.redaction")
    logger.handlers = [handler]
    logger.propagate = False
    install_log_redaction(logger)
    child = logging.getLogger("reelsmith.test.redaction.child")
    if exc is not None:
        try:
            raise exc
        except BaseException:
            child.exception(message, *args)
    else:
        child.warning(message, *args)
    return stream.getvalue()


def test_log_filter_redacts_message_args_and_exceptions() -> None:
    text = log_through_filter("sending key %s to %s", LIVE, "https://api.phantomflow.dev")
    assert LIVE not in text
    assert "[redacted]" in text and "https://api.phantomflow.dev" in text
    text = log_through_filter("failed", exc=RuntimeError(f"header x-api-key: {TEST}"))
    assert TEST not in text and "RuntimeError" in text
    text = log_through_filter("headers %r", {"x-api-key": "opaque-hosted-key-123"})
    assert "opaque-hosted-key-123" not in text
    text = log_through_filter("secret pfwh_5c0d8e2b9a7f41d3b6e0c4a1f2d9e7b3 and sk_live_abcd1234")
    assert "pfwh_5c0d" not in text and "sk_live_abcd1234" not in text


def test_credentials_in_urls_are_redacted() -> None:
    text = redact(
        "callback to https://hook:s3cr3t-pass@example.com/cb?job=7&token=abc123XYZ&sig=ff00 failed"
    )
    assert "s3cr3t-pass" not in text and "abc123XYZ" not in text and "ff00" not in text
    assert "https://hook:[redacted]@example.com/cb?job=7&token=[redacted]&sig=[redacted]" in text
    # Ordinary URLs and query parameters are left alone.
    plain = "GET https://cdn.example.com/a.mp4?width=320&t=5 from http://127.0.0.1:8000/x"
    assert redact(plain) == plain


def test_filter_is_attached_once_per_handler() -> None:
    logger = logging.getLogger("reelsmith.test.once")
    logger.handlers = [logging.NullHandler()]
    install_log_redaction(logger)
    install_log_redaction(logger)
    assert sum(isinstance(f, RedactingFilter) for f in logger.handlers[0].filters) == 1


def test_default_account_keys_move_into_the_keyring_and_the_file_goes(
    memory_keyring: MemoryKeyring, tmp_path
) -> None:
    from app.server.accounts import write_private_json
    from app.service.keys import TEST_KEY_USERNAME, adopt_default_account

    keys_file = tmp_path / "default-account.json"
    write_private_json(keys_file, {"account_id": "a", "live_key": LIVE, "test_key": TEST})
    assert adopt_default_account(keys_file, "http://127.0.0.1:48213") is True
    assert KeyStore().get("http://127.0.0.1:48213") == LIVE
    assert KeyStore(TEST_KEY_USERNAME).get("http://127.0.0.1:48213") == TEST
    assert not keys_file.exists()
    assert adopt_default_account(keys_file, "http://127.0.0.1:48213") is False


def test_default_account_sketchpen_keys_reach_the_keyring_too(
    memory_keyring: MemoryKeyring, tmp_path
) -> None:
    from app.server.accounts import write_private_json
    from app.service.keys import (
        SKETCHPEN_KEY_USERNAME,
        SKETCHPEN_TEST_KEY_USERNAME,
        adopt_default_account,
    )

    sketch_live, sketch_test = "sk_live_" + "1" * 32, "sk_test_" + "2" * 32
    keys_file = tmp_path / "default-account.json"
    write_private_json(
        keys_file,
        {
            "live_key": LIVE,
            "test_key": TEST,
            "sketchpen_live_key": sketch_live,
            "sketchpen_test_key": sketch_test,
        },
    )
    assert adopt_default_account(keys_file, "http://127.0.0.1:48213") is True
    assert KeyStore(SKETCHPEN_KEY_USERNAME).get("http://127.0.0.1:48213") == sketch_live
    assert KeyStore(SKETCHPEN_TEST_KEY_USERNAME).get("http://127.0.0.1:48213") == sketch_test
    assert KeyStore().get("http://127.0.0.1:48213") == LIVE


def test_default_account_keys_stay_on_disk_when_the_keyring_is_locked(tmp_path) -> None:
    from app.server.accounts import write_private_json
    from app.service.keys import adopt_default_account

    keys_file = tmp_path / "default-account.json"
    write_private_json(keys_file, {"live_key": LIVE, "test_key": TEST})

    class RefusingKeyring(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise keyring.errors.KeyringLocked("locked")

    previous = keyring.get_keyring()
    keyring.set_keyring(RefusingKeyring())
    try:
        with pytest.raises(KeyringUnavailable):
            adopt_default_account(keys_file, "http://127.0.0.1:48213")
    finally:
        keyring.set_keyring(previous)
    assert keys_file.exists()
