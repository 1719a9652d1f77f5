"""JupyterHub's login, on Data Lab accounts.

The login form takes a Data Lab user name and either the user's password or one of
their Data Lab tokens (so a token obtained once, e.g. by ``datalab login``, serves
the notebooks too). Either way the hub ends up holding a Data Lab token for the user,
kept in JupyterHub's auth state (encrypted with the key ``datalab serve`` keeps in
``<data dir>/notebooks/crypt_key``), which the spawner gives to the user's notebook
server as ``DATALAB_TOKEN``.

Accounts are checked with ``datalab.accounts.AccountStore`` on the state database the
Data Lab server uses, rather than through the server's ``/auth`` REST API, because:

* the rate limit on failed logins counts per user name *and per client address*; the
  hub knows the browser's address (the proxy forwards it), while over REST every login
  would come from the hub's own, so a handful of wrong passwords from anyone would
  lock every user out of the notebooks for the lockout period;
* the hub runs on the same machine and data directory by construction (``datalab
  serve`` starts it), and ``AccountStore`` is made to be shared between processes:
  every call is one short transaction, nothing is cached;
* a login does not depend on the web server being up at that moment.

A password login makes a new token exactly as ``/auth/login`` does (same lifetime,
same limits); a token login keeps the token given. Before each spawn, and every five
minutes of use, the token is checked again: once it has expired or been revoked (a
changed password, a disabled user) the user must log in again.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from functools import cached_property
from typing import Any

from jupyterhub.auth import Authenticator

from datalab.accounts import TOKEN_PATTERN, AccountStore, LoginRateLimited
from datalab.errors import DataLabError
from datalab.notebooks.hubconfig import CONFIG_SECTION, HubSettings

__all__ = ["DataLabAuthenticator"]


class DataLabAuthenticator(Authenticator):  # type: ignore[misc]
    """Accepts a Data Lab user name with its password or one of its tokens."""

    @cached_property
    def site(self) -> HubSettings:
        return HubSettings.from_config(self.config.get(CONFIG_SECTION))

    @cached_property
    def accounts(self) -> AccountStore:
        site = self.site
        return AccountStore(
            site.state_url,
            token_lifetime=timedelta(seconds=site.token_lifetime),
            max_failures=site.max_failures,
            lockout=timedelta(seconds=site.lockout),
        )

    async def authenticate(
        self, handler: Any, data: dict[str, str] | None
    ) -> dict[str, Any] | None:
        """The user and their Data Lab token, or None (the form then says "Invalid
        username or password", whatever the reason; the hub's log has the reason)."""
        username = str((data or {}).get("username") or "").strip()
        secret = str((data or {}).get("password") or "")
        if not username or not secret:
            return None
        request = getattr(handler, "request", None)
        client = str(getattr(request, "remote_ip", "") or "")
        return await asyncio.to_thread(self._check, username, secret, client)

    def _check(self, username: str, secret: str, client: str) -> dict[str, Any] | None:
        if TOKEN_PATTERN.match(secret):
            owner = self.accounts.user_for(secret)
            if owner is None or owner != username.lower():
                self.log.warning("notebooks login as %r refused: the token is not a valid one "
                            "of that user", username[:40])
                return None
            return {"name": owner, "auth_state": {"token": secret}}
        try:
            token = self.accounts.login(username, secret, client=client)
        except LoginRateLimited as exc:
            self.log.warning("notebooks login as %r refused: %s", username[:40], exc.message)
            return None
        except DataLabError:
            return None
        owner = token.split(".", 1)[0]
        return {"name": owner, "auth_state": {"token": token}}

    async def refresh_user(self, user: Any, handler: Any = None) -> bool:
        """True while the Data Lab token the hub holds for ``user`` is still valid;
        False (log in again) once it has expired or been revoked."""
        state = await user.get_auth_state()
        token = (state or {}).get("token")
        if not isinstance(token, str) or not token:
            return False
        owner = await asyncio.to_thread(self.accounts.user_for, token)
        return bool(owner == user.name)
