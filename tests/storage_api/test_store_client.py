"""``datalab.client.storeClient`` and the ``datalab`` file commands against a real server."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from datalab.client import authClient, queryClient, storeClient, storeClientError
from tests.conftest import RunningServer, copy_catalog, start_server, stop_server
from tests.storage_api.conftest import PASSWORDS, Api, Site, datalab, login


@pytest.fixture
def token(site: Site) -> str:
    return authClient.login("demo00", PASSWORDS["demo00"])


def test_put_get_round_trips(
    token: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("héllo\nworld\n", encoding="utf-8")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 1000)
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")

    assert storeClient.isAlive()
    assert storeClient.mkdir(token, "vos://rt") == "OK"
    assert storeClient.put(token, str(text), "vos://rt/") == ["OK"]
    assert f"(1 / 1) {text} -> vos://rt/notes.txt" in capsys.readouterr().out
    assert storeClient.put(token, str(binary), "vos://rt/blob.bin", verbose=False) == ["OK"]
    assert storeClient.put(token, str(empty), "vos://rt", verbose=False) == ["OK"]
    assert storeClient.ls(token, "vos://rt") == "blob.bin,empty.dat,notes.txt"

    assert storeClient.get(token, "vos://rt/notes.txt") == "héllo\nworld\n"
    assert storeClient.get(token, "vos://rt/blob.bin", mode="binary") == binary.read_bytes()
    assert storeClient.get(token, "vos://rt/empty.dat") == ""
    capsys.readouterr()
    back = tmp_path / "back"
    back.mkdir()
    assert storeClient.get(token, "vos://rt/blob.bin", str(back / "b.bin")) == ["OK"]
    out = capsys.readouterr().out
    assert "(1/1) [====================]" in out and "rt/blob.bin" in out
    assert (back / "b.bin").read_bytes() == binary.read_bytes()
    assert storeClient.get(token, "vos://rt/empty.dat", str(back), verbose=False) == ["OK"]
    assert (back / "empty.dat").read_bytes() == b""
    assert not list(back.glob(".*.part"))

    info = storeClient.stat(token, "vos://rt/blob.bin")
    assert info["type"] == "data" and info["size"] == 256_000
    assert storeClient.stat(token, "vos://rt/none") == {}
    assert storeClient.isdir(token, "vos://rt") is True
    assert storeClient.isdir(token, "vos://rt/blob.bin") is False
    assert storeClient.access(token, "vos://rt/blob.bin") is True

    assert storeClient.cp(token, "vos://rt/notes.txt", "vos://rt/copy.txt") == "OK"
    assert storeClient.mv(token, "vos://rt/copy.txt", "vos://rt/moved.txt") == "OK"
    assert storeClient.ln(token, "vos://rt/link.txt", "vos://rt/moved.txt") == "OK"
    assert storeClient.get(token, "vos://rt/link.txt") == "héllo\nworld\n"
    assert storeClient.tag(token, "vos://rt/moved.txt", "kept") == "OK"
    assert storeClient.save(token, "vos://rt/saved.txt", "saved text") == "OK"
    assert storeClient.get(token, "vos://rt/saved.txt") == "saved text"
    assert storeClient.rm(token, "vos://rt/*.txt") == "OK"
    assert storeClient.ls(token, "vos://rt") == "blob.bin,empty.dat"
    with pytest.raises(storeClientError, match="Error"):
        storeClient.rm(token, "vos://rt/none.txt")
    with pytest.raises(storeClientError, match="not permitted"):
        storeClient.rmdir(token, "vos://")


def test_wildcards_and_folders(token: str, tmp_path: Path) -> None:
    local = tmp_path / "tree"
    (local / "sub" / "deeper").mkdir(parents=True)
    (local / "a.csv").write_text("a\n1\n")
    (local / "b.csv").write_text("b\n2\n")
    (local / "c.fits").write_bytes(b"SIMPLE  =")
    (local / "sub" / "d.txt").write_text("d")
    (local / "sub" / "deeper" / "e.txt").write_text("e")

    storeClient.mkdir(token, "vos://wild")
    assert storeClient.put(token, str(local / "*.csv"), "vos://wild", verbose=False) == [
        "OK", "OK"]
    assert storeClient.ls(token, "vos://wild") == "a.csv,b.csv"
    with pytest.raises(storeClientError, match="folder"):
        storeClient.put(token, str(local / "*.csv"), "vos://wild/one.csv", verbose=False)

    assert storeClient.put(token, str(local), "vos://wild", verbose=False) == ["OK"] * 5
    assert storeClient.ls(token, "vos://wild/tree") == "a.csv,b.csv,c.fits,sub"
    assert storeClient.get(token, "vos://wild/tree/sub/deeper/e.txt") == "e"

    down = tmp_path / "down"
    down.mkdir()
    assert storeClient.get(token, "vos://wild/tree/*.csv", str(down), verbose=False) == [
        "OK", "OK"]
    assert sorted(p.name for p in down.iterdir()) == ["a.csv", "b.csv"]
    assert storeClient.get(token, "vos://wild/tree/", str(down), verbose=False) == ["OK"] * 3
    assert (down / "c.fits").read_bytes() == b"SIMPLE  ="
    with pytest.raises(storeClientError, match="location"):
        storeClient.get(token, "vos://wild/*.csv")


def test_get_resumes_a_cut_download(site: Site, token: str, tmp_path: Path) -> None:
    content = os.urandom(3 << 20)
    source = tmp_path / "big.bin"
    source.write_bytes(content)
    storeClient.put(token, str(source), "vos://resume.bin", verbose=False)
    target = tmp_path / "copy.bin"
    part = tmp_path / ".copy.bin.part"
    part.write_bytes(content[: 1 << 20])  # what a cut download left behind
    log_before = site.server.log.read_text()
    assert storeClient.get(token, "vos://resume.bin", str(target), verbose=False) == ["OK"]
    assert target.read_bytes() == content and not part.exists()
    new_log = site.server.log.read_text()[len(log_before):]
    assert '/storage/file/' in new_log and '" 206' in new_log

    # A partial file older than the remote file is not resumed: it may be another file.
    part.write_bytes(b"stale bytes")
    old = os.stat(part).st_mtime - 3600
    os.utime(part, (old, old))
    assert storeClient.get(token, "vos://resume.bin", str(target), verbose=False) == ["OK"]
    assert target.read_bytes() == content

    # A partial file whose bytes are wrong is caught by the MD5 and the next get starts over.
    part.write_bytes(b"x" * (1 << 20))
    with pytest.raises(storeClientError, match="MD5"):
        storeClient.get(token, "vos://resume.bin", str(target), verbose=False)
    assert not part.exists() and target.read_bytes() == content
    assert storeClient.get(token, "vos://resume.bin", str(target), verbose=False) == ["OK"]


def test_query_out_vos_with_the_client(token: str) -> None:
    sql = "select hip, hpmag from hipparcos.hip2 order by hip limit 4"
    assert queryClient.query(token, sql=sql, out="vos://q.csv") == "OK"
    assert storeClient.get(token, "vos://q.csv").splitlines()[0] == "hip,hpmag"
    assert len(storeClient.get(token, "vos://q.csv").splitlines()) == 5


def test_the_file_commands(site: Site, tmp_path: Path) -> None:
    datalab("login", "user=demo00", f"password={PASSWORDS['demo00']}")
    put = datalab("put", "fr=/etc/hosts", "to=vos://")
    assert "(1 / 1) /etc/hosts -> vos://hosts" in put.stdout
    listed = datalab("ls")
    assert "hosts" in listed.stdout.strip().split(",")
    target = tmp_path / "hosts"
    got = datalab("get", "fr=vos://hosts", f"to={target}")
    assert "(1/1) [====================]" in got.stdout and "hosts" in got.stdout
    assert target.read_bytes() == Path("/etc/hosts").read_bytes()
    assert '"type": "data"' in datalab("stat", "name=vos://hosts").stdout
    datalab("mkdir", "name=vos://cli")
    datalab("cp", "fr=vos://hosts", "to=vos://cli/h2")
    datalab("mv", "fr=vos://cli/h2", "to=vos://cli/h3")
    datalab("ln", "fr=vos://cli/l", "to=vos://cli/h3")
    datalab("tag", "name=vos://cli/h3", "tag=network")
    assert datalab("ls", "name=vos://cli", "format=ascii").stdout.split() == ["h3", "l"]
    datalab("rm", "name=vos://cli/*")
    datalab("rmdir", "name=vos://cli")
    datalab("rm", "name=vos://hosts")
    missing = datalab("rm", "name=vos://hosts", check=False)
    assert missing.returncode == 1 and "Error" in missing.stderr
    cut = datalab("get", "fr=vos://nothing", f"to={tmp_path}", check=False)
    assert cut.returncode == 1 and "Error" in cut.stderr


# -- quota ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_site(demo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    from datalab.config import Settings

    if "storage_quota" not in Settings.model_fields:
        pytest.skip("the server has no storage_quota setting")
    home = tmp_path_factory.mktemp("quota-site")
    copy_catalog(demo_home, home)
    server = start_server(home, env={"DATALAB_DEMO": "false",
                                     "DATALAB_STORAGE_QUOTA": str(1 << 20)})
    secret = home.parent / f"{home.name}-pw"
    secret.write_text(PASSWORDS["demo00"] + "\n")
    datalab("user", "add", "demo00", "--password-file", str(secret), "--data-dir", str(home))
    yield server  # type: ignore[misc]
    stop_server(server)


def test_quota_exceeded_is_a_clear_error_and_keeps_the_old_file(small_site: RunningServer) -> None:
    api = Api(small_site.url, login(small_site.url, "demo00"))
    api.upload("vos://data.bin", b"old" * 1000)
    url = api("put", "name=vos://data.bin").text
    answer = httpx.put(url, content=b"x" * (2 << 20), timeout=60)
    assert answer.status_code == 400
    assert answer.text.startswith("Error: ") and "quota" in answer.text.lower()
    assert api.download("vos://data.bin") == b"old" * 1000
    query = httpx.get(f"{small_site.url}/query/query", headers={"X-DL-AuthToken": api.token},
                      params={"sql": "select * from ls_mock.tractor limit 100000",
                              "out": "vos://big.csv"}, timeout=120)
    assert query.status_code == 400 and "quota" in query.text.lower()
    assert "big.csv" not in api("ls", "name=vos://&format=csv").text
