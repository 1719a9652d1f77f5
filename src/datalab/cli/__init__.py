"""The ``datalab`` command."""

from datalab.cli.main import cli, main

__all__ = ["cli", "main"]
