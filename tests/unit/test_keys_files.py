"""Team key files: Ed25519 PEM, private file 0600 from creation, never overwritten, clear errors."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from components import keys
from contracts.errors import InputError
from gates import signing


def test_generate_writes_a_0600_private_key_and_a_public_key(tmp_path: Path) -> None:
    old = os.umask(0)  # even with a permissive umask the private key is 0600
    try:
        private, public = keys.generate("ranking-squad", tmp_path / "keys")
    finally:
        os.umask(old)
    assert (private.name, public.name) == ("ranking-squad.key", "ranking-squad.pub")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    key = keys.load_private_key(private)
    pem = keys.load_public_pem(public)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    entry = keys.trusted_key_entry(pem)
    assert entry.keyid == signing.keyid(key.public_key())
    assert entry.public_key == pem


def test_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    private, _ = keys.generate("sre-ai-oncall", tmp_path)
    before = private.read_bytes()
    with pytest.raises(InputError, match="refusing to overwrite"):
        keys.generate("sre-ai-oncall", tmp_path)
    assert private.read_bytes() == before


def test_generate_refuses_a_team_name_that_is_a_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a valid team name"):
        keys.generate("../etc", tmp_path)


def test_a_world_readable_private_key_warns_but_loads(tmp_path: Path) -> None:
    private, _ = keys.generate("ranking-squad", tmp_path)
    private.chmod(0o644)
    with pytest.warns(UserWarning, match="readable by others"):
        keys.load_private_key(private)


def test_a_public_key_passed_as_private_is_a_clear_error(tmp_path: Path) -> None:
    _, public = keys.generate("ranking-squad", tmp_path)
    with pytest.raises(InputError, match=r"ranking-squad\.pub: not a PEM private key"):
        keys.load_private_key(public)


def test_a_non_ed25519_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    path.chmod(0o600)
    with pytest.raises(InputError, match="not Ed25519"):
        keys.load_private_key(path)


def test_an_encrypted_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "enc.key"
    path.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    )
    path.chmod(0o600)
    with pytest.raises(InputError, match="encrypted"):
        keys.load_private_key(path)


def test_a_missing_key_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read the private key"):
        keys.load_private_key(tmp_path / "nope.key")
