"""What the real servers some tests start (PostgreSQL, Redis) need: a free local port, and
TLS from a throwaway certificate authority and a certificate for 127.0.0.1 and localhost it
signed, made with openssl for one run and never committed."""

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    cert_file: Path
    key_file: Path


def free_port() -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def has_openssl() -> bool:
    return shutil.which("openssl") is not None


def make_certificates(root: Path) -> Certificates:
    """ca.pem, server.pem and server.key (mode 600) in ``root``, valid for a day."""

    def run(*command: str) -> None:
        subprocess.run(command, cwd=root, check=True, capture_output=True)

    # P-256 keys: TLS verified all the same, and made in milliseconds (RSA takes a second).
    new_key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    run(
        "openssl", "req", "-x509", *new_key, "-days", "1", "-keyout", "ca.key", "-out", "ca.pem",
        "-subj", "/CN=test-ca",
    )  # fmt: skip
    run(
        "openssl", "req", *new_key, "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=localhost",
    )  # fmt: skip
    (root / "san.cnf").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run(
        "openssl",
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "san.cnf",
    )
    (root / "server.key").chmod(0o600)
    return Certificates(
        ca_file=root / "ca.pem", cert_file=root / "server.pem", key_file=root / "server.key"
    )
