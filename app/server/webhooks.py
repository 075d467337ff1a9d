"""Webhook delivery (spec §6): signed POSTs with retries, persisted so none is lost on restart.

Each delivery is a row in the store holding the exact body bytes, so every attempt sends
identical bytes and the signature (`X-PhantomFlow-Signature: sha256=<hex>`, HMAC-SHA256 of the raw
body keyed with the account's `webhook_secret`) matches each time. A delivery runs on its own
thread: a receiver that stalls for the 10 s timeout delays only its own webhook. Deliveries still
pending when the service stops are resumed on the next start.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from typing import Any

import httpx

from app.server.config import ServiceConfig
from app.server.store import Delivery, Job, Store

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-PhantomFlow-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value for `body`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(job: Job, output_url: str | None) -> bytes:
    """The documented body: completed → result fields, failed → error. Nothing else."""
    payload: dict[str, Any]
    if job.status == "completed":
        payload = {
            "job_id": job.id,
            "status": job.status,
            "output_url": output_url,
            "duration_seconds": job.duration_seconds,
            "credits_used": job.credits_used,
        }
    else:
        payload = {
            "job_id": job.id,
            "status": job.status,
            "error": {"code": job.error_code, "message": job.error_message},
        }
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


class WebhookSender:
    """Sends webhooks in the background; `stop()` abandons waits (pending rows stay pending)."""

    def __init__(self, store: Store, config: ServiceConfig) -> None:
        self.store = store
        self.config = config
        self._stop = threading.Event()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        """Resume deliveries a previous process left pending."""
        for delivery in self.store.deliveries(state="pending"):
            self._spawn(delivery)

    def job_ended(self, job: Job, output_url: str | None) -> None:
        """Queue the webhook for a completed or failed job that asked for one."""
        if job.webhook_uri is None or job.status not in ("completed", "failed"):
            return
        delivery_id = self.store.add_delivery(job, webhook_body(job, output_url))
        for delivery in self.store.deliveries(job_id=job.id, state="pending"):
            if delivery.id == delivery_id:
                self._spawn(delivery)

    def _spawn(self, delivery: Delivery) -> None:
        if self._stop.is_set():
            return
        thread = threading.Thread(
            target=self._deliver, args=(delivery,), name=f"webhook-{delivery.id}", daemon=True
        )
        with self._lock:
            self._threads.add(thread)
        thread.start()

    def _deliver(self, delivery: Delivery) -> None:
        try:
            secret = self.store.get_account(delivery.account_id).webhook_secret
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, delivery.body),
                "User-Agent": "reelsmith-local-service",
            }
            delays = self.config.webhook_delays
            attempt = delivery.attempts
            with httpx.Client(timeout=self.config.webhook_timeout, follow_redirects=False) as c:
                while attempt <= len(delays) and not self._stop.is_set():
                    if attempt > 0 and self._stop.wait(delays[attempt - 1]):
                        return
                    attempt += 1
                    status: int | None = None
                    error: str | None = None
                    try:
                        response = c.post(delivery.url, content=delivery.body, headers=headers)
                        status = response.status_code
                    except httpx.HTTPError as exc:
                        error = f"{type(exc).__name__}: {exc}"[:500]
                    if status is not None and 200 <= status < 300:
                        self.store.record_attempt(
                            delivery.id, state="delivered", status=status, error=None
                        )
                        return
                    final = attempt > len(delays)
                    self.store.record_attempt(
                        delivery.id,
                        state="failed" if final else "pending",
                        status=status,
                        error=error or f"HTTP {status}",
                    )
        except Exception:  # a webhook never takes the service down; the job is unaffected
            log.exception("webhook delivery %s crashed", delivery.id)
        finally:
            with self._lock:
                self._threads.discard(threading.current_thread())

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
