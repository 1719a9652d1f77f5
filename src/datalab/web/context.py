"""What a request handler may use, built once per application in its lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from datalab.catalog import Engine
from datalab.config import Settings
from datalab.errors import TransientError

__all__ = ["Services", "services"]


@dataclass
class Services:
    """Long-lived resources of one application instance (one data directory)."""

    settings: Settings
    engine: Engine

    def close(self) -> None:
        self.engine.close()


def services(request: Request) -> Services:
    """Dependency: the application's services, or 503 while it is starting or stopping."""
    found: Services | None = getattr(request.app.state, "services", None)
    if found is None:
        raise TransientError("the server is starting or stopping; try again in a moment")
    return found
