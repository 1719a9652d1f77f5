"""Where the client keeps its state: the same files, in the same shape, as the official
Data Lab client, so that either client can log in and the other use the token.

* ``<config dir>/dl.conf`` — INI: ``[login] status/user/authtoken`` and
  ``[auth]/[query]/[storage] profile, svc_url``;
* ``<config dir>/id_token.<user>`` — the raw token of ``user``.

The config directory is ``$DATALAB_CONFIG_DIR``, else ``~/.datalab`` (the official
client's fixed place). It is created when something is written, never at import.

The token of a call that gives none is ``$DATALAB_TOKEN`` when it holds a token (the
notebooks set it, so code there needs no login; like ``$DATALAB_URL``, it wins over
dl.conf), else the logged-in user's, as the official client finds it (``def_token``).

Service URLs are resolved per call, in this order: ``set_svc_url()`` in this process,
``$DATALAB_URL`` (a base such as ``http://127.0.0.1:8000``; ``/auth``, ``/query``,
``/storage`` are appended), the ``svc_url`` of the service's section in ``dl.conf``,
then ``http://127.0.0.1:8000/<service>`` (a local ``datalab serve``).
"""

from __future__ import annotations

import configparser
import contextlib
import getpass
import os
import re
import time
from pathlib import Path

__all__ = [
    "ANON_TOKEN",
    "DEFAULT_BASE_URL",
    "FIXED_TOKENS",
    "SERVICES",
    "config_dir",
    "def_token",
    "is_auth_token",
    "read_conf",
    "read_token_file",
    "record_login",
    "record_logout",
    "service_url",
    "set_service_url",
    "write_conf",
]

ANON_TOKEN = "anonymous.0.0.anon_access"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
SERVICES = ("auth", "query", "storage")

# The official client's accounts that log in without asking any server.
FIXED_TOKENS = {
    "anonymous": ANON_TOKEN,
    "dldemo": "dldemo.99999.99999.demo_access",
    "dltest": "dltest.99998.99998.test_access",
}

# The official client's test of a token (Util.parse_auth_token): a token that fails it
# is treated as no token at all, so ours must agree exactly.
_TOKEN = re.compile(r"^([^/\s]+)\.(\d+)\.(\d+)\.((?:\$1\$\S{22,})|(?:\S+_access))$")

# URLs set with set_svc_url() in this process: the caller's explicit choice wins.
_explicit_urls: dict[str, str] = {}


def config_dir() -> Path:
    """``$DATALAB_CONFIG_DIR`` or ``~/.datalab``; tests point the variable elsewhere."""
    configured = os.environ.get("DATALAB_CONFIG_DIR", "").strip()
    return Path(configured).expanduser() if configured else Path.home() / ".datalab"


def is_auth_token(value: object) -> bool:
    """Whether ``value`` has the shape of a Data Lab token (the official test)."""
    return isinstance(value, str) and _TOKEN.match(value.strip()) is not None


def token_user(token: str) -> str:
    """The user part of a token (the text before its first ``.``)."""
    return token.strip().split(".", 1)[0]


# -- dl.conf ---------------------------------------------------------------------------


def read_conf() -> configparser.RawConfigParser:
    """dl.conf as the official client reads it; empty when the file does not exist."""
    conf = configparser.RawConfigParser(allow_no_value=True)
    path = config_dir() / "dl.conf"
    if path.exists():
        # An unreadable or broken file is treated like a missing one: the user can
        # still pass tokens explicitly, and the next login rewrites it.
        with contextlib.suppress(configparser.Error, OSError, UnicodeDecodeError):
            conf.read(path, encoding="utf-8")
    return conf


