"""The web portal's templates and static assets."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

__all__ = ["STATIC", "TEMPLATES", "render"]

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda n: "" if n is None else f"{n:,}"
    return env


def render(template: str, **context: Any) -> str:
    """Render a portal template; every value is HTML-escaped unless marked safe."""
    return _environment().get_template(template).render(**context)
