"""Deliver webhooks from the durable outbox: signed, retried with backoff for 24 hours,
then dead-lettered for a replay."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import httpx

from tidings.core.clock import Clock, to_utc
from tidings.core.crypto import Crypto, KeyUnavailable
from tidings.pipeline.metrics import Metrics
from tidings.pipeline.webhook_destinations import DestinationRefused, WebhookDestinations
from tidings.store import accounts as account_store
from tidings.store import webhooks as webhook_store
from tidings.store.database import Database

log = logging.getLogger("tidings.webhooks")
SIGNATURE_HEADER = "X-Tidings-Signature"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: datetime, tolerance_seconds: int = 300
) -> bool:
    """What a receiver runs: check the signature and that the timestamp is recent."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(now.timestamp() - timestamp) > tolerance_seconds:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def next_delay(attempts: int, base: float = 10.0, cap: float = 3600.0) -> float:
    """Exponential backoff with jitter: about 10 s, 20 s, 40 s ... capped at an hour."""
    return min(base * 2.0 ** (attempts - 1), cap) * random.uniform(0.5, 1.0)


class WebhookSender:
    def __init__(
        self,
        db: Database,
        crypto: Crypto,
        clock: Clock,
        metrics: Metrics,
        *,
        timeout_seconds: float,
        max_age_seconds: float,
        destinations: WebhookDestinations,
        per_account: int = 10,
    ) -> None:
        self._db = db
        self._crypto = crypto
        self._clock = clock
        self._metrics = metrics
        self._max_age = timedelta(seconds=max_age_seconds)
        self._timeout = timeout_seconds
        self._client = httpx.AsyncClient(
            timeout=timeout_seconds, transport=destinations.transport(), follow_redirects=False
        )
        self._secrets: dict[str, str] = {}
        self.poll_seconds = 0.2
        self.concurrency = 50  # deliveries in flight at once
        self.per_account = per_account  # of which one account's at most
        self._in_flight: Counter[str] = Counter()  # account id -> its deliveries under way
        self._finished = asyncio.Event()

    async def run(self) -> None:
        """Deliver continuously: a slot freed by one delivery is taken by the next due one,
        whatever the others are waiting for (a receiver that never answers holds its own
        delivery, up to the timeout, and nobody else's)."""
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                free = self.concurrency - len(tasks)
                deliveries: list[Any] = []
                self._finished.clear()  # before the claim: a delivery ending during it counts
                if free > 0:
                    try:
                        deliveries = await self._claim(free)
                    except Exception:
                        log.exception("claiming webhook deliveries failed")
                for delivery in deliveries:
                    task = asyncio.create_task(self._deliver_counted(delivery))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if not deliveries:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._finished.wait(), self.poll_seconds)
        finally:
            # Cut off at stop: their leases run out and they are delivered again.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def run_once(self) -> int:
        """One claim, delivered to the end (for tests and tools)."""
        deliveries = await self._claim(self.concurrency)
        await asyncio.gather(*(self._deliver_counted(d) for d in deliveries))
        return len(deliveries)

    async def close(self) -> None:
        await self._client.aclose()

    async def _claim(self, limit: int) -> list[Any]:
        """Lease due deliveries and count them in flight (on the event loop, which alone
        touches the count)."""
        deliveries = await asyncio.to_thread(self._lease, limit, dict(self._in_flight))
        for delivery in deliveries:
            self._in_flight[delivery.account_id] += 1
        return deliveries

    def _lease(self, limit: int, in_flight: dict[str, int]) -> list[Any]:
        now = self._clock.now()
        with self._db.write() as conn:
            return webhook_store.claim_due(
                conn,
                now=now,
                limit=limit,
                lease_until=now + timedelta(minutes=2),
                skip_locked=not self._db.is_sqlite,
                per_account=self.per_account,
                in_flight=in_flight,
            )

    async def _deliver_counted(self, delivery: Any) -> None:
        try:
            await self._deliver(delivery)
        except Exception:
            # Its lease runs out and it is claimed again.
            log.exception("webhook delivery %s failed to be recorded", delivery.id)
        finally:
            self._in_flight[delivery.account_id] -= 1
            if self._in_flight[delivery.account_id] <= 0:
                del self._in_flight[delivery.account_id]
            self._finished.set()

    def _secret(self, account_id: str) -> str:
        secret = self._secrets.get(account_id)
        if secret is None:
            with self._db.read() as conn:
                row = account_store.get_account(conn, account_id)
            if row is None:
                raise KeyUnavailable(account_id)
            secret = self._crypto.decrypt(
                account_id, "accounts.webhook_secret", row.webhook_secret_enc
            )
            self._secrets[account_id] = secret
        return secret

    def forget_secret(self, account_id: str) -> None:
        self._secrets.pop(account_id, None)

    async def _deliver(self, delivery: Any) -> None:
        error: str | None = None
        refused = False
        try:
            body = self._crypto.decrypt(
                delivery.account_id, "webhook_deliveries.payload", delivery.payload_enc
            ).encode()
            secret = await asyncio.to_thread(self._secret, delivery.account_id)
            timestamp = int(self._clock.now().timestamp())
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, timestamp, body),
                "User-Agent": "Tidings-Webhooks/1",
                "X-Tidings-Delivery": delivery.id,
            }
            # The answer's status is all that counts. Its body is never read (a receiver
            # could send gigabytes), and the whole exchange has one deadline, not one per
            # read (a receiver dripping a byte at a time would hold the sender for ever).
            async with (
                asyncio.timeout(self._timeout),
                self._client.stream("POST", delivery.url, content=body, headers=headers) as answer,
            ):
                status = answer.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except TimeoutError:
            error = f"no answer within {self._timeout:g} s"
        except KeyUnavailable:
            error = "the payload's data was erased"
        except DestinationRefused as exc:
            # Not retried: it is the URL or the operator's settings that must change, and a
            # replay from the failures sends it again once they have.
            error, refused = f"refused: {exc}"[:500], True
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # InvalidURL is no HTTPError: uncaught, it would fail every round it is claimed in
            error = f"{type(exc).__name__}: {exc}"[:500]
        self._metrics.webhooks.labels("ok" if error is None else "error").inc()
        await asyncio.to_thread(self._record, delivery, error, refused)

    def _record(self, delivery: Any, error: str | None, refused: bool = False) -> None:
        now = self._clock.now()
        attempts = delivery.attempts + 1
        if error is None:
            state, next_at, delivered = "delivered", now, now
        else:
            next_at = now + timedelta(seconds=next_delay(attempts))
            expired = refused or next_at > to_utc(delivery.created_at) + self._max_age
            state, delivered = ("dead" if expired else "pending"), None
            if expired:
                next_at = now  # no next attempt: the API shows this as the last attempt's time
        with self._db.write() as conn:
            webhook_store.record_attempt(
                conn,
                delivery.id,
                state=state,
                attempts=attempts,
                next_attempt_at=next_at,
                last_error=error,
                delivered_at=delivered,
            )
