"""What every service client shares: its key (shown masked only), `async with`, closing."""

from __future__ import annotations

from typing import Self

import httpx

from app.service.keys import KeyMode, key_mode, mask_key


class ServiceClient:
    """Base of the PhantomFlow and Sketchpen clients; subclasses set these three in __init__."""

    base_url: str
    _key: str
    _http: httpx.AsyncClient

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
