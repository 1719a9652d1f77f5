"""Log in and out of a Data Lab: the official ``dl.authClient`` functions, same names.

``login()`` keeps the official contract — it returns the token, or on failure the
error text (which does not look like a token; test it with :func:`isValidToken`) —
because seed code relies on it. Pass ``raise_errors=True`` to get a
:class:`dlAuthError` instead. Tokens and the login state go where the official
client keeps them (see ``datalab.client._config``), so both clients share a login.
"""

from __future__ import annotations

import httpx

from datalab.client._config import (
    FIXED_TOKENS,
    def_token,
    is_auth_token,
    read_token_file,
    record_login,
    record_logout,
    service_url,
    set_service_url,
    token_user,
)
from datalab.client._http import alive, call, dlAuthError

__all__ = [
    "dlAuthError",
    "get_svc_url",
    "isAlive",
    "isTokenLoggedIn",
    "isUserLoggedIn",
    "isValidToken",
    "isValidUser",
    "login",
    "logout",
    "set_svc_url",
    "whoAmI",
]


def set_svc_url(svc_url: str) -> None:
    """Use ``svc_url`` (e.g. ``http://host:8000/auth``) for the auth service."""
    set_service_url("auth", svc_url)


def get_svc_url() -> str:
    """The auth service URL in use."""
    return service_url("auth")


def isAlive(svc_url: str | None = None) -> bool:  # noqa: N802 - the official name
    """Whether the auth service (or ``svc_url``) answers its liveness check."""
    return alive(svc_url or get_svc_url())


def _ask_bool(verb: str, **params: str) -> bool:
    """A yes/no call; any failure counts as no, as in the official client."""
    try:
        response = call("auth", verb, token=None, params=params, error=dlAuthError)
    except dlAuthError:
        return False
    return response.text.strip().lower() == "true"


def _login(user: str, password: str | None) -> str:
    if user in FIXED_TOKENS:
        return FIXED_TOKENS[user]
    if password is None:
        # The official client reuses a stored, still valid token when no password is given.
        stored = read_token_file(user)
        if stored and stored.startswith(user + ".") and isValidToken(stored):
            return stored
        raise dlAuthError("Error: no password given and no valid stored token for " + user)
    root = get_svc_url()
    try:
        response = httpx.get(
            f"{root}/login",
            params={"username": user, "profile": "default", "debug": "False"},
            headers={"X-DL-Password": password},
            timeout=30.0,
        )
    except httpx.HTTPError as exc:
        raise dlAuthError(f"Error: cannot reach the auth service at {root}: {exc}") from exc
    if response.status_code != 200:
        if not alive(root):
            raise dlAuthError("AuthManager Service not responding.")
        raise dlAuthError(response.text.strip() or f"Error: login failed ({response.status_code})")
    token = response.text.strip()
    if not is_auth_token(token):
        raise dlAuthError(f"Error: the auth service at {root} answered something not a token")
    record_login(user, token)
    return token


def login(
    user: str,
    password: str | None = None,
    debug: bool = False,
    verbose: bool = False,
    raise_errors: bool = False,
) -> str:
    """The token of ``user``; on failure the error text (or :class:`dlAuthError` with
    ``raise_errors=True``). ``debug`` and ``verbose`` are accepted for compatibility."""
    try:
        return _login(user, password)
    except dlAuthError as exc:
        if raise_errors:
            raise
        return exc.message


def logout(token: str | None = None) -> str:
    """Revoke ``token`` (default: the logged-in user's) and forget it locally.

    Returns ``OK``, or the error text, as the official module function does.
    """
    resolved = def_token(token)
    if not is_auth_token(resolved) or resolved in FIXED_TOKENS.values():
        return "Error: Invalid user token"
    try:
        response = call(
            "auth", "logout", token=resolved, params={"token": resolved}, error=dlAuthError
        )
    except dlAuthError as exc:
        return exc.message
    record_logout(token_user(resolved))
    return response.text.strip()


def whoAmI() -> str:  # noqa: N802 - the official name
    """The user of the default token (read locally, as the official client does)."""
    token = def_token(None)
    return token_user(token) if is_auth_token(token) else "anonymous"


def isValidToken(token: str | None) -> bool:  # noqa: N802 - the official name
    """Whether ``token`` is token-shaped and the server still accepts it."""
    if not is_auth_token(token):
        return False
    assert token is not None
    if token.strip() in FIXED_TOKENS.values():
        return True
    return _ask_bool("isValidToken", token=token.strip(), profile="default")


def isValidUser(user: str) -> bool:  # noqa: N802 - the official name
    """Whether the server has an account named ``user``."""
    if user in FIXED_TOKENS:
        return True
    return _ask_bool("isValidUser", user=user, profile="default")


def isTokenLoggedIn(token: str) -> bool:  # noqa: N802 - the official name
    """Whether ``token`` is a live login (not anonymous, not revoked)."""
    return _ask_bool("isTokenLoggedIn", token=token, profile="default")


def isUserLoggedIn(user: str) -> bool:  # noqa: N802 - the official name
    """Whether the stored token of ``user`` is a live login of that user."""
    token = read_token_file(user)
    if token is None:
        return False
    try:
        response = call(
            "auth", "isUserLoggedIn", token=token, params={"user": user, "profile": "default"},
            error=dlAuthError,
        )
    except dlAuthError:
        return False
    return response.text.strip().lower() == "true"
