"""Key and certificate errors in plain words naming the file, never the parser's internals."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from emulator.testpki import derive_key

from .conftest import BUILD, GB_IMAGE, invoke

_DAMAGED = "its PEM block is damaged or holds another kind"


@pytest.mark.parametrize(
    ("option", "text", "expected"),
    [
        # cryptography said "ParseError { kind: UnexpectedTag { actual: Tag { value: 0, ...
        ("--supplier-cert", "CERTIFICATE", f"not a PEM certificate ({_DAMAGED})"),
        ("--supplier-key", "PUBLIC KEY", f"not a PEM key or certificate ({_DAMAGED})"),
        ("--supplier-key", "PRIVATE KEY", f"not a PEM private key ({_DAMAGED})"),
    ],
)
def test_damaged_pem_is_said_in_plain_words(tmp_path, option, text, expected):
    pem = tmp_path / "bad.pem"
    pem.write_text(f"-----BEGIN {text}-----\nAAAA\n-----END {text}-----\n")
    result = invoke("image", "verify", GB_IMAGE, option, pem)
    assert result.stderr == f"error: {pem}: {expected}\n"
    assert result.exit_code == 2


def test_a_file_that_is_no_pem_at_all_says_so(tmp_path):
    result = invoke("gbcs", "verify", "00", "--supplier-key", GB_IMAGE)
    assert result.stderr == (
        f"error: {GB_IMAGE}: not a PEM key or certificate (no -----BEGIN line: not PEM text)\n"
    )
    assert result.exit_code == 2


def test_an_encrypted_key_says_it_is_encrypted(tmp_path):
    pem = tmp_path / "locked.pem"
    pem.write_bytes(
        derive_key("locked").private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    payload = tmp_path / "payload.bin"
    payload.write_bytes(b"firmware")
    result = invoke(
        *BUILD, "-o", tmp_path / "o.ota", "--payload", payload, "--gb",
        "--min-hw", "1", "--max-hw", "2", "--supplier-key", pem,
    )  # fmt: skip
    assert result.stderr == (
        f"error: {pem}: the private key is encrypted (only unencrypted keys can be read)\n"
    )
    assert result.exit_code == 2
