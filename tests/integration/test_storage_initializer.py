"""The InferenceService pod's download-then-verify (infra/docker/storage-initializer/initialize-and-verify)
run with KServe's real storage initializer.

KServe appends its storage initializer after the predictor's init containers, so a ``verify-model``
init container declared in the InferenceService would run before the download. infra/kserve's
ClusterStorageContainer therefore names an image whose entrypoint is ``initialize-and-verify``: KServe's
own ``initializer-entrypoint`` (copied by ``tools/kserve/build`` from the KServe module of
tools/kserve/go.mod) with ``kserve-storage`` of the same version (``make serving-peers``), then
``signoff verify-model`` on what it downloaded, against ``SIGNOFF_MODEL_DIGEST`` (the pod's own
``signoff.dev/model-digest`` annotation). Here the script runs as in that image; the model is a
tar.gz on a loopback HTTP server, which KServe downloads and unpacks as it would from any https://
store (tests/cluster/test_kserve_controller.py shows KServe injecting the container and its env).
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import engine_tools
import pytest

from components.digest import digest_folder

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "infra" / "docker" / "storage-initializer" / "initialize-and-verify"


@pytest.fixture(scope="module")
def kserve_python() -> Path:
    """The venv with kserve-storage (``make serving-peers``); fails, never skips, when missing."""
    python = Path(os.environ.get("SIGNOFF_KSERVE_STORAGE", ""))
    if not python.is_file():
        pytest.fail(
            f"SIGNOFF_KSERVE_STORAGE={python} is not KServe's storage venv: run 'make serving-peers'",
            pytrace=False,
        )
    return python


@pytest.fixture(scope="module")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(URL of the model's tar.gz, its folder digest, another model's digest) on a loopback server."""
    root = tmp_path_factory.mktemp("store")
    model = root / "src"
    (model / "model").mkdir(parents=True)
    (model / "MLmodel").write_text("flavors:\n  python_function: {}\n", encoding="utf-8")
    (model / "model" / "model.pkl").write_bytes(bytes(range(256)) * 2048)
    signed = digest_folder(model).digest
    (model / "model" / "model.pkl").write_bytes(b"another model" * 1000)
    other = digest_folder(model).digest
    (model / "model" / "model.pkl").write_bytes(bytes(range(256)) * 2048)
    served = root / "served"
    served.mkdir()
    with tarfile.open(served / "model.tar.gz", "w:gz") as tar:
        for path in sorted(model.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(model)), recursive=False)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/model.tar.gz", signed, other
    finally:
        server.shutdown()


def _run(
    kserve_python: Path, signoff_exe: str, dest: Path, src: str, digest: str | None
) -> subprocess.CompletedProcess[str]:
    """initialize-and-verify SRC DEST, as the container runs it (KServe passes these two arguments)."""
    env = {
        "PATH": f"{kserve_python.parent}:/usr/bin:/bin",  # initializer-entrypoint: #!/usr/bin/env python3
        "HOME": str(dest.parent),
        "KSERVE_INITIALIZER": engine_tools.tool("kserve", "config/initializer-entrypoint"),
        "SIGNOFF": signoff_exe,
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    }
    if digest is not None:
        env["SIGNOFF_MODEL_DIGEST"] = digest
    return subprocess.run(
        ["/bin/sh", str(SCRIPT), src, str(dest)], capture_output=True, text=True, timeout=120, env=env
    )


def test_the_signed_model_is_downloaded_by_kserve_and_starts(
    kserve_python: Path, signoff_exe: str, model_store: tuple[str, str, str], tmp_path: Path
) -> None:
    url, signed, _ = model_store
    dest = tmp_path / "mnt" / "models"
    proc = _run(kserve_python, signoff_exe, dest, url, signed)
    assert proc.returncode == 0, proc.stderr
    assert (dest / "MLmodel").is_file() and (dest / "model" / "model.pkl").is_file()
    assert f"{dest}: {signed} is the signed digest (2 files" in proc.stderr


def test_files_that_are_not_the_signed_model_do_not_start(
    kserve_python: Path, signoff_exe: str, model_store: tuple[str, str, str], tmp_path: Path
) -> None:
    """The store holds the other model's bytes for this digest: KServe downloads them, the check refuses."""
    url, signed, other = model_store
    dest = tmp_path / "mnt" / "models"
    proc = _run(kserve_python, signoff_exe, dest, url, other)
    assert proc.returncode != 0
    assert f"the model files digest to {signed}, not the signed {other}" in proc.stderr
    assert "so the pod does not start" in proc.stderr


def test_without_the_digest_annotation_nothing_is_downloaded(
    kserve_python: Path, signoff_exe: str, model_store: tuple[str, str, str], tmp_path: Path
) -> None:
    url, _, _ = model_store
    dest = tmp_path / "mnt" / "models"
    for digest in (None, ""):
        proc = _run(kserve_python, signoff_exe, dest, url, digest)
        assert proc.returncode == 1
        assert "SIGNOFF_MODEL_DIGEST is empty" in proc.stderr and "refusing to download" in proc.stderr
        assert not dest.exists()


def test_a_failed_download_does_not_start(
    kserve_python: Path, signoff_exe: str, model_store: tuple[str, str, str], tmp_path: Path
) -> None:
    url, signed, _ = model_store
    dest = tmp_path / "mnt" / "models"
    proc = _run(kserve_python, signoff_exe, dest, url.replace("model.tar.gz", "missing.tar.gz"), signed)
    assert proc.returncode != 0
    assert "is the signed digest" not in proc.stderr
