from __future__ import annotations

from tests.api.conftest import receiver

__all__ = ["receiver"]
