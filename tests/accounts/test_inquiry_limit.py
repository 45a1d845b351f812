"""The inquiry form's limit per client address holds across API processes and restarts:
it is counted in the database, in the transaction that stores the inquiry."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tidings.accounts.inquiries import InquiryService, RateLimited
from tidings.core.clock import ManualClock
from tidings.runtime import Runtime
from tidings.store.tables import inquiries

FORM: dict[str, str | None] = {
    "name": "Jane Prospect",
    "email": "jane@prospect.example",
    "message": "How much for 10,000 SMS a month?",
}
ADDRESS = {"ip": "203.0.113.7"}


def _stored(runtime: Runtime) -> int:
    with runtime.db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(inquiries)).scalar_one())


def _process(runtime: Runtime) -> InquiryService:
    """The service as another API process (or the same one after a restart) has it."""
    return InquiryService(runtime.db, runtime.crypto, runtime.clock)


def test_processes_share_one_count_and_a_refusal_stores_nothing(
    runtime: Runtime, clock: ManualClock
) -> None:
    first, second = _process(runtime), _process(runtime)
    for service in (first, second, first, second, first):
        service.submit(FORM, ADDRESS)
    for service in (first, second, _process(runtime)):
        with pytest.raises(RateLimited):
            service.submit(FORM, ADDRESS)
    assert _stored(runtime) == 5
    second.submit(FORM, {"ip": "198.51.100.20"})  # another address has its own count
    clock.advance(timedelta(minutes=10))
    first.submit(FORM, ADDRESS)  # the first five are out of the window
    assert _stored(runtime) == 7


def test_requests_at_once_from_one_address_store_no_more_than_the_limit(
    runtime: Runtime,
) -> None:
    services = [_process(runtime) for _ in range(4)]

    def attempt(n: int) -> bool:
        try:
            services[n % 4].submit(FORM, ADDRESS)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert outcomes.count(True) == 5
    assert _stored(runtime) == 5
