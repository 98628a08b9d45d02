"""Run by the bench peers' interpreter (``make bench-peers``), not by signoff's: OpenSSF model-signing's
sha256 hashing of one folder, timed around ``Config.hash`` alone (its import and start-up excluded).

    <peers venv>/bin/python bench/_peer_model_signing.py FOLDER WORKERS

Prints one JSON line: ``{"seconds": ..., "files": ..., "version": ...}``.
"""

from __future__ import annotations

import json
import sys
import time
from importlib import metadata

from model_signing import hashing


def main() -> None:
    folder, workers = sys.argv[1], int(sys.argv[2])
    config = hashing.Config().use_file_serialization(hashing_algorithm="sha256", max_workers=workers)
    started = time.perf_counter()
    manifest = config.hash(folder)
    seconds = time.perf_counter() - started
    files = len(list(manifest.resource_descriptors()))
    print(json.dumps({"seconds": seconds, "files": files, "version": metadata.version("model-signing")}))


if __name__ == "__main__":
    main()
