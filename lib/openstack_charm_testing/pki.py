"""Real certificates for tests: a CA, a certificate it signed, its key and a stranger key.

Made once per test process with the ``openssl`` command (the parser the charms check
PEM with), so tests exercise the same validation production data goes through.
"""

from __future__ import annotations

import functools
import subprocess
import tempfile
from pathlib import Path


@functools.cache
def pki() -> dict[str, str]:
    """PEM texts: ``ca``, ``cert`` (signed by ``ca``), ``key`` (cert's), ``other_key``."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)

        def openssl(*args: str) -> None:
            subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)

        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        openssl(
            "req",
            "-x509",
            *ec,
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "3650",
            "-subj",
            "/CN=test-ca",
        )
        openssl("req", *ec, "-keyout", "cert.key", "-out", "cert.csr", "-subj", "/CN=masakari")
        openssl(
            "x509",
            "-req",
            "-in",
            "cert.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "3650",
        )
        openssl(
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "other.key",
        )
        return {
            "ca": (d / "ca.pem").read_text(),
            "cert": (d / "cert.pem").read_text(),
            "key": (d / "cert.key").read_text(),
            "other_key": (d / "other.key").read_text(),
        }