def _with_defaults(conf: configparser.RawConfigParser) -> configparser.RawConfigParser:
    """Add the sections the official client writes on first use, so that its CLI (which
    reads ``[auth] svc_url`` & co. on every run) finds them in a file we created."""
    defaults: dict[str, dict[str, str]] = {
        "datalab": {"created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())},
        "login": {"status": "loggedout", "user": "", "authtoken": ""},
    }
    for service in SERVICES:
        defaults[service] = {"profile": "default", "svc_url": service_url(service)}
    defaults["vospace"] = {"mount": ""}
    for section, values in defaults.items():
        if not conf.has_section(section):
            conf.add_section(section)
        for key, value in values.items():
            if not conf.has_option(section, key):
                conf.set(section, key, value)
    return conf


def write_conf(conf: configparser.RawConfigParser) -> None:
    """Write dl.conf (owner-only: it holds a token), completing the default sections."""
    directory = config_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / "dl.conf"
    conf = _with_defaults(conf)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as fh:
        conf.write(fh)


def _conf_get(conf: configparser.RawConfigParser, section: str, key: str) -> str:
    try:
        return (conf.get(section, key) or "").strip()
    except (configparser.Error, ValueError):
        return ""


# -- tokens ----------------------------------------------------------------------------


def _token_path(user: str) -> Path | None:
    """The token file of ``user``; None for a name that is not a plain file name."""
    if not user or "/" in user or "\\" in user or user in (".", "..") or "\0" in user:
        return None
    return config_dir() / f"id_token.{user}"


def read_token_file(user: str) -> str | None:
    """The stored token of ``user``, or None when there is none."""
    path = _token_path(user)
    if path is None or not path.is_file():
        return None
    try:
        token = path.read_text(encoding="utf-8")[:512].strip()
    except (OSError, UnicodeDecodeError):
        return None
    return token or None


def record_login(user: str, token: str) -> None:
    """Store ``token`` as ``id_token.<user>`` and mark ``user`` logged in in dl.conf."""
    path = _token_path(user)
    if path is None:
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(token)
    conf = read_conf()
    if not conf.has_section("login"):
        conf.add_section("login")
    conf.set("login", "status", "loggedin")
    conf.set("login", "user", user)
    conf.set("login", "authtoken", token)
    write_conf(conf)


def record_logout(user: str) -> None:
    """Forget ``user``'s token; mark dl.conf logged out if it named that user."""
    path = _token_path(user)
    if path is not None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    conf = read_conf()
    if _conf_get(conf, "login", "user") == user or not conf.has_section("login"):
        if not conf.has_section("login"):
            conf.add_section("login")
        conf.set("login", "status", "loggedout")
        conf.set("login", "user", "")
        conf.set("login", "authtoken", "")
        if conf.has_section(user):
            conf.remove_section(user)
        write_conf(conf)


def _login_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def def_token(token: str | None) -> str:
    """The token a call sends, resolved as the official client does, after the
    environment.

    No token: ``$DATALAB_TOKEN`` if it holds a token-shaped value (any other value is
    ignored); else the logged-in user's ``id_token`` file when dl.conf says
    ``loggedin``; anonymous when it says otherwise; without dl.conf, the token file of
    the login user, if any. A token-shaped string is used as given. A bare user name
    (no ``.``) reads that user's token file. Anything else is anonymous.
    """
    if token is None or not str(token).strip():
        from_env = os.environ.get("DATALAB_TOKEN", "").strip()
        if from_env and is_auth_token(from_env):
            return from_env
        path = config_dir() / "dl.conf"
        if path.exists():
            conf = read_conf()
            if _conf_get(conf, "login", "status") == "loggedin":
                return read_token_file(_conf_get(conf, "login", "user")) or ANON_TOKEN
            return ANON_TOKEN
        return read_token_file(_login_user()) or ANON_TOKEN
    token = str(token).strip()
    if is_auth_token(token):
        return token
    if "." not in token:
        return read_token_file(token) or ANON_TOKEN
    return ANON_TOKEN


# -- service URLs ----------------------------------------------------------------------


def set_service_url(service: str, url: str) -> None:
    """Use ``url`` for ``service`` in this process (trailing ``/`` dropped)."""
    _explicit_urls[service] = url.strip().rstrip("/")


def service_url(service: str) -> str:
    """The root URL of ``service`` (``auth``, ``query``, ``storage``); see the module
    docstring for the order of precedence."""
    if service in _explicit_urls:
        return _explicit_urls[service]
    base = os.environ.get("DATALAB_URL", "").strip().rstrip("/")
    if base:
        return f"{base}/{service}"
    configured = _conf_get(read_conf(), service, "svc_url")
    if configured:
        return configured.rstrip("/")
    return f"{DEFAULT_BASE_URL}/{service}"
