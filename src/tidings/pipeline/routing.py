"""The routing table: destination prefix -> connectors, most specific and highest priority first."""

from __future__ import annotations

from collections.abc import Sequence

from tidings.core.config import RouteConfig


class Router:
    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self.replace(routes)

    def replace(self, routes: Sequence[RouteConfig]) -> None:
        """Swap the whole table at once (routes changed at runtime)."""
        self._routes = sorted(routes, key=lambda r: (-len(r.prefix), -r.priority))

    def candidates(self, to: str) -> list[str]:
        """Connectors to try for `to`, in order; later ones are fallbacks."""
        seen: list[str] = []
        for route in self._routes:
            if to.startswith(route.prefix) and route.connector not in seen:
                seen.append(route.connector)
        return seen
