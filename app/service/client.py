"""What every service client shares: set-up (key, retry policy, account state, HTTP client),
its key (shown masked only), `async with`, closing, and a few helpers."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable
from importlib import metadata
from typing import Self
from urllib.parse import urlsplit

import httpx

from app.redact import remember_secret
from app.service.errors import ApiError, NotOffered
from app.service.keys import KeyMode, key_mode, mask_key
from app.service.limits import AccountState
from app.service.retry import OnWait, RequestKind, Retrier, RetryPolicy, Sleep

DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)


def client_version() -> str:
    """This package's version, for the User-Agent ("dev" when run from a source tree)."""
    try:
        return metadata.version("reelsmith")
    except metadata.PackageNotFoundError:
        return "dev"


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port: the key goes only to its own origin."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


class ServiceClient:
    """Base of the PhantomFlow and Sketchpen clients; subclasses call `_setup` in __init__."""

    base_url: str
    _key: str
    _http: httpx.AsyncClient

    def _setup(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: httpx.Timeout | float,
        transport: httpx.AsyncBaseTransport | None,
        sleep: Sleep,
        retry_policy: RetryPolicy | None,
        on_wait: OnWait | None,
        account_state: AccountState | None,
        clock: Callable[[], float] = time.monotonic,
        relative_urls: bool = False,
    ) -> None:
        """The parts both clients set up alike. `relative_urls`: requests name paths below
        `base_url` (otherwise full URLs)."""
        self.base_url = base_url
        self._key = api_key.strip()
        remember_secret(self._key)
        self._fingerprint = hashlib.sha256(self._key.encode()).hexdigest()[:16]
        self._sleep = sleep
        self._clock = clock
        self.account_state = account_state or AccountState(key_mode(self._key))
        self.retrier = Retrier(retry_policy, sleep=sleep, on_wait=on_wait, clock=clock)
        self._single_try = Retrier(RetryPolicy(max_tries=1), sleep=sleep, clock=clock)
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._http = httpx.AsyncClient(
            base_url=base_url if relative_urls else "",
            timeout=self._timeout,
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": f"Reelsmith/{client_version()}"},
        )

    async def _delete(self, send: Callable[[], Awaitable[object]]) -> None:
        """Run the single-try DELETE `send` under the retry policy. A 404 on a retry means an
        earlier try landed and the answer was lost: done. (Not a NotOffered 404: the server has
        no such endpoint at all.)"""
        tries = 0

        async def attempt() -> None:
            nonlocal tries
            tries += 1
            try:
                await send()
            except ApiError as error:
                if tries > 1 and error.status == 404 and not isinstance(error, NotOffered):
                    return
                raise

        await self.retrier.run(attempt, kind=RequestKind.SAFE)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r}, key={mask_key(self._key)!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def key_mode(self) -> KeyMode:
        return key_mode(self._key)

    @property
    def masked_key(self) -> str:
        return mask_key(self._key)
