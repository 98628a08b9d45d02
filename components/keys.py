"""Team signing keys on disk: Ed25519 key pairs in PEM files.

``generate`` writes ``<team>.key`` (PKCS#8 private key, mode 0600 from the moment the file exists)
and ``<team>.pub`` (SubjectPublicKeyInfo) and never overwrites either. Private keys are never
printed or logged; errors name the file, not its contents.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.errors import InputError
from contracts.trust import TrustedKey
from gates.signing import keyid

__all__ = ["generate", "load_private_key", "load_public_pem", "trusted_key_entry"]

_TEAM = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` with ``mode`` (never widening it later) and write ``data``; refuse to overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it further; never wider than asked
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def generate(team: str, out_dir: Path) -> tuple[Path, Path]:
    """Generate an Ed25519 key pair for a team.

    Args:
        team: The team name as written in the trust policy.
        out_dir: Folder to write ``<team>.key`` and ``<team>.pub`` into (created, mode 0700).

    Returns:
        The private key path and the public key path.

    Raises:
        InputError: the team name is not valid or either file already exists.
    """
    if not _TEAM.match(team):
        raise InputError(
            f"team {team!r} is not a valid team name: letters, digits, '.', '_' and '-', "
            "starting and ending with a letter or digit, at most 63 characters"
        )
    out = Path(out_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    private_path, public_path = out / f"{team}.key", out / f"{team}.pub"
    existing = [str(p) for p in (private_path, public_path) if p.exists() or p.is_symlink()]
    if existing:
        raise InputError(
            f"{', '.join(existing)} already exist(s); refusing to overwrite a key (move it away first)"
        )
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        _write_new(private_path, private_pem, 0o600)
        _write_new(public_path, public_pem, 0o644)
    except FileExistsError as exc:
        raise InputError(f"{exc.filename} already exists; refusing to overwrite a key") from None
    return private_path, public_path


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load a team's Ed25519 private key from a PEM file.

    A file readable by group or others gives a warning (``chmod 600`` it), not an error.

    Raises:
        InputError: the file is missing, is not a PEM private key, is encrypted, or is not Ed25519.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
        mode = p.stat().st_mode
    except OSError as exc:
        raise InputError(f"{p}: cannot read the private key: {exc.strerror}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InputError(
            f"{p}: the private key is encrypted; signoff needs an unencrypted PKCS#8 PEM key"
        ) from None
    except ValueError:
        raise InputError(
            f"{p}: not a PEM private key; pass the '.key' file written by 'signoff keys generate'"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputError(f"{p}: the key is {type(key).__name__.removeprefix('_')}, not Ed25519")
    if stat.S_IMODE(mode) & 0o077:
        warnings.warn(
            f"{p}: private key is readable by others (mode {stat.S_IMODE(mode):o}); run 'chmod 600 {p}'",
            stacklevel=2,
        )
    return key


def load_public_pem(path: Path) -> str:
    """Read an Ed25519 public key PEM file and return its text (checked to be an Ed25519 key)."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read the public key: {exc.strerror}") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise InputError(
            f"{p}: not a PEM public key; pass the '.pub' file written by 'signoff keys generate'"
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"{p}: the key is {type(key).__name__.removeprefix('_')}, not Ed25519")
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def trusted_key_entry(pem: str) -> TrustedKey:
    """The trust-policy entry for a public key PEM: the PEM and its keyid."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError:
        raise InputError("not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InputError(f"the key is {type(key).__name__}, not Ed25519")
    canonical = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return TrustedKey(public_key=canonical.decode(), keyid=keyid(key))
