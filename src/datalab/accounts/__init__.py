"""Accounts: users, password hashes, tokens, rate-limited login.

Domain code only: the web adapter is ``datalab.accounts.web`` (imported on its own),
the operator's command is ``datalab user``. See ``names`` for what a user name and
a password may be, ``tokens`` for the token format the official client requires.
"""

from datalab.accounts.errors import AuthenticationError, LoginRateLimited
from datalab.accounts.model import Token, User
from datalab.accounts.names import RESERVED_NAMES, check_password_strength, check_user_name
from datalab.accounts.store import AccountStore
from datalab.accounts.tokens import ANONYMOUS_TOKEN, TOKEN_PATTERN

__all__ = [
    "ANONYMOUS_TOKEN",
    "RESERVED_NAMES",
    "TOKEN_PATTERN",
    "AccountStore",
    "AuthenticationError",
    "LoginRateLimited",
    "Token",
    "User",
    "check_password_strength",
    "check_user_name",
]
