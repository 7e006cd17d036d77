"""Key and certificate errors in plain words naming the file, never the parser's internals."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from emulator.testpki import derive_key, load_public_key, self_signed_certificate

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


RTDS = Path(__file__).resolve().parents[1] / "data" / "rtds"
RTDS_CS06 = RTDS / "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND_GBCS.HEX"
SUPPLIER_CERT = RTDS / "90b3d51f30010000-ds.pem"
DEVICE_KA_CERT = RTDS / "00db1234567890a0-ka.pem"
ACB_KA_KEY = RTDS / "90b3d51f30000002-ka.key"


@pytest.mark.parametrize(
    ("option", "first", "second", "what"),
    [
        # the supplier's certificate second: the check used to pass with it, silently
        ("--supplier-key", ACB_KA_KEY, SUPPLIER_CERT, "keys or certificates"),
        ("--supplier-cert", DEVICE_KA_CERT, SUPPLIER_CERT, "keys or certificates"),
        ("--supplier-cert", SUPPLIER_CERT, DEVICE_KA_CERT, "keys or certificates"),
        ("--ka-key", ACB_KA_KEY, None, "private keys"),
    ],
)
def test_a_pem_file_of_two_different_keys_is_refused(tmp_path, option, first, second, what):
    """Which of two keys a check was made with cannot be known, so no verdict is given."""
    pem = tmp_path / "two.pem"
    other = (
        second.read_bytes()
        if second is not None
        else derive_key("other").private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pem.write_bytes(first.read_bytes() + other)
    extra = ("--peer-cert", DEVICE_KA_CERT) if option == "--ka-key" else ()
    result = invoke("gbcs", "verify", RTDS_CS06, option, pem, *extra)
    assert result.stderr == (
        f"error: {pem}: holds 2 {what} with different public keys; "
        "give a file holding only the one meant\n"
    )
    assert result.exit_code == 2


def test_a_key_with_its_own_certificate_or_ec_parameters_is_one_key(tmp_path):
    key = derive_key("pair")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    cert_pem = self_signed_certificate("pair", key).public_bytes(serialization.Encoding.PEM)
    params = b"-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
    for name, data in (("pair.pem", key_pem + cert_pem), ("params.pem", params + key_pem)):
        pem = tmp_path / name
        pem.write_bytes(data)
        assert load_public_key(data, source=name) == key.public_key()
        result = invoke("image", "verify", GB_IMAGE, "--supplier-key", pem)
        assert result.exit_code == 1, result.output  # read, and not the image's signer
        assert "error:" not in result.stderr


def test_an_oversized_key_file_is_not_told_to_raise_the_input_limit(tmp_path):
    """Key files have a fixed limit: HANEMU_MAX_INPUT_BYTES would not help."""
    pem = tmp_path / "huge.pem"
    pem.write_bytes(b"-----BEGIN CERTIFICATE-----\n" * 40_000)
    for args in (
        ("gbcs", "verify", RTDS_CS06, "--supplier-key", pem),
        ("image", "verify", GB_IMAGE, "--supplier-key", pem),
    ):
        result = invoke(*args)
        assert result.stderr.startswith(f"error: {pem}: larger than 1048576 bytes, more than")
        assert "HANEMU_MAX_INPUT_BYTES" not in result.stderr
        assert result.exit_code == 2


def test_many_pem_blocks_are_refused_without_loading_each(tmp_path):
    pem = tmp_path / "many.pem"
    pem.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" * 1000)
    result = invoke("gbcs", "verify", RTDS_CS06, "--supplier-cert", pem)
    assert result.stderr == (
        f"error: {pem}: holds 1000 PEM blocks; give a file with one key or certificate\n"
    )
    assert result.exit_code == 2
