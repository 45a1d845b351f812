from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A local webhook receiver; set `.status` to change its answer."""
    with Receiver() as running:
        yield running
