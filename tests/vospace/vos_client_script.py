"""Run by tests/vospace/test_vos_client.py inside the `vos` client's own virtualenv:
make, list, inspect and delete nodes with CADC's vos.Client, and try a copy, printing
one line per step."""

import sys

from vos import vos

user = sys.argv[1]
base = f"vos://datalab.local!vospace/{user}"
client = vos.Client()
client.mkdir(f"{base}/vosdir")
client.mkdir(f"{base}/vosdir/inner")
print("isdir", client.isdir(f"{base}/vosdir"))
print("list", sorted(client.listdir(f"{base}/vosdir")))
print("size", client.get_node(f"{base}/vos-seed.txt").props.get("length"))
client.delete(f"{base}/vosdir/inner")
print("after", sorted(client.listdir(f"{base}/vosdir")))
client.delete(f"{base}/vosdir")
with open("hello.txt", "w") as out:
    out.write("hello from vos\n")
try:
    client.copy("hello.txt", f"{base}/hello.txt")
    print("copy ok")
except OSError as exc:
    print("copy", str(exc).replace("\n", " "))
