"""The Data Lab Python client: the official client's module names and calls, over HTTP.

``from datalab.client import authClient, queryClient, storeClient, helpers`` gives the functions
seed code calls (``authClient.login``, ``queryClient.query``, ``helpers.Querist``…).
It imports nothing of the server: it only speaks the REST protocol, so it works
against any Data Lab, ours or NOIRLab's. See docs/client.md.
"""

from datalab.client import authClient, helpers, queryClient, storeClient
from datalab.client._config import def_token
from datalab.client._http import dlAuthError, queryClientError
from datalab.client.storeClient import storeClientError

__all__ = [
    "authClient",
    "def_token",
    "dlAuthError",
    "helpers",
    "queryClient",
    "queryClientError",
    "storeClient",
    "storeClientError",
]
