"""HTTP edges: the app factory and one router module per protocol."""

from datalab.web.app import create_app

__all__ = ["create_app"]
