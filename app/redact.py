"""Scrubbing secrets out of text before it reaches a log, an exception or the clipboard.

Lives apart from `service/keys.py` (which needs the keyring) and below every layer, so that the
client's errors and the local service's logs (`server/serve.py`) redact with the same rules.
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "[redacted]"

# Vendor key shapes (PhantomFlow ve_live_/ve_test_, Sketchpen sk_live_/sk_test_), webhook secrets
# (pfwh_, whsec_), anything sent as an x-api-key header value or "api_key=" parameter, and the
# credentials a URL can carry (a user-supplied callback URL is logged when its delivery fails):
# the password of `scheme://user:password@host`, and token-like query parameters.
_SECRET_PATTERNS = (
    re.compile(r"\b(?:ve|sk)_(?:live|test)_[A-Za-z0-9_\-]{4,}"),
    re.compile(r"\b(?:pfwh|whsec)_[A-Za-z0-9]{8,}"),
    re.compile(
        r"(?i)((?:x-api-key|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)([^\s\"',;}&]{4,})",
    ),
    re.compile(r"(://[^\s/@:]+:)([^\s/@]+)(?=@)"),
    re.compile(
        r"(?i)([?&](?:access_token|auth|code|key|password|secret|sig|signature|token)=)"
        r"([^&#\s]+)"
    ),
)

_known: set[str] = set()
_known_lock = threading.Lock()


def remember_secret(secret: str) -> None:
    """Redact this exact string from now on, even if it does not look like a known key shape.

    Keys read from the keyring are registered here, so a hosted vendor's key with an unusual
    format is still scrubbed from logs and error texts.
    """
    if len(secret) >= 6:
        with _known_lock:
            _known.add(secret)


def forget_secrets() -> None:
    """Drop the registered exact secrets (tests; a key was deleted)."""
    with _known_lock:
        _known.clear()


def redact(text: str) -> str:
    """`text` with every key-like or registered secret replaced by `[redacted]`."""
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern in _SECRET_PATTERNS:
        if pattern.groups == 2:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """Redacts key-like strings from a record's message, arguments, exception and stack text.

    Attach it to *handlers* (`install_log_redaction`): a logger's own filters do not see records
    that propagate from child loggers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> RedactingFilter:
    """Add one `RedactingFilter` to every handler of `logger` (the root logger by default)."""
    target = logger or logging.getLogger()
    redactor = RedactingFilter()
    for handler in target.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redactor)
    return redactor
