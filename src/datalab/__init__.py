"""Data Lab: a self-hosted astronomical science platform."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("datalab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"

__all__ = ["__version__"]
