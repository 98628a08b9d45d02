"""The model files' digest: deterministic, covers every file, refuses what it cannot vouch for."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from components.digest import digest_folder
from contracts.errors import InputError
from gates import ml_artifact
from gates.evidence import FileEntry


def _model(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "data" / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (root / "data" / "empty.txt").write_bytes(b"")
    (root / "naïve name.txt").write_text("utf-8 names are fine\n")
    return root


def test_every_file_is_listed_with_its_sha256_and_size(tmp_path: Path) -> None:
    root = _model(tmp_path / "m")
    m = digest_folder(root, chunk=1024 * 1024)
    assert [f.path for f in m.files] == ["MLmodel", "data/empty.txt", "data/weights.bin", "naïve name.txt"]
    for f in m.files:
        data = (root / f.path).read_bytes()
        assert f.sha256 == hashlib.sha256(data).hexdigest()
        assert f.size == len(data)
    assert m.total_size == sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    # the very digest the ML-artifact gate re-computes over its pydantic entries
    entries = [FileEntry(path=f.path, size=f.size, sha256=f.sha256) for f in m.files]
    assert m.digest == ml_artifact.manifest_digest(reversed(entries))


def test_deterministic_across_locations_workers_and_chunk_sizes(tmp_path: Path) -> None:
    a = _model(tmp_path / "a")
    b = tmp_path / "elsewhere" / "b"
    b.mkdir(parents=True)
    for p in sorted(a.rglob("*")):  # same contents, created in another order
        if p.is_file():
            (b / p.relative_to(a)).parent.mkdir(parents=True, exist_ok=True)
    for p in sorted(a.rglob("*"), reverse=True):
        if p.is_file():
            (b / p.relative_to(a)).write_bytes(p.read_bytes())
    manifests = [digest_folder(a), digest_folder(b, workers=1, chunk=4096), digest_folder(a, workers=4)]
    assert manifests[0] == manifests[1] == manifests[2]


def test_one_changed_byte_changes_the_digest(tmp_path: Path) -> None:
    root = _model(tmp_path / "m")
    before = digest_folder(root).digest
    w = root / "data" / "weights.bin"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    assert digest_folder(root).digest != before


def test_a_renamed_file_changes_the_digest(tmp_path: Path) -> None:
    root = _model(tmp_path / "m")
    before = digest_folder(root).digest
    (root / "MLmodel").rename(root / "MLmodel2")
    assert digest_folder(root).digest != before


def test_a_symlink_inside_is_refused(tmp_path: Path) -> None:
    root = _model(tmp_path / "m")
    (root / "link.bin").symlink_to(root / "data" / "weights.bin")
    with pytest.raises(InputError, match=r"link\.bin is a symlink"):
        digest_folder(root)


def test_a_symlink_escaping_with_dotdot_is_refused(tmp_path: Path) -> None:
    root = _model(tmp_path / "m")
    (tmp_path / "secret").write_text("outside the model\n")
    (root / "data" / "escape").symlink_to(Path("..") / ".." / "secret")
    with pytest.raises(InputError, match=r"data/escape is a symlink"):
        digest_folder(root)


def test_a_symlinked_folder_is_refused(tmp_path: Path) -> None:
    root = _model(tmp_path / "m")
    (tmp_path / "outside").mkdir()
    (root / "sub").symlink_to(tmp_path / "outside", target_is_directory=True)
    with pytest.raises(InputError, match="sub is a symlink"):
        digest_folder(root)


def test_the_folder_itself_as_a_symlink_is_refused(tmp_path: Path) -> None:
    real = _model(tmp_path / "m")
    (tmp_path / "alias").symlink_to(real, target_is_directory=True)
    with pytest.raises(InputError, match="the model folder is a symlink"):
        digest_folder(tmp_path / "alias")


def test_a_fifo_is_refused(tmp_path: Path) -> None:
    root = _model(tmp_path / "m")
    os.mkfifo(root / "pipe")
    with pytest.raises(InputError, match="pipe is not a regular file"):
        digest_folder(root)


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    with pytest.raises(InputError, match="the model folder is empty"):
        digest_folder(tmp_path / "empty")


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a folder"):
        digest_folder(tmp_path / "nope")
