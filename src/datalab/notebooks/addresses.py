"""Where the notebooks live on the network, computed from the settings alone.

Kept free of JupyterHub imports so that the web layer (the portal's link to the hub)
and the ``serve`` command can ask without loading the hub's stack.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from datalab.config import Settings

__all__ = ["datalab_url", "notebooks_enabled", "notebooks_port", "notebooks_url"]

_WILDCARDS = {"", "0.0.0.0", "::", "[::]"}


def notebooks_enabled(settings: Settings) -> bool:
    """Whether ``datalab serve`` starts the hub: the ``notebooks`` setting, or when it is
    unset, the ``demo`` setting (a laptop trying the demo gets notebooks too; a site
    that configures its own data chooses)."""
    return settings.demo if settings.notebooks is None else settings.notebooks


def notebooks_port(settings: Settings) -> int | None:
    """The hub's public port: ``notebooks_port``, else the server's port + 1; None when
    neither gives one (the server on port 0 or 65535 and no ``notebooks_port``)."""
    if settings.notebooks_port is not None:
        return settings.notebooks_port
    if 0 < settings.port < 65535:
        return settings.port + 1
    return None


def _url_host(host: str) -> str:
    """A host as it is written in a URL (IPv6 literals in brackets)."""
    try:
        if ipaddress.ip_address(host.strip("[]")).version == 6:
            return f"[{host.strip('[]')}]"
    except ValueError:
        pass
    return host


def notebooks_url(settings: Settings, host: str | None = None) -> str | None:
    """The hub's public URL, ending in ``/``, or None when notebooks are off.

    ``notebooks_public_url`` wins when set (a reverse proxy in front). Otherwise the
    hub listens on the server's address at ``notebooks_port``: when that address is a
    wildcard (``0.0.0.0``, ``::``) the URL needs a name users can reach, so ``host``
    (the host name a request came in on, for the web layer) is used, else the host of
    ``base_url``, else the loopback address.
    """
    if not notebooks_enabled(settings):
        return None
    if settings.notebooks_public_url:
        return settings.notebooks_public_url.rstrip("/") + "/"
    port = notebooks_port(settings)
    if port is None:
        return None
    name = settings.host
    if name in _WILDCARDS:
        name = host or urlsplit(settings.base_url or "").hostname or "127.0.0.1"
    scheme = "https" if settings.ssl_certfile else "http"
    return f"{scheme}://{_url_host(name)}:{port}/"


def datalab_url(settings: Settings) -> str:
    """The Data Lab server's base URL as the notebooks reach it (``DATALAB_URL`` in
    every notebook server): the address it listens on, a wildcard read as loopback.
    Not ``base_url``: the kernels run on this machine, and a reverse proxy in front
    need not be reachable (or trusted) from it."""
    name = settings.host
    if name in _WILDCARDS:
        name = "::1" if ":" in name else "127.0.0.1"
    scheme = "https" if settings.ssl_certfile else "http"
    return f"{scheme}://{_url_host(name)}:{settings.port}"
