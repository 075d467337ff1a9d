"""Clients of render services (httpx, no Qt): errors, retry, account limits, keys."""
