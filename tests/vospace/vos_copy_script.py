"""Run by tests/vospace/test_vos_client.py inside the `vos` client's own virtualenv,
against the server over HTTPS: copy a local file into the space with CADC's
vos.Client, list and inspect it, copy it back out, then delete it, printing one line
per step.

Copying out with ``Client.copy`` first looks up the service's CADC-specific
``ivo://ivoa.net/std/VOSpace#files-proto`` capability; when the server does not
advertise it, cadcutils raises KeyError before any request (``copy-out`` reports it).
The bytes are then fetched through the client's own standard negotiation
(``get_node_url(..., full_negotiation=True)``: a pullFromVoSpace transfer asking for
httpsget) and its authenticated session (``fetched``)."""

import hashlib
import sys

import requests.adapters
from vos import vos

user, ca_bundle = sys.argv[1], sys.argv[2]
# cadcutils turns requests' trust_env off (so that it ignores ~/.netrc for anonymous
# calls), which also makes it ignore REQUESTS_CA_BUNDLE: with verify=True, requests
# trusts its default bundle (certifi's) only. Point that default at the test CA, as a
# site's own CA-signed certificate would be trusted through certifi.
requests.adapters.DEFAULT_CA_BUNDLE_PATH = ca_bundle

base = f"vos://datalab.local!vospace/{user}"
target = f"{base}/copies/upload.bin"
payload = bytes(range(256)) * 4096 + b"tail\n"  # 1 MiB and a bit, every byte value
with open("upload.bin", "wb") as out:
    out.write(payload)
client = vos.Client()
client.mkdir(f"{base}/copies")
print("copy-in", client.copy("upload.bin", target))
print("list", sorted(client.listdir(f"{base}/copies")))
node = client.get_node(target, force=True)
print("size", node.props.get("length"))
print("md5", node.props.get("MD5"), hashlib.md5(payload).hexdigest())
try:
    print("copy-out", client.copy(target, "download.bin"))
    with open("download.bin", "rb") as fh:
        print("copied-same", fh.read() == payload)
except KeyError as exc:
    print("copy-out KeyError", exc)
urls = client.get_node_url(target, method="GET", view="data", full_negotiation=True)
print("negotiated", " ".join(urls))
response = client.get_session(target).get(urls[0])
response.raise_for_status()
print("fetched", response.content == payload)
client.delete(target)
print("after", sorted(client.listdir(f"{base}/copies")))
client.delete(f"{base}/copies")
