"""The seed examples, run by the official astro-datalab client against our server.

Run by tests/client/test_official_client.py in the official client's own virtual
environment: python official_seed.py URL USER PASSWORD. Prints one line per check;
the test compares them.
"""

import os
import sys
import tempfile

url, user, password = sys.argv[1:4]

from dl import authClient as ac  # noqa: E402 - after reading the arguments
from dl import queryClient as qc  # noqa: E402
from dl import storeClient as sc  # noqa: E402

# Importing queryClient resets the other modules' URLs: set them all afterwards.
ac.set_svc_url(f"{url}/auth")
qc.set_svc_url(f"{url}/query")
sc.set_svc_url(f"{url}/storage")

print("alive", ac.isAlive(f"{url}/auth"), qc.isAlive(f"{url}/query"))
print("bad login is a token:", ac.isValidToken(ac.login(user, password + "x")))
token = ac.login(user, password)
print("valid", ac.isValidToken(token))
csv = qc.query(token, sql="select hip, ra from hipparcos.hip2 order by hip limit 3", fmt="csv")
print("csv", csv.strip().replace("\n", "|"))
table = qc.query(token, adql="SELECT TOP 3 hip, hpmag FROM hipparcos.hip2 ORDER BY hpmag", fmt="table")
print("table", len(table), list(table.colnames))
print("save", qc.query(token, sql="select source_id, ra, dec from gaia_dr3.gaia_source limit 10",
                       out="mydb://gaia_test", drop=True))
print("list", qc.mydb_list(token).split())
print("back", qc.query(token, sql="select count(*) as n from mydb://gaia_test", fmt="csv").split())
jobid = qc.query(token, sql="select count(*) as n from hipparcos.hip2", async_=True)
print("wait", qc.wait(token, jobid, wait=0.5))
print("status", qc.status(token, jobid))
print("results", qc.results(token, jobid).split())
print("drop", qc.mydb_drop(token, "gaia_test"))
print("list", qc.mydb_list(token).split())
# Files: put/get/ls/rm of a small file, and a query result stored in vos:// read back.
scratch = tempfile.mkdtemp()
local = os.path.join(scratch, "seed.txt")
with open(local, "w") as fh:
    fh.write("seed file\n")
print("sc_alive", sc.isAlive(f"{url}/storage"))
print("sc_put", sc.put(token, local, "vos://", verbose=False))
print("sc_ls", sc.ls(token, "vos://"))
print("sc_get", sc.get(token, "vos://seed.txt").strip())
back = os.path.join(scratch, "back.txt")
print("sc_getfile", sc.get(token, "vos://seed.txt", back, verbose=False), open(back).read().strip())
print("sc_rm", sc.rm(token, "vos://seed.txt"))
print("sc_after", sc.ls(token, "vos://"))
print("vos_save", qc.query(token, sql="select hip, ra from hipparcos.hip2 order by hip limit 3",
                           fmt="csv", out="vos://foo2.csv"))
print("vos_ls", sc.ls(token, name="vos://foo2.csv"))
print("vos_back", sc.get(token, "vos://foo2.csv").strip().replace("\n", "|"))
print("vos_rm", sc.rm(token, "vos://foo2.csv"))
print("logout", ac.logout(token))
print("after logout", ac.isValidToken(token))
