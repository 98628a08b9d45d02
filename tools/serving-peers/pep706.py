"""Run KServe's storage initializer on a Python without PEP 706's tarfile extraction filters.

kserve-storage unpacks a model archive with ``TarFile.extractall(..., filter="data")``; the filters
came in Python 3.11.4 (and 3.12). KServe's storage-initializer image runs a current Python 3.11; a
machine's own ``python3.11`` may be older (Debian 12's is 3.11.2, without them), and there
kserve-storage fails on every tar or tar.gz model with ``extractall() got an unexpected keyword
argument 'filter'``. The Makefile installs this module, with ``backports.tarfile`` (CPython 3.12's
tarfile, filters included), into the kserve-storage venv only when that venv's Python lacks the
filters; a ``.pth`` line imports it at start-up, before anything imports ``tarfile``.
"""

import sys
import tarfile

if not hasattr(tarfile, "data_filter"):
    import backports.tarfile

    sys.modules["tarfile"] = backports.tarfile
