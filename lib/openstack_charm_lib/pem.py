"""PEM material checked the way its consumers read it: by OpenSSL.

Apache and the OpenStack clients load certificates and keys through OpenSSL, so each
block is parsed by the ``openssl`` command (present on every Ubuntu machine), fed on
standard input so that no key reaches a command line. Only the blocks that parsed are
kept, re-assembled from their base64 lines: whatever surrounded them in the input
never reaches a file.
"""

from __future__ import annotations

import base64
import binascii
import re
import subprocess

_BLOCK = re.compile(
    r"-----BEGIN (?P<label>[A-Z0-9 ]{1,40})-----\r?\n"
    r"(?P<body>(?:[A-Za-z0-9+/=]{1,76}\r?\n){1,400})"
    r"-----END (?P=label)-----"
)
CERTIFICATE = "CERTIFICATE"
KEY_LABELS = ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY")
MAX_PEM = 256 * 1024


class PemError(ValueError):
    """The material is not what it should be; the message says what (never the material)."""


def _blocks(text: str, labels: tuple[str, ...]) -> list[str]:
    """Canonical PEM blocks of ``labels`` in ``text``; PemError when there are none."""
    if not isinstance(text, str) or len(text) > MAX_PEM:
        raise PemError("not PEM text")
    blocks = []
    for match in _BLOCK.finditer(text):
        if match["label"] not in labels:
            continue
        body = match["body"].replace("\r", "").strip()
        try:
            base64.b64decode("".join(body.split()), validate=True)
        except (binascii.Error, ValueError):
            raise PemError(f"a {match['label']} block is not base64") from None
        blocks.append(
            f"-----BEGIN {match['label']}-----\n{body}\n-----END {match['label']}-----\n"
        )
    if not blocks:
        raise PemError(f"no {' or '.join(labels)} block")
    return blocks


def _openssl(args: list[str], material: str) -> str:
    try:
        proc = subprocess.run(
            ["openssl", *args], input=material, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PemError(f"openssl could not run ({type(exc).__name__})") from None
    if proc.returncode != 0:
        raise PemError("OpenSSL cannot read it")
    return proc.stdout


def certificates(text: str) -> list[str]:
    """Every certificate in ``text`` (a certificate, a chain or a CA bundle), each parsed."""
    blocks = _blocks(text, (CERTIFICATE,))
    for block in blocks:
        _openssl(["x509", "-noout"], block)
    return blocks


def private_key(text: str) -> str:
    """The one unencrypted private key in ``text``, canonical; PemError otherwise."""
    blocks = _blocks(text, KEY_LABELS)
    if len(blocks) != 1:
        raise PemError("more than one private key")
    _openssl(["pkey", "-noout", "-passin", "pass:"], blocks[0])
    return blocks[0]


def check_pair(certificate: str, key: str) -> tuple[str, str]:
    """Canonical certificate (with chain) and key, once the key is the certificate's."""
    certs = certificates(certificate)
    canonical_key = private_key(key)
    public = _openssl(["pkey", "-pubout", "-passin", "pass:"], canonical_key)
    if public != _openssl(["x509", "-noout", "-pubkey"], certs[0]):
        raise PemError("the key does not belong to the certificate")
    return "".join(certs), canonical_key
