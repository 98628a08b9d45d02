"""Publishing Prometheus metrics: to a Pushgateway over HTTP, or as a node-exporter textfile.

The only I/O of ``signoff drift``; the metrics themselves are built by :mod:`gates.drift`.

* :func:`push` replaces one Pushgateway group (``PUT /metrics/job/<job>/<label>/<value>...``, the
  Pushgateway's API), so a job that stops reporting a gauge removes it instead of leaving a stale
  value. Label values are sent base64url-encoded (``<label>@base64/<value>``) so any value fits a path.
* :func:`write_textfile` writes ``<name>.prom`` atomically (a temporary file in the same folder, then a
  rename), as node-exporter's textfile collector requires: it never reads a half-written file.

Failures: a connection refused, a timeout or a 5xx is a :class:`~contracts.errors.TemporaryError`
(exit 3, retried by KFP/Argo); a 4xx (the Pushgateway refused the metrics) is a
:class:`~contracts.errors.PermanentError` carrying the Pushgateway's message.
"""

from __future__ import annotations

import base64
import os
import tempfile
import urllib.parse
from pathlib import Path

from components import http_client
from contracts import errors

__all__ = ["push", "write_textfile"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _segment(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=") or "="


def group_url(base: str, grouping: dict[str, str]) -> str:
    """The Pushgateway URL of the group ``grouping`` (its first item is the job)."""
    parsed = urllib.parse.urlsplit(base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise errors.InputError(
            f"--pushgateway {base!r} is not an http(s) URL; write it as http://HOST:9091 (the Pushgateway's "
            "default port)"
        )
    items = list(grouping.items())
    job_label, job = items[0]
    if job_label != "job":
        raise ValueError("the first grouping label must be 'job'")
    path = f"/metrics/job@base64/{_segment(job)}"
    for label, value in items[1:]:
        path += f"/{label}@base64/{_segment(value)}"
    return base.rstrip("/") + path


def push(base: str, grouping: dict[str, str], body: str, *, timeout: float = 10.0) -> str:
    """Replace the Pushgateway group ``grouping`` with the metrics in ``body``; returns the group URL."""
    url = group_url(base, grouping)
    try:
        answer = http_client.fetch(
            url, method="PUT", body=body.encode(), headers={"Content-Type": CONTENT_TYPE}, timeout=timeout
        )
    except OSError as exc:
        reason = getattr(exc, "reason", exc)
        raise errors.TemporaryError(f"cannot reach the Pushgateway at {base}: {reason}") from None
    if not answer.ok:
        detail = answer.body.decode(errors="replace").strip()[:500]
        message = (
            f"the Pushgateway at {base} answered {answer.status} to PUT {url}: {detail or answer.reason}"
        )
        if answer.status >= 500:
            raise errors.TemporaryError(message) from None
        raise errors.PermanentError(message) from None
    return url


def write_textfile(path: str | Path, body: str) -> Path:
    """Write ``body`` to ``path`` (which must end in ``.prom``) atomically; returns the path."""
    target = Path(path)
    if target.suffix != ".prom":
        raise errors.InputError(
            f"--textfile {str(target)!r}: node-exporter's textfile collector reads only files ending in .prom"
        )
    folder = target.parent
    if not folder.is_dir():
        raise errors.InputError(f"--textfile {str(target)!r}: folder {str(folder)!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=folder)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        raise errors.InputError(f"--textfile {str(target)!r}: cannot write: {exc.strerror}") from None
    return target
