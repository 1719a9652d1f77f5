"""TLS for the tests: a self-signed certificate for 127.0.0.1, and `datalab serve`
with it, waited for over https with that certificate as the only trusted CA."""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import RunningServer, free_port


def make_certificate(folder: Path, name: str = "server") -> tuple[Path, Path]:
    """A self-signed certificate valid for IP 127.0.0.1 and `localhost`, and its
    unencrypted key, as PEM files ``NAME-cert.pem`` and ``NAME-key.pem`` in FOLDER.
    Made with the `cryptography` package when it is installed, else with `openssl`."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    try:
        _with_cryptography(cert, key)
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            pytest.skip("neither the cryptography package nor openssl is available")
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
             "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
            check=True, capture_output=True, timeout=60,
        )
    return cert, key


def _with_cryptography(cert_path: Path, key_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def trusting(cert: Path) -> ssl.SSLContext:
    """A client TLS context that trusts CERT only (httpx's ``verify=``)."""
    return ssl.create_default_context(cafile=str(cert))


def start_tls_server(
    home: Path, cert: Path, key: Path, *extra: str, env: dict[str, str] | None = None,
    options: bool = True,
) -> RunningServer:
    """Start `datalab serve` with TLS on a free loopback port and wait for /health over
    https. With ``options=False`` the certificate and key are given through the
    DATALAB_SSL_CERTFILE / DATALAB_SSL_KEYFILE environment instead of the command line."""
    port = free_port()
    log = home.parent / f"server-{port}.log"
    full_env = {**os.environ, **(env or {})}
    tls_args: list[str] = []
    if options:
        tls_args = ["--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    else:
        full_env.update({"DATALAB_SSL_CERTFILE": str(cert), "DATALAB_SSL_KEYFILE": str(key)})
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "datalab", "serve", "--data-dir", str(home), "--port",
             str(port), *tls_args, *extra],
            stdout=out, stderr=subprocess.STDOUT, text=True, env=full_env,
        )
    url = f"https://127.0.0.1:{port}"
    context = trusting(cert)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2, verify=context).status_code == 200:
                return RunningServer(process, url, log)
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    process.wait()
    raise RuntimeError(f"server did not become ready: {log.read_text()}")
