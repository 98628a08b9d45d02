"""The MLflow registry adapter: the ONLY module of signoff that imports ``mlflow``.

It gathers the ML-artifact gate's evidence from a model version, keeps every signed verdict with its
model version, promotes (moves the production alias) safely, rolls back and audits. What the files of
a downloaded version say (MLmodel, requirements, formats, path safety) is read by
:mod:`components.model_files`, not here.

Why it is longer than 500 lines: one :class:`Registry` holds the retry wrapper (``_call``) and the
lock every registry write goes through; promotion, rollback and audit read and write the same tags
under that lock and are kept beside it. Splitting them into modules of their own is the next step
(the promote/rollback/audit record logic is the part to move out).

Where things are kept (all plain MLflow tags, so any engine and ``signoff audit`` can read them):

* model version tags ``signoff.verdict.<gate>`` hold the DSSE envelope of that gate's latest verdict
  (envelopes longer than the registry's tag value limit, :attr:`Registry.tag_limit`, are split into
  ``.part-<i>`` tags), ``signoff.verdict.<gate>.digest`` its ``sha256:`` digest and
  ``signoff.summary.<gate>`` one line for people (passed or refused, signed by, when);
* model version tags ``signoff.promotion.<id>`` / ``signoff.rollback.<id>`` hold the promotion and
  rollback records (JSON, with a ``summary`` line), their envelopes (each kept once) in
  ``signoff.promotion-envelope.<id>`` / ``signoff.rollback-envelope.<id>``. A promotion envelope
  without its record is an interrupted promotion (the envelope is written before any alias moves,
  the record last, after the aliases and their tags); earlier versions wrote a ``pending`` record
  first and a copy of the envelope as ``signoff.verdict.promotion``: both are still read;
* registered model tags ``signoff.alias.<alias>`` name the version and record signoff last put
  behind each alias. An alias pointing elsewhere was moved outside signoff: the audit says UNBACKED.

The calls of a promotion go to MLflow's REST API directly (:class:`_Rest`, one kept-alive
connection; no mlflow import): the version read once (by the caller, :meth:`Registry.version_view`),
the lock, the production alias read, the envelope, the aliases, the record, the alias tags, the
release. Everything else (evidence, audit, rollback's alias removal) uses MlflowClient.

MLflow has no compare-and-set on aliases, so promotion and rollback hold a lock: a registered model
named ``signoff-lock.<name>``, whose creation is atomic in the registry (the name is its primary key).
The holder and a lease expiry are its tags; a lock whose lease ran out (a crashed holder) is taken
over, and the same promotion re-run takes over its own lock at once.

Remote calls go through :meth:`Registry._call`, which retries transient failures (connection refused,
timeouts, 5xx) with bounded exponential backoff. MLflow's own HTTP retries are switched off around
each of these calls only (they re-send POSTs blindly and wait minutes on a dead server; a user's own
``MLFLOW_HTTP_REQUEST_*`` settings are kept); non-idempotent writes are never retried blindly: a lock
creation that failed ambiguously is checked by reading the lock back.

Stale-lock takeover re-reads the lock, deletes it only if it still names the crashed holder, and
re-creates it; only one re-creation succeeds. A small window remains (without compare-and-set in
MLflow): a taker's delete landing between another taker's delete and re-create. It needs two takers
of one expired lock within milliseconds; leases are long (``lease_s``) to make expiries rare.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import shutil
import ssl
import threading
import time
import urllib.parse
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from components import http_client, model_files
from components import probe as probing
from components.digest import hash_file
from components.model_files import RAN_HERE, check_artifact_path, check_source
from contracts import errors
from contracts.model_uri import logged_model_id, parse_model_uri
from contracts.trust import Gate, TrustPolicy
from gates import audit as audit_rule
from gates import rollback as rollback_rule
from gates.audit import AliasReport, AliasStatus, AuditReport, HistoryEntry
from gates.evidence import FileEntry, FileManifest, MlEvidence, PredictionCheck
from gates.ml_artifact import manifest_digest
from gates.verdict import Subject, Verdict, digest_bytes

if TYPE_CHECKING:
    from contracts.workload import WorkloadContract

__all__ = [
    "CHUNK",
    "PREDICTION_DEFERRED_TO",
    "PREDICT_HERE_MAX_BYTES",
    "RAN_HERE",
    "AliasReport",
    "AliasStatus",
    "AuditReport",
    "HistoryEntry",
    "PromotionResult",
    "Registry",
    "RollbackResult",
    "VersionView",
    "check_artifact_path",
    "check_source",
    "resolve_serving_ref",
]

_T = TypeVar("_T")

CHUNK = 60_000
"""Longest tag value signoff writes; longer envelopes are split."""
SUMMARY_MAX = 300
"""Longest one-line summary of a verdict kept for people (well within every registry's tag limit)."""
PREDICT_HERE_MAX_BYTES = 2 * 10**9
"""The largest model the ML step downloads whole to run its example prediction in its own process;
a larger one (or one whose runtime is not installed there) is predicted on by the staging probe."""
PREDICTION_DEFERRED_TO = "sre-readiness"
"""The step whose staging probe runs a deferred example prediction."""
LOCK_PREFIX = "signoff-lock."
UC_LOCK_PREFIX = "signoff_lock__"
TAG = "signoff."
TAG_LIMIT_ENV = "SIGNOFF_MLFLOW_TAG_LIMIT"
TAG_STYLE_ENV = "SIGNOFF_MLFLOW_TAG_STYLE"
_TRANSIENT_CODES = frozenset(
    {"TEMPORARILY_UNAVAILABLE", "INTERNAL_ERROR", "REQUEST_LIMIT_EXCEEDED", "DEADLINE_EXCEEDED", "ABORTED"}
)
_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "ENDPOINT_NOT_FOUND"})


# ---------------------------------------------------------------------------------------------- REST


class _RestError(Exception):
    """An MLflow REST answer other than 200: its HTTP status, ``error_code`` and message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code or status}: {message}")
        self.status, self.code = status, code


class _Rest:
    """MLflow's REST API (``/api/2.0/mlflow/...``) over one kept-alive connection.

    The registry calls of a promotion go straight to it: one HTTP round trip each, where
    MlflowClient's write methods first read the registered model (to refuse prompts), and without
    importing mlflow in the step process. Authentication as MlflowClient reads it from the
    environment: ``MLFLOW_TRACKING_TOKEN`` (bearer) or ``MLFLOW_TRACKING_USERNAME`` /
    ``MLFLOW_TRACKING_PASSWORD`` (basic); TLS: ``MLFLOW_TRACKING_SERVER_CERT_PATH``,
    ``MLFLOW_TRACKING_INSECURE_TLS``.
    """

    IDLE_S = 2.0
    """A connection idle for longer is replaced before use (servers close idle ones: uvicorn 5 s)."""

    def __init__(self, uri: str) -> None:
        self.target = http_client.Target.parse(uri)
        self.https = self.target.https
        self.base = self.target.base
        self.headers = {"Content-Type": "application/json", "User-Agent": "signoff"}
        token = os.environ.get("MLFLOW_TRACKING_TOKEN")
        user, password = (
            os.environ.get("MLFLOW_TRACKING_USERNAME"),
            os.environ.get("MLFLOW_TRACKING_PASSWORD"),
        )
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif user and password:
            basic = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {basic}"
        self.timeout = float(os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT") or 30)
        self._local = threading.local()  # one connection per thread (the listeners serve in threads)

    @property
    def _conn(self) -> http_client.HTTPConnection | None:
        conn: http_client.HTTPConnection | None = getattr(self._local, "conn", None)
        return conn

    @_conn.setter
    def _conn(self, conn: http_client.HTTPConnection | None) -> None:
        self._local.conn = conn

    @property
    def _used(self) -> float:
        return float(getattr(self._local, "used", 0.0))

    @_used.setter
    def _used(self, at: float) -> None:
        self._local.used = at

    def _connection(self) -> http_client.HTTPConnection:
        if self._conn is not None and time.monotonic() - self._used > self.IDLE_S:
            self.close()
        conn = self._conn
        if conn is None:
            if self.https:
                ctx = ssl.create_default_context(cafile=os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH"))
                if os.environ.get("MLFLOW_TRACKING_INSECURE_TLS", "").lower() == "true":
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                conn = self.target.connect(self.timeout, tls=ctx)
            else:
                conn = self.target.connect(self.timeout)
            self._conn = conn
        return conn

    def close(self) -> None:
        conn = self._conn
        if conn is not None:
            conn.close()
            self._conn = None

    def call(
        self, method: str, endpoint: str, body: Mapping[str, Any] | None = None, **query: str
    ) -> dict[str, Any]:
        """One request; the JSON answer. Raises :class:`_RestError`, or ``OSError`` /
        ``http.client.HTTPException`` (:data:`http_client.TRANSPORT_ERRORS`) when the server cannot
        be reached."""
        path = f"{self.base}/api/2.0/mlflow/{endpoint}"
        if query:
            path += "?" + urllib.parse.urlencode(query)
        data = json.dumps(body).encode("utf-8") if body is not None else None
        conn = self._connection()
        try:
            conn.request(method, path, body=data, headers=self.headers)
            resp = conn.getresponse()
            raw = resp.read()
        except http_client.TRANSPORT_ERRORS:
            self.close()
            raise
        self._used = time.monotonic()
        if resp.will_close:
            self.close()
        try:
            doc = json.loads(raw) if raw.strip() else {}
        except ValueError:
            doc = {"message": raw[:300].decode("utf-8", "replace")}
        if resp.status != 200:
            raise _RestError(resp.status, str(doc.get("error_code") or ""), str(doc.get("message") or ""))
        if not isinstance(doc, dict):
            raise _RestError(resp.status, "", "the answer is not a JSON object")
        return doc


def _proxied(scheme: str, host: str) -> bool:
    """Whether the environment sends requests to ``host`` through a proxy (``HTTPS_PROXY`` and
    ``NO_PROXY``, as MlflowClient's ``requests`` reads them): then MlflowClient makes the calls."""
    return http_client.proxied(scheme, host)


def _tag_map(items: Any) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in items or []}


@dataclass(frozen=True)
class _Version:
    """A model version as the REST API returns it (the fields signoff reads)."""

    name: str
    version: str
    status: str
    source: str
    run_id: str
    tags: dict[str, str]

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> _Version:
        mv = doc.get("model_version") or {}
        return cls(
            str(mv.get("name", "")),
            str(mv.get("version", "")),
            str(mv.get("status", "")),
            str(mv.get("source", "")),
            str(mv.get("run_id", "")),
            _canon(_tag_map(mv.get("tags"))),
        )


@dataclass(frozen=True)
class _Model:
    """A registered model as the REST API returns it (the fields signoff reads)."""

    name: str
    tags: dict[str, str]
    aliases: dict[str, str]

    @classmethod
    def of(cls, doc: Mapping[str, Any]) -> _Model:
        rm = doc.get("registered_model") or {}
        aliases = {str(a["alias"]): str(a["version"]) for a in rm.get("aliases") or []}
        return cls(str(rm.get("name", "")), _canon(_tag_map(rm.get("tags"))), aliases)


# ------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class PromotionResult:
    model: str
    version: str
    previous: str | None
    """The version that was production before (now under the rollback alias), if any."""
    promotion_id: str
    already_done: bool = False
    """True when this exact promotion had completed before (a re-run)."""

    def __str__(self) -> str:
        prev = f" (previous: {self.previous})" if self.previous else " (first release)"
        return f"{self.model} version {self.version} is production{prev}; record {self.promotion_id[:16]}"


@dataclass(frozen=True)
class RollbackResult:
    model: str
    from_version: str
    to_version: str
    rollback_id: str
    automated: bool
    reason: str


# --------------------------------------------------------------------------------------- path checks


# ---------------------------------------------------------------------------------- envelope helpers


def _now_iso(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="milliseconds")


def _peek(envelope: bytes) -> dict[str, Any]:
    """The verdict inside an envelope, NOT verified (only to name its gate, team and subject)."""
    try:
        doc = json.loads(envelope)
        payload = json.loads(base64.b64decode(doc["payload"], validate=True))
        predicate = payload["predicate"]
        if not isinstance(predicate, dict):
            raise TypeError("predicate is not an object")
        return predicate
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise errors.InputError(f"not a signoff DSSE envelope of a verdict: {exc}") from exc


def _encode(envelope: bytes) -> str:
    try:
        text = envelope.decode("ascii")
        if text.startswith("{"):
            return text
    except UnicodeDecodeError:
        pass
    return "b64:" + base64.b64encode(envelope).decode("ascii")


def _decode(text: str) -> bytes:
    if text.startswith("b64:"):
        return base64.b64decode(text[4:])
    return text.encode("ascii", errors="surrogateescape")


def _get(tags: Mapping[str, str], key: str) -> bytes | None:
    """The envelope (or other bytes) kept under ``key``, joined from its chunks when it was split."""
    text = tags.get(key)
    if text is None:
        return None
    m = re.fullmatch(r"chunks:(\d+):(sha256:[0-9a-f]{64})", text)
    if m:
        text = "".join(tags.get(f"{key}.part-{i}", "") for i in range(int(m[1])))
    return _decode(text)


def _wire(key: str, uc: bool) -> str:
    """A signoff tag key as written: itself, or in Unity Catalog's alphabet (no ``.`` or ``-``:
    ``signoff.verdict.ml-artifact`` -> ``signoff__verdict__ml_artifact``)."""
    if not uc or not key.startswith(TAG):
        return key
    if "_" in key:
        raise errors.InputError(
            f"tag key {key!r}: Unity Catalog tag keys allow no '.' or '-', so signoff writes '__' and '_' "
            "for them; a name with '_' in it (an alias?) cannot be told apart: use one without"
        )
    return key.replace(".", "__").replace("-", "_")


def _canon(tags: Mapping[str, Any] | None) -> dict[str, str]:
    """Tags as signoff reads them: keys written in Unity Catalog's alphabet back to their own."""
    out: dict[str, str] = {}
    for k, v in (tags or {}).items():
        key = str(k)
        if key.startswith("signoff__"):
            key = key.replace("__", ".").replace("_", "-")
        out[key] = str(v)
    return out


def _records(tags: Mapping[str, str], kind: str) -> dict[str, dict[str, Any]]:
    """The ``promotion`` or ``rollback`` records among a version's tags: short id -> record."""
    out: dict[str, dict[str, Any]] = {}
    for k in sorted(tags):
        m = re.fullmatch(rf"signoff\.{kind}\.([0-9a-f]{{16}})", k)
        raw = _get(tags, k) if m else None
        if m is None or raw is None:
            continue
        try:
            rec = json.loads(raw)
        except ValueError:
            continue
        if isinstance(rec, dict):
            out[m[1]] = rec
    return out


def _record(tags: Mapping[str, str], key: str) -> dict[str, Any] | None:
    """One record (JSON, possibly split) by its full key, or None."""
    raw = _get(tags, key)
    if raw is None:
        return None
    try:
        rec = json.loads(raw)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def _limit_in(message: str, length: int) -> int | None:
    """The tag value limit a registry's refusal of a ``length``-character value names, if it is one."""
    if length <= 250 or not re.search(r"length|long|limit|exceed|size", message, re.IGNORECASE):
        return None
    named = [n for n in (int(x) for x in re.findall(r"\d{3,7}", message)) if 250 <= n < length]
    if named:
        return max(named)
    return 5000 if length > 5000 else 1000 if length > 1000 else None


def _summary(predicate: Mapping[str, Any]) -> str:
    """A verdict in one line a person reads in the MLflow UI: gate, outcome, signer, when."""
    checks = [c for c in predicate.get("checks") or [] if isinstance(c, dict)]
    failed = [str(c.get("id")) for c in checks if c.get("outcome") == "fail"]
    outcome = "passed" if predicate.get("passed") else f"REFUSED ({', '.join(failed[:4]) or 'no reason'})"
    line = (
        f"{predicate.get('gate')}: {outcome}; signed by {predicate.get('team')} at "
        f"{predicate.get('issued_at')}; valid until {predicate.get('expires_at')}"
    )
    return line[:SUMMARY_MAX]


def _short(ident: str) -> str:
    return ident.removeprefix("sha256:")[:16]


# ------------------------------------------------------------------------------------------ registry


@dataclass(frozen=True)
class VersionView:
    """A model version as one read returned it: status and tags (:meth:`Registry.version_view`)."""

    name: str
    version: str
    status: str
    tags: Mapping[str, str]

    def envelopes(self) -> dict[Gate, bytes]:
        """Every gate's latest signed verdict kept with the version (unverified bytes, as stored).

        The promotion verdict is kept once, in its record's envelope tag; the newest complete
        promotion's is returned for :attr:`Gate.PROMOTION` (an older layout's
        ``signoff.verdict.promotion`` copy is still read when it is there).
        """
        out: dict[Gate, bytes] = {}
        for gate in Gate:
            env = _get(self.tags, f"{TAG}verdict.{gate.value}")
            if env is not None:
                out[gate] = env
        if Gate.PROMOTION not in out:
            done = sorted(
                (str(rec.get("at", "")), rid)
                for rid, rec in self.records("promotion").items()
                if rec.get("state") == "complete"
            )
            env = _get(self.tags, f"{TAG}promotion-envelope.{done[-1][1]}") if done else None
            if env is not None:
                out[Gate.PROMOTION] = env
        return out

    def records(self, kind: str) -> dict[str, dict[str, Any]]:
        """The ``promotion`` or ``rollback`` records kept with the version: short id -> record."""
        return _records(self.tags, kind)

    def pending_promotion(self) -> bytes | None:
        """The envelope of an interrupted promotion of this version, if there is one: an envelope
        kept without its record (or, in the earlier layout, a record still ``pending``); the newest
        one when there are several."""
        records = self.records("promotion")
        for rid, rec in records.items():
            if rec.get("state") == "pending":
                return _get(self.tags, f"{TAG}promotion-envelope.{rid}")
        found: list[tuple[str, bytes]] = []
        for k in self.tags:
            m = re.fullmatch(r"signoff\.promotion-envelope\.([0-9a-f]{16})", k)
            env = _get(self.tags, k) if m and m[1] not in records else None
            if env is not None:
                try:
                    found.append((str(_peek(env).get("issued_at", "")), env))
                except errors.InputError:
                    continue
        return max(found)[1] if found else None


@dataclass
class _Lock:
    name: str
    holder: str
    until: float = 0.0
    """Our lease's end (wall clock), when we took the lock; 0 for another holder's lock."""


_RELEASE_MARGIN_S = 10.0
"""Releasing our own lock with more than this left of its lease deletes it at once: nobody may take
over a lock before its lease runs out, so it is still ours (no read-back needed)."""


@dataclass
class Registry:
    """The registry of one MLflow tracking server (HTTP) or local store (``sqlite:///...``).

    Args:
        tracking_uri: The tracking URI; none reads ``$MLFLOW_TRACKING_URI``.
        attempts: Tries per remote call before a transient failure becomes ``TemporaryError``.
        backoff_s: First backoff; doubled after each try, capped at 8 seconds.
        lease_s: How long a promotion lock is held before others may take it over.
    """

    tracking_uri: str | None = None
    attempts: int = 5
    backoff_s: float = 0.5
    lease_s: float = 120.0
    tag_limit: int | None = None
    """Longest tag value to write; longer values are split. None: ``$SIGNOFF_MLFLOW_TAG_LIMIT``, else
    :data:`CHUNK`, lowered to the limit a registry names when it refuses a value as too long (OSS
    servers before MLflow 2.x: 5,000; Unity Catalog: 1,000)."""
    tag_style: str | None = None
    """``uc``: tag keys in Unity Catalog's alphabet (no ``.`` or ``-``) and lock models named as
    Unity Catalog allows; default ``$SIGNOFF_MLFLOW_TAG_STYLE``, else ``uc`` for a
    ``databricks-uc`` registry and plain MLflow keys otherwise. Both spellings are always read."""
    _client: Any = field(default=None, init=False, repr=False)
    _rest: _Rest | None = field(default=None, init=False, repr=False)
    _uc: bool = field(default=False, init=False, repr=False)
    _limit: int = field(default=CHUNK, init=False, repr=False)
    _hooks: dict[str, Callable[[], None]] = field(default_factory=dict, init=False, repr=False)
    calls: int = field(default=0, init=False)
    """Remote calls made (for the benchmark)."""

    def __post_init__(self) -> None:
        uri = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            raise errors.InputError(
                "no MLflow tracking URI: pass one (e.g. http://mlflow:5000 or sqlite:///mlflow.db) "
                "or set MLFLOW_TRACKING_URI"
            )
        self.tracking_uri = uri
        if self.attempts < 1:
            raise errors.InputError("attempts must be at least 1")
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme in ("http", "https") and not _proxied(parts.scheme, parts.hostname or ""):
            self._rest = _Rest(uri)
        style = (
            self.tag_style
            or os.environ.get(TAG_STYLE_ENV)
            or ("uc" if uri.startswith("databricks-uc") else "")
        )
        if style not in ("", "mlflow", "uc"):
            raise errors.InputError(f"${TAG_STYLE_ENV} / tag_style: {style!r} is not 'mlflow' or 'uc'")
        self._uc = style == "uc"
        limit = self.tag_limit or os.environ.get(TAG_LIMIT_ENV) or CHUNK
        try:
            self._limit = int(limit)
        except ValueError:
            raise errors.InputError(f"${TAG_LIMIT_ENV}: {limit!r} is not a number of characters") from None
        if self._limit < 250:
            raise errors.InputError(f"tag value limit {self._limit}: at least 250 characters are needed")

    # ----------------------------------------------------------------------------- remote calls

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        return self._client

    @property
    def writer(self) -> Any:
        """The registry client MlflowClient delegates to. MlflowClient's own write methods first GET
        the registered model to refuse prompts (one extra round trip per write); signoff checks that
        once per promotion or rollback (:meth:`_not_a_prompt`) and writes through this directly."""
        get = getattr(self.client, "_get_registry_client", None)
        return get() if get is not None else self.client

    def _hook(self, point: str) -> None:
        """Test seam: run the callable registered for ``point`` (e.g. kill the server right there)."""
        fn = self._hooks.get(point)
        if fn is not None:
            fn()

    @staticmethod
    def _classify(exc: BaseException) -> tuple[str, str]:
        """(``transient`` | ``not-found`` | ``exists`` | ``invalid`` | ``other``, message)."""
        msg = str(exc)
        if isinstance(exc, _RestError):
            if exc.code in _NOT_FOUND_CODES or (exc.status == 404 and not exc.code):
                return "not-found", msg
            if exc.code == "RESOURCE_ALREADY_EXISTS":
                return "exists", msg
            if exc.code in _TRANSIENT_CODES or exc.status >= 500 or exc.status == 429:
                return "transient", msg
            if exc.code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE") or exc.status == 400:
                return "invalid", msg
            return "other", msg
        if isinstance(exc, http_client.UNREACHABLE):
            return "transient", msg
        from mlflow.exceptions import MlflowException

        if isinstance(exc, MlflowException):
            code = str(exc.error_code)
            if code in _NOT_FOUND_CODES:
                return "not-found", msg
            if code == "RESOURCE_ALREADY_EXISTS":
                return "exists", msg
            if code in _TRANSIENT_CODES or "API request to" in msg:
                return "transient", msg
            if code in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE"):
                return "invalid", msg
            return "other", msg
        import requests

        if isinstance(exc, requests.exceptions.RequestException | ConnectionError | TimeoutError):
            return "transient", msg
        return "other", msg

    def _call(self, what: str, fn: Callable[..., _T], *args: Any, retry: bool = True, **kwargs: Any) -> _T:
        """One remote call: retried on transient failures when ``retry``; errors mapped to signoff's."""
        delay = self.backoff_s
        attempts = self.attempts if retry else 1
        for attempt in range(1, attempts + 1):
            self.calls += 1
            try:
                with _own_retries():
                    return fn(*args, **kwargs)
            except errors.SignoffError:
                raise
            except Exception as exc:
                kind, msg = self._classify(exc)
                if kind == "transient":
                    if attempt < attempts:
                        time.sleep(delay)
                        delay = min(delay * 2, 8.0)
                        continue
                    raise errors.TemporaryError(
                        f"MLflow at {self.tracking_uri} did not answer {what} after {attempts} tries: {msg}"
                    ) from exc
                if kind == "not-found":
                    raise errors.InputError(
                        f"{what}: not found in MLflow at {self.tracking_uri}: {msg}"
                    ) from exc
                if kind == "exists":
                    raise _Exists(msg) from exc
                if kind == "invalid":
                    raise errors.InputError(f"{what}: MLflow refused: {msg}") from exc
                raise errors.PermanentError(f"{what}: MLflow failed: {msg}") from exc
        raise AssertionError("unreachable")

    # ----------------------------------------------------------------------------- model versions

    def resolve(self, model_uri: str, *, read: bool = True) -> tuple[str, str]:
        """``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` -> ``(name, version)``.

        ``read=False``: a version URI is not looked up here (the caller reads that version next).

        Raises:
            InputError: not such a URI, or the model, version or alias does not exist.
        """
        ref = parse_model_uri(model_uri, what="model URI", alias=True)
        name = ref.name
        if ref.version is not None:
            if read:
                self._version(name, ref.version)
            return name, ref.version
        return name, self._by_alias(name, str(ref.alias), f"alias {ref.alias!r} of model {name!r}")

    def _version(self, name: str, version: str) -> Any:
        what = f"model {name!r} version {version}"
        if self._rest is not None:
            doc = self._call(
                what, self._rest.call, "GET", "model-versions/get", name=name, version=str(version)
            )
            return _Version.of(doc)
        mv = self._call(what, self.client.get_model_version, name, str(version))
        return _Version(
            str(mv.name),
            str(mv.version),
            str(mv.status),
            str(mv.source or ""),
            str(mv.run_id or ""),
            _canon(mv.tags),
        )

    def _model(self, name: str) -> Any:
        what = f"registered model {name!r}"
        if self._rest is not None:
            return _Model.of(self._call(what, self._rest.call, "GET", "registered-models/get", name=name))
        rm = self._call(what, self.client.get_registered_model, name)
        aliases = {str(k): str(v) for k, v in (rm.aliases or {}).items()}
        return _Model(str(rm.name), _canon(rm.tags), aliases)

    def _tags(self, name: str, version: str) -> dict[str, str]:
        return dict(self._version(name, version).tags or {})

    def _set_tag(self, name: str, version: str, key: str, value: str) -> None:
        what = f"tag {key} on {name} version {version}"
        key = _wire(key, self._uc)
        try:
            if self._rest is not None:
                body = {"name": name, "version": str(version), "key": key, "value": value}
                self._call(what, self._rest.call, "POST", "model-versions/set-tag", body)
                return
            self._call(what, self.writer.set_model_version_tag, name, version, key, value)
        except errors.InputError as exc:
            learned = _limit_in(str(exc), len(value))
            if learned is None or learned >= self._limit:
                raise
            self._limit = learned  # the registry named its limit: split to fit it from now on
            raise _TooLong(f"{what}: {exc}") from exc

    def _set_model_tag(self, name: str, key: str, value: str) -> None:
        what = f"tag {key} on {name}"
        key = _wire(key, self._uc)
        if self._rest is not None:
            self._call(
                what,
                self._rest.call,
                "POST",
                "registered-models/set-tag",
                {"name": name, "key": key, "value": value},
            )
            return
        self._call(what, self.writer.set_registered_model_tag, name, key, value)

    def _set_alias(self, name: str, alias: str, version: str) -> None:
        what = f"alias {alias} of {name} -> {version}"
        if self._rest is not None:
            body = {"name": name, "alias": alias, "version": str(version)}
            self._call(what, self._rest.call, "POST", "registered-models/alias", body)
            return
        self._call(what, self.writer.set_registered_model_alias, name, alias, version)

    def _by_alias(self, name: str, alias: str, what: str) -> str:
        if self._rest is not None:
            doc = self._call(what, self._rest.call, "GET", "registered-models/alias", name=name, alias=alias)
            return _Version.of(doc).version
        return str(self._call(what, self.client.get_model_version_by_alias, name, alias).version)

    def _alias(self, name: str, alias: str) -> str | None:
        """The version behind one alias, or None when the alias is not set."""
        try:
            return self._by_alias(name, alias, f"alias {alias!r} of {name!r}")
        except errors.InputError:
            return None

    def _create_lock(self, lock: str, tags: Mapping[str, str]) -> None:
        """Create the lock model (not retried blindly: an ambiguous failure is resolved by reading back)."""
        what = f"lock {lock}"
        tags = {_wire(k, self._uc): v for k, v in tags.items()}
        if self._rest is not None:
            body = {"name": lock, "tags": [{"key": k, "value": v} for k, v in tags.items()]}
            self._call(what, self._rest.call, "POST", "registered-models/create", body, retry=False)
            return
        self._call(what, self.writer.create_registered_model, lock, tags=dict(tags), retry=False)

    def _delete_model(self, name: str) -> None:
        what = f"release {name}"
        if self._rest is not None:
            self._call(what, self._rest.call, "DELETE", "registered-models/delete", {"name": name})
            return
        self._call(what, self.writer.delete_registered_model, name)

    def _aliases(self, name: str) -> dict[str, str]:
        model = self._model(name)
        if str(dict(model.tags or {}).get("mlflow.prompt.is_prompt", "")).lower() == "true":
            raise errors.InputError(f"{name!r} is an MLflow prompt, not a registered model")
        return {str(k): str(v) for k, v in (model.aliases or {}).items()}

    # ----------------------------------------------------------------------------- evidence

    def gather_evidence(
        self, model_uri: str, workdir: Path, *, predict_max_bytes: int | None = None
    ) -> tuple[Subject, MlEvidence]:
        """Gather the ML gate's evidence about a model version, keeping only its small metadata files.

        Every file of the version is downloaded one at a time to a scratch file, hashed and deleted
        (peak disk: the largest file), except the metadata kept in a fresh folder of ``workdir``:
        ``MLmodel``, the stored input example and the requirements files. The example prediction
        runs here only when this process can load the model (full mlflow, the flavor's loader and
        every requirement of the model installed) and the model is at most ``predict_max_bytes``;
        then the whole model is kept in that folder for it. Otherwise the prediction is deferred to
        the sre-readiness probe of the staging endpoint, and the evidence says why.

        Args:
            model_uri: ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS``.
            workdir: A folder; a new subfolder is created in it for the kept files.
            predict_max_bytes: The largest model loaded here for the prediction (default
                :data:`PREDICT_HERE_MAX_BYTES`).

        Returns:
            The subject (name, version, digest of the files' manifest) and the evidence.

        Raises:
            InputError: bad URI, model or version not found.
            PermanentError: the source or an artifact path would escape the download folder.
            TemporaryError: the server did not answer.
        """

        limit = PREDICT_HERE_MAX_BYTES if predict_max_bytes is None else predict_max_bytes
        name, version = self.resolve(model_uri)
        mv = self._version(name, version)
        source = str(mv.source or "")
        run_id = str(mv.run_id) if mv.run_id else None
        file_root = self._local_artifact_root(run_id)
        model_files.check_source(source, file_root=file_root)
        download_uri = self._call(
            f"download location of {name} version {version}",
            self.client.get_model_version_download_uri,
            name,
            version,
        )
        model_files.check_source(str(download_uri), file_root=file_root)

        repo, listed = self._list(str(download_uri))
        dest = Path(workdir) / f"model-{uuid.uuid4().hex[:12]}"
        dest.mkdir(parents=True)
        scratch = Path(workdir) / f"{dest.name}.scratch"
        scratch.mkdir()
        try:
            hashed: dict[str, tuple[str, int]] = {}
            for meta_name in ("MLmodel", "requirements.txt"):
                if meta_name in listed and (listed[meta_name] or 0) <= _KEEP_MAX_BYTES:
                    hashed[meta_name] = self._fetch(repo, meta_name, dest / meta_name)
            mlmodel = model_files.read_mlmodel(dest)
            listed_bytes = sum(size or 0 for size in listed.values())
            gap = model_files.runtime_gap(mlmodel, dest)
            if gap is None and listed_bytes > limit:
                gap = (
                    f"the model is {model_files.human(listed_bytes)}, more than the "
                    f"{model_files.human(limit)} the ML step downloads to load a model"
                )
            keep = model_files.example_names(mlmodel) | {"MLmodel", *model_files.REQUIREMENT_FILES}
            for path in sorted(listed):
                if path in hashed:
                    continue
                kept = gap is None or (path in keep and (listed[path] or 0) <= _KEEP_MAX_BYTES)
                target = dest / path if kept else scratch / uuid.uuid4().hex
                hashed[path] = self._fetch(repo, path, target)
                if not kept:
                    target.unlink()
            model_files.check_tree(dest)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        entries = [FileEntry(path=p, size=size, sha256=sha) for p, (sha, size) in sorted(hashed.items())]
        manifest = FileManifest(files=tuple(entries), digest=manifest_digest(entries))
        has_example = bool(mlmodel.get("saved_input_example_info")) or any(
            (dest / n).is_file() for n in model_files.EXAMPLE_FILES
        )
        example_error: str | None = None
        rows: int | None = None
        if has_example:
            try:
                rows = probing.example_rows(probing.load_example(dest))
            except errors.InputError as exc:
                example_error = str(exc).replace(str(dest), "<model>")
        if gap is None:
            prediction, has_example = self._predict(dest)
            if prediction.ran:
                example_error = None  # mlflow read it, whatever its format
        elif not has_example:
            prediction = PredictionCheck(ran=False, ok=False, error="no input example stored")
        else:
            prediction = PredictionCheck(
                ran=False, ok=False, rows_in=rows, deferred_to=PREDICTION_DEFERRED_TO, deferred_reason=gap
            )
        metrics = self._metrics(run_id, source)
        subject = Subject(model=name, version=version, digest=manifest.digest)
        evidence = MlEvidence(
            model=name,
            version=version,
            status=str(mv.status),
            source=source,
            run_id=run_id,
            flavors=tuple(sorted(mlmodel.get("flavors", {}))),
            signature_inputs=model_files.json_text(mlmodel.get("signature", {}).get("inputs")),
            signature_outputs=model_files.json_text(mlmodel.get("signature", {}).get("outputs")),
            has_input_example=has_example,
            example_error=example_error,
            prediction=prediction,
            metrics=metrics,
            serialization_formats=model_files.serialization_formats(mlmodel, listed),
            artifact_size=manifest.total_size,
            manifest=manifest,
        )
        return subject, evidence

    def _local_artifact_root(self, run_id: str | None) -> str | None:
        if not run_id:
            return None
        try:
            run = self._call(f"run {run_id}", self.client.get_run, run_id)
            exp = self._call("experiment", self.client.get_experiment, run.info.experiment_id)
        except errors.InputError:
            return None
        loc = str(exp.artifact_location or "")
        parsed = urllib.parse.urlparse(loc)
        if parsed.scheme == "file":
            return urllib.parse.unquote(parsed.path)
        if parsed.scheme == "" and loc:
            return loc
        return None

    def _list(self, uri: str) -> tuple[Any, dict[str, int | None]]:
        """The artifact repository of ``uri`` and every file in it: relative path -> listed size."""
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        # The tracking URI explicitly: an ``mlflow-artifacts:`` location resolves against it, and the
        # process-wide default (MLflow 3: a sqlite file in the working folder) is not this server.
        repo = get_artifact_repository(uri, tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        found: dict[str, int | None] = {}

        def walk(path: str | None) -> None:
            for info in self._call(f"list artifacts of {uri}", repo.list_artifacts, path):
                model_files.check_artifact_path(str(info.path))
                if info.is_dir:
                    walk(info.path)
                else:
                    size = getattr(info, "file_size", None)
                    found[str(info.path)] = int(size) if size is not None else None

        walk(None)
        if not found:
            raise errors.InputError(f"{uri}: the model version has no artifacts")
        return repo, found

    def _fetch(self, repo: Any, path: str, target: Path) -> tuple[str, int]:
        """Download one artifact file to ``target`` and hash it: ``(sha256 hex, bytes)``."""

        target.parent.mkdir(parents=True, exist_ok=True)
        self._call(f"download {path}", repo._download_file, path, str(target))
        if target.is_symlink():
            raise errors.PermanentError(f"downloaded artifact {path} is a symlink")
        try:
            return hash_file(target)
        except errors.InputError as exc:
            raise errors.PermanentError(f"downloaded artifact {path}: {exc}") from None

    @staticmethod
    def _predict(dest: Path) -> tuple[PredictionCheck, bool]:
        try:
            from mlflow.models import Model

            meta = Model.load(str(dest / "MLmodel"))
            has_example = meta.saved_input_example_info is not None
            if not has_example:
                return PredictionCheck(ran=False, ok=False, error="no input example stored"), False
            example = meta.load_input_example(str(dest))
        except Exception as exc:  # a broken model must become evidence, not a crash
            return PredictionCheck(ran=False, ok=False, error=f"cannot read the model: {exc}"[:2000]), False
        rows = model_files.row_count(example)
        try:
            import mlflow.pyfunc

            # suppress_warnings: runtime_gap has checked every requirement is installed; MLflow's own
            # version comparison only logs, after mapping every installed distribution (~0.3-0.5 s)
            out = mlflow.pyfunc.load_model(str(dest), suppress_warnings=True).predict(example)
        except Exception as exc:
            return PredictionCheck(
                ran=True, ok=False, error=f"{type(exc).__name__}: {exc}"[:2000], rows_in=rows, ran_in=RAN_HERE
            ), True
        shape = getattr(out, "shape", None)
        if shape is None and hasattr(out, "__len__"):
            shape = (len(out),)
        return (
            PredictionCheck(
                ran=True,
                ok=True,
                output_shape=tuple(int(s) for s in shape) if shape else None,
                rows_in=rows,
                ran_in=RAN_HERE,
            ),
            True,
        )

    def _metrics(self, run_id: str | None, source: str) -> dict[str, float]:
        metrics: dict[str, float] = {}
        if run_id:
            run = self._call(f"run {run_id}", self.client.get_run, run_id)
            metrics.update({str(k): float(v) for k, v in (run.data.metrics or {}).items()})
        logged_id = logged_model_id(source)
        if logged_id is not None:
            try:
                logged = self._call(f"logged model {logged_id}", self.client.get_logged_model, logged_id)
                for metric in logged.metrics or []:
                    metrics[str(metric.key)] = float(metric.value)
            except errors.InputError:
                pass
        return metrics

    # ----------------------------------------------------------------------------- envelopes

    def store_envelope(self, name: str, version: str, gate: Gate, envelope: bytes) -> str:
        """Keep a signed verdict with its model version (replacing that gate's earlier one).

        Besides the envelope (``signoff.verdict.<gate>``) and its digest, a one-line summary for
        people is kept as ``signoff.summary.<gate>``: outcome, failing checks, signing team, issue
        and expiry times, as the envelope states them (the gates verify the envelope, not this line).

        Returns:
            The envelope's ``sha256:`` digest (also tagged ``signoff.verdict.<gate>.digest``).
        """
        self._version(name, str(version))
        self._put(name, str(version), f"{TAG}verdict.{Gate(gate).value}", envelope)
        # For people reading the version's tags in the MLflow UI (as signed; verified by the gates).
        try:
            line = _summary(_peek(envelope))
        except errors.InputError:
            line = f"{Gate(gate).value}: not readable as a signoff verdict (it will not verify)"
        self._set_tag(name, str(version), f"{TAG}summary.{Gate(gate).value}", line)
        return digest_bytes(envelope)

    def _put(self, name: str, version: str, key: str, envelope: bytes, *, digest_tag: bool = True) -> None:
        """Keep bytes (an envelope, a record, manifests) under ``key``, split into ``.part-<i>`` tags
        when longer than the registry's tag value limit (the ``chunks:N:DIGEST`` head written last)."""
        text = _encode(envelope)
        digest = digest_bytes(envelope)
        for _ in range(3):
            size = self._limit
            try:
                if len(text) <= size:
                    self._set_tag(name, version, key, text)
                else:
                    parts = [text[i : i + size] for i in range(0, len(text), size)]
                    for i, part in enumerate(parts):
                        self._set_tag(name, version, f"{key}.part-{i}", part)
                    self._set_tag(name, version, key, f"chunks:{len(parts)}:{digest}")
                break
            except _TooLong:
                continue  # the registry named a lower limit: split again to fit it
        else:
            raise errors.InputError(f"{key}: the registry refuses every split of it; set ${TAG_LIMIT_ENV}")
        if digest_tag:
            self._set_tag(name, version, f"{key}.digest", digest)

    @staticmethod
    def _get(tags: Mapping[str, str], key: str) -> bytes | None:
        return _get(tags, key)

    def envelopes(self, name: str, version: str) -> dict[Gate, bytes]:
        """Every gate's latest signed verdict kept with the version (unverified bytes, as stored)."""
        return self.version_view(name, version).envelopes()

    def version_view(self, name: str, version: str) -> VersionView:
        """One read of a model version: its status and every tag (what a promotion decides on)."""
        mv = self._version(name, str(version))
        return VersionView(name, str(version), str(mv.status), dict(mv.tags or {}))

    def download_uri(self, name: str, version: str) -> str:
        """Where MLflow says the version's files are (``mlflow-artifacts:/...``, ``s3://...``)."""
        return str(
            self._call(
                f"download location of model {name!r} version {version}",
                self.client.get_model_version_download_uri,
                name,
                str(version),
            )
        )

    def aliases(self, name: str) -> dict[str, str]:
        """The registered model's aliases: alias -> version."""
        return self._aliases(name)

    def version_digest(self, name: str, version: str) -> str | None:
        """The model digest named by the ML-artifact verdict kept with the version (not verified)."""
        env = self.envelopes(name, version).get(Gate.ML_ARTIFACT)
        if env is None:
            return None
        digest = (_peek(env).get("subject") or {}).get("digest")
        return str(digest) if digest else None

    def pending_promotion(self, name: str, version: str) -> bytes | None:
        """The envelope of an interrupted (pending) promotion of this version, if there is one."""
        return self.version_view(name, version).pending_promotion()

    # ----------------------------------------------------------------------------- lock

    def _lock_name(self, name: str) -> str:
        """The lock model of ``name``: ``signoff-lock.NAME``, or for Unity Catalog (three-level names
        of letters, digits and ``_``) ``CATALOG.SCHEMA.signoff_lock__MODEL``."""
        if not self._uc:
            return LOCK_PREFIX + name
        head, _, last = name.rpartition(".")
        return f"{head}.{UC_LOCK_PREFIX}{last}" if head else UC_LOCK_PREFIX + last

    def _acquire(self, name: str, holder: str) -> _Lock:
        lock = self._lock_name(name)
        until = time.time() + self.lease_s
        deadline = f"{until:.3f}"
        tags = {"signoff.lock.holder": holder, "signoff.lock.expires": deadline, "signoff.lock.for": name}
        for _ in range(3):
            try:
                # Not retried blindly: an ambiguous failure is resolved by reading the lock back.
                self._create_lock(lock, tags)
                return _Lock(lock, holder, until)
            except _Exists:
                pass
            except errors.TemporaryError:
                pass
            try:
                current = self._model(lock)
            except errors.InputError:
                continue  # released meanwhile, or our create never happened: try again
            ctags = dict(current.tags or {})
            if ctags.get("signoff.lock.holder") == holder:
                self._set_model_tag(lock, "signoff.lock.expires", deadline)
                return _Lock(lock, holder, until)
            try:
                expires = float(ctags.get("signoff.lock.expires", "0"))
            except ValueError:
                expires = 0.0
            if expires > time.time():
                raise errors.ConflictError(
                    f"another signoff promotion or rollback of {name!r} holds the lock "
                    f"(holder {ctags.get('signoff.lock.holder', '?')[:16]}, until "
                    f"{datetime.fromtimestamp(expires, UTC).isoformat(timespec='seconds')}); "
                    "it won the race: re-read the registry, and re-run if still needed"
                )
            # A crashed holder's lease ran out: remove its lock and race for it again.
            self._release(_Lock(lock, str(ctags.get("signoff.lock.holder", ""))))
        raise errors.ConflictError(f"could not take the promotion lock of {name!r}: others keep taking it")

    def _release(self, lock: _Lock) -> None:
        if lock.until - time.time() <= _RELEASE_MARGIN_S:  # another's, or ours near its lease's end
            try:
                current = self._model(lock.name)
            except errors.InputError:
                return
            if dict(current.tags or {}).get("signoff.lock.holder") != lock.holder:
                return
        with contextlib.suppress(errors.InputError):
            self._delete_model(lock.name)

    # ----------------------------------------------------------------------------- promotion

    def promote(
        self,
        name: str,
        version: str,
        *,
        promotion_envelope: bytes,
        record: Verdict | Mapping[str, Any] | None = None,
        production_alias: str = "production",
        rollback_alias: str = "previous",
        also_stage: bool = False,
        now: datetime | None = None,
        seen: VersionView | None = None,
    ) -> PromotionResult:
        """Move the production alias to a version whose promotion gate passed, keeping the one it replaces.

        Call only after the promotion gate passed (its signed verdict is ``promotion_envelope``). The
        record is written on the version before the alias moves; a re-run of the same promotion
        (same envelope) after a crash at any point completes it, with no duplicate records.

        Args:
            name: Registered model name.
            version: The version to promote.
            promotion_envelope: The signed promotion verdict (DSSE envelope bytes).
            record: The promotion verdict (or a mapping of extra fields) to summarize in the record.
            production_alias: The alias serving reads.
            rollback_alias: The alias left on the version production had before.
            also_stage: Also make the legacy stage transition to ``Production``.
            now: Time to record (default: the clock).
            seen: The version as the caller read it just before (:meth:`version_view`): not read again.

        Raises:
            InputError: the envelope is not a passing promotion verdict about this version, or the
                version does not exist.
            ConflictError: another promotion or rollback of the model is running.
            TemporaryError: the server went away; re-run the same command.
        """
        version = str(version)
        pred = _peek(promotion_envelope)
        subj = pred.get("subject") or {}
        if pred.get("gate") != Gate.PROMOTION.value or not pred.get("passed"):
            raise errors.InputError(
                "the promotion envelope is not a passing promotion verdict; nothing was moved"
            )
        if subj.get("model") != name or str(subj.get("version")) != version:
            raise errors.InputError(
                f"the promotion envelope is about {subj.get('model')} version {subj.get('version')}, "
                f"not {name} version {version}; nothing was moved"
            )
        pid = digest_bytes(promotion_envelope).removeprefix("sha256:")
        key = f"{TAG}promotion.{pid[:16]}"
        if seen is None or (seen.name, seen.version) != (name, version):
            seen = self.version_view(name, version)
        if seen.status != "READY":
            raise errors.InputError(f"{name} version {version} is {seen.status}, not READY")
        tags = dict(seen.tags)
        if "mlflow.prompt.text" in tags:
            raise errors.InputError(f"{name!r} is an MLflow prompt, not a registered model")
        lock = self._acquire(name, pid)
        try:
            # One alias read, not the registered model: that answer lists the latest versions, which
            # the server computes over every version of the model.
            current = self._alias(name, production_alias)
            existing = _record(tags, key)
            if existing and existing.get("state") == "complete":
                if current == version:
                    return PromotionResult(name, version, existing.get("previous"), pid, already_done=True)
                raise errors.ConflictError(
                    f"this promotion of {name} version {version} completed earlier, and {production_alias} "
                    f"has moved since (now {current}); promote again with a fresh promotion verdict"
                )
            if current == version and not existing:
                done = self._placed(name, production_alias, version, tags)
                if done is not None:  # promoted before by another (e.g. re-signed) promotion verdict
                    return PromotionResult(
                        name, version, done.get("previous"), str(done["id"]), already_done=True
                    )
            envelope_key = f"{TAG}promotion-envelope.{pid[:16]}"
            if existing:  # an interrupted promotion in the earlier layout (a pending record)
                previous = existing.get("previous")
            elif current != version:
                previous = current
            elif envelope_key in tags:  # resumed after production moved: the rollback alias moved first
                previous = self._alias(name, rollback_alias)
                previous = previous if previous != version else None
            else:
                previous = None
            verdicts: dict[str, str] = {}
            if isinstance(record, Verdict):
                verdicts = dict(record.artifacts)
                extra: dict[str, Any] = {"note": record.note}
            else:
                extra = dict(record or {})
            rec = {
                "kind": "promotion",
                "id": pid,
                "model": name,
                "version": version,
                "previous": previous,
                "alias": production_alias,
                "rollback_alias": rollback_alias,
                "state": "complete",
                "at": (existing or {}).get("at") or _now_iso(now),
                "by": pred.get("team"),
                "envelope_digest": "sha256:" + pid,
                "verdicts": verdicts,
                "summary": _summary(pred),
                **{k: v for k, v in extra.items() if k not in ("kind", "id", "state")},
            }
            # 1. The signed promotion verdict, on the version, before any alias moves (kept once: an
            # envelope without its record is an interrupted promotion, which a re-run finishes).
            if envelope_key not in tags or _get(tags, envelope_key) != promotion_envelope:
                self._put(name, version, envelope_key, promotion_envelope, digest_tag=False)
            self._hook("before-alias")
            # 2. The rollback alias onto the version being replaced, 3. production onto this one.
            if previous:
                self._set_alias(name, rollback_alias, previous)
            self._set_alias(name, production_alias, version)
            self._hook("before-complete")
            # 4. Legacy stage (idempotent), 5. what signoff put behind each alias, 6. the record: last,
            # so that a complete record means every step before it is done (a re-run finds it done).
            if also_stage:
                with warnings.catch_warnings():  # asked for explicitly: no deprecation noise
                    warnings.simplefilter("ignore", FutureWarning)
                    self._call(
                        f"stage of {name} version {version}",
                        self.client.transition_model_version_stage,
                        name,
                        version,
                        "Production",
                        archive_existing_versions=False,
                    )
            placed = {"record": pid, "record_version": version, "kind": "promotion", "at": rec["at"]}
            if previous:
                self._set_model_tag(
                    name, f"{TAG}alias.{rollback_alias}", json.dumps({"version": previous, **placed})
                )
            self._set_model_tag(
                name, f"{TAG}alias.{production_alias}", json.dumps({"version": version, **placed})
            )
            self._hook("before-record")
            rec["completed_at"] = _now_iso(now)
            self._put(name, version, key, json.dumps(rec, sort_keys=True).encode(), digest_tag=False)
            return PromotionResult(name, version, previous, pid)
        finally:
            self._release(lock)

    def _placed(self, name: str, alias: str, version: str, tags: Mapping[str, str]) -> dict[str, Any] | None:
        """The complete signoff record that put ``alias`` on ``version`` (if signoff put it there)."""
        placed_raw = dict(self._model(name).tags or {}).get(f"{TAG}alias.{alias}")
        placed = json.loads(placed_raw) if placed_raw else {}
        if str(placed.get("version")) != version or str(placed.get("record_version")) != version:
            return None
        rec = _record(tags, f"{TAG}{placed.get('kind')}.{str(placed.get('record'))[:16]}")
        return rec if rec and rec.get("state") == "complete" else None

    def previous_production_version(
        self,
        name: str,
        version: str | None = None,
        *,
        production_alias: str = "production",
        rollback_alias: str = "previous",
    ) -> str | None:
        """The version production would go back to.

        With ``version`` (a candidate not yet in production): the current production version, which
        the candidate would replace. Otherwise: the version under the rollback alias. None for a
        first release or a model that is not registered yet.
        """
        try:
            aliases = self._aliases(name)
        except errors.InputError:
            return None
        current = aliases.get(production_alias)
        if version is not None and current is not None and current != str(version):
            return current
        return aliases.get(rollback_alias)

    # ----------------------------------------------------------------------------- rollback

    def rollback(
        self,
        name: str,
        *,
        to: str,
        reason: str,
        record_envelope: bytes | None,
        automated: bool = False,
        production_alias: str = "production",
        rollback_alias: str = "previous",
        now: datetime | None = None,
    ) -> RollbackResult:
        """Move production back to ``to`` (a version number or ``previous``) and record why.

        The target must have been promoted by signoff before (a complete promotion record). The
        rollback alias moves to what was production before the target, or is removed.

        Args:
            name: Registered model name.
            to: ``previous`` (the rollback alias) or a version number.
            reason: Why; kept in the record.
            record_envelope: The deciding team's signed rollback verdict (gate ``rollback``) about
                the target version; none only for an automated rollback.
            automated: Whether signoff decided it (from a drift measurement).

        Raises:
            InputError: no production alias, no rollback target, the target was never promoted, or
                the envelope is not a rollback verdict about the target.
            ConflictError: another promotion or rollback is running.
        """
        aliases = self._aliases(name)
        current = aliases.get(production_alias)
        if current is None:
            raise errors.InputError(f"{name} has no {production_alias!r} alias: nothing to roll back")
        target = aliases.get(rollback_alias) if to == "previous" else str(to)
        if target is None:
            raise errors.InputError(
                f"{name} has no {rollback_alias!r} alias: no earlier production version to roll back to"
            )
        by: str | None = "signoff (automated)" if automated else None
        if record_envelope is not None:
            pred = _peek(record_envelope)
            subj = pred.get("subject") or {}
            if pred.get("gate") != Gate.ROLLBACK.value:
                raise errors.InputError("the rollback record envelope is not a rollback verdict")
            if subj.get("model") != name or str(subj.get("version")) != target:
                raise errors.InputError(
                    f"the rollback record is about {subj.get('model')} version {subj.get('version')}, "
                    f"not the target {name} version {target}"
                )
            by = pred.get("team")
            rid = digest_bytes(record_envelope).removeprefix("sha256:")
        elif not automated:
            raise errors.InputError("a manual rollback needs the deciding team's signed record")
        else:
            rid = hashlib.sha256(f"{name}\0{current}\0{target}\0{reason}".encode()).hexdigest()
        key = f"{TAG}rollback.{rid[:16]}"
        tmv = self._version(name, target)
        ttags = dict(tmv.tags or {})
        promoted = list(_records(ttags, "promotion").values())
        promoted = [p for p in promoted if p.get("state") == "complete"]
        if not promoted:
            raise errors.InputError(
                f"{name} version {target} was never promoted by signoff; roll back only to a version "
                "that was in production"
            )
        existing = _record(ttags, key)
        if current == target and not existing:
            raise errors.InputError(f"{name} version {target} is already {production_alias}")
        lock = self._acquire(name, rid)
        try:
            if existing and existing.get("state") == "complete":
                return RollbackResult(name, existing["from_version"], target, rid, automated, reason)
            from_version = (existing or {}).get("from_version") or current
            before_target = max(promoted, key=lambda p: str(p.get("at"))).get("previous")
            rec = {
                "kind": "rollback",
                "id": rid,
                "model": name,
                "version": target,
                "from_version": from_version,
                "previous": from_version,
                "state": "pending",
                "at": (existing or {}).get("at") or _now_iso(now),
                "by": by,
                "automated": automated,
                "reason": reason,
                "envelope_digest": "sha256:" + rid if record_envelope is not None else None,
            }
            if record_envelope is not None:
                self._put(name, target, f"{TAG}rollback-envelope.{rid[:16]}", record_envelope)
                self._put(name, target, f"{TAG}verdict.{Gate.ROLLBACK.value}", record_envelope)
            self._put(name, target, key, json.dumps(rec, sort_keys=True).encode(), digest_tag=False)
            self._set_alias(name, production_alias, target)
            self._set_model_tag(
                name,
                f"{TAG}alias.{production_alias}",
                json.dumps({"version": target, "record": rid, "record_version": target, "kind": "rollback"}),
            )
            if before_target and before_target != target:
                self._set_alias(name, rollback_alias, str(before_target))
                self._set_model_tag(
                    name,
                    f"{TAG}alias.{rollback_alias}",
                    json.dumps(
                        {
                            "version": str(before_target),
                            "record": rid,
                            "record_version": target,
                            "kind": "rollback",
                        }
                    ),
                )
            else:
                self._call(
                    f"remove alias {rollback_alias}",
                    self.writer.delete_registered_model_alias,
                    name,
                    rollback_alias,
                )
                self._call(
                    f"remove tag of {rollback_alias}",
                    self.writer.delete_registered_model_tag,
                    name,
                    _wire(f"{TAG}alias.{rollback_alias}", self._uc),
                )
            rec["state"] = "complete"
            rec["completed_at"] = _now_iso(now)
            self._put(name, target, key, json.dumps(rec, sort_keys=True).encode(), digest_tag=False)
            return RollbackResult(name, str(from_version), target, rid, automated, reason)
        finally:
            self._release(lock)

    def auto_rollback(
        self,
        name: str,
        *,
        reason: str | None = None,
        contract: WorkloadContract | None = None,
        drift: float | None = None,
        record_envelope: bytes | None = None,
        production_alias: str = "production",
        rollback_alias: str = "previous",
        now: datetime | None = None,
    ) -> RollbackResult | None:
        """Revert production to the rollback target when accuracy drift exceeds the contract's alert.

        With ``contract`` and ``drift`` (a fraction): rolls back only when the contract lists an
        automated rollback on accuracy drift and ``drift`` is above its accuracy-drift alert
        threshold; returns None otherwise. Without them the caller has decided (``reason`` needed).
        A production version that an automated rollback put there is not rolled back automatically
        again (a human decides the next step).
        """
        if contract is not None and drift is not None:
            decision = rollback_rule.decide(contract, drift)  # the rule lives in gates, once
            if not decision.fire:
                return None
            reason = reason or decision.reason
        if not reason:
            raise errors.InputError("an automated rollback needs a reason (or a contract and a drift figure)")
        model = self._model(name)
        placed = json.loads(dict(model.tags or {}).get(f"{TAG}alias.{production_alias}", "{}") or "{}")
        if placed.get("kind") == "rollback":
            ptags = self._tags(name, str(placed.get("version")))
            rec = _record(ptags, f"{TAG}rollback.{str(placed.get('record'))[:16]}") or {}
            if rec.get("automated"):
                raise errors.PermanentError(
                    f"{name} version {placed.get('version')} is production after an automated rollback; "
                    "a further rollback needs a human (signoff rollback)"
                )
        return self.rollback(
            name,
            to="previous",
            reason=reason,
            record_envelope=record_envelope,
            automated=True,
            production_alias=production_alias,
            rollback_alias=rollback_alias,
            now=now,
        )

    # ----------------------------------------------------------------------------- audit

    def audit(
        self,
        name: str,
        trust: TrustPolicy | None = None,
        contract: WorkloadContract | None = None,
        *,
        production_alias: str = "production",
    ) -> AuditReport:
        """Each alias's status and the history, oldest first: read here, judged by :mod:`gates.audit`."""
        return audit_rule.judge(self.snapshot(name), trust, contract, production_alias=production_alias)

    def snapshot(self, name: str) -> audit_rule.Snapshot:
        """What the registry holds for ``name``, as read back (unverified), for :mod:`gates.audit`."""
        model = self._model(name)
        versions = self._call(
            f"versions of {name}",
            self.client.search_model_versions,
            f"name='{_quote(name)}'",
            max_results=10_000,
        )
        return self.snapshot_from_tags(
            name,
            {str(k): str(v) for k, v in (model.aliases or {}).items()},
            dict(model.tags or {}),
            {str(v.version): dict(v.tags or {}) for v in versions},
        )

    @classmethod
    def snapshot_from_tags(
        cls,
        name: str,
        aliases: Mapping[str, str],
        model_tags: Mapping[str, str],
        version_tags: Mapping[str, Mapping[str, str]],
    ) -> audit_rule.Snapshot:
        """The audit's input from tags as MLflow returns them (pure: the property tests feed it edited
        copies of a real registry's tags). Keys in Unity Catalog's spelling are read as their own,
        split values are joined from their parts (and checked against the digest their head names).
        Every stored value with a ``.digest`` tag is decoded and checked against it; records and the
        promotion envelope have none (a record names its envelope's digest, which the audit checks).
        A ``signoff.summary.<gate>`` line is for people: never read here. What does not match is
        listed as damage.

        A promotion envelope without its record (the record is written last) is handed over as
        such: :func:`gates.audit.judge` tells an interrupted promotion from a record that is gone. A
        rollback envelope without its record is damage (that record is written before any alias
        moves)."""
        mtags = _canon(model_tags)
        placements = {
            k.removeprefix(f"{TAG}alias."): v for k, v in mtags.items() if k.startswith(f"{TAG}alias.")
        }
        records: list[audit_rule.StoredRecord] = []
        unrecorded: dict[tuple[str, str], bytes] = {}
        envelopes: dict[str, tuple[bytes, ...]] = {}
        damage: list[str] = []
        for ver, raw in sorted(version_tags.items()):
            tags = _canon(raw)
            pool: list[bytes] = []
            for k in sorted(tags):
                if re.fullmatch(r".*\.part-\d+", k):
                    continue  # a part of a split value: read through its head
                orphan = re.fullmatch(r"signoff\.(promotion|rollback)-envelope\.([0-9a-f]{16})", k)
                if orphan and f"{TAG}{orphan[1]}.{orphan[2]}" not in tags:
                    env = cls._read(tags, k, damage, ver)
                    if orphan[1] == "promotion" and env is not None:
                        unrecorded[(orphan[2], ver)] = env
                    else:
                        damage.append(
                            f"version {ver}: tag {k} keeps a {orphan[1]} envelope whose record is gone"
                        )
                m = re.fullmatch(r"signoff\.(promotion|rollback)\.([0-9a-f]{16})", k)
                if m:
                    text = cls._read(tags, k, damage, ver)
                    env = cls._read(tags, f"{TAG}{m[1]}-envelope.{m[2]}", damage, ver)
                    if text is not None:
                        records.append(
                            audit_rule.StoredRecord(m[1], m[2], ver, text.decode("utf-8", "replace"), env)
                        )
                if k.endswith(".digest"):
                    if k.removesuffix(".digest") not in tags:
                        damage.append(f"version {ver}: tag {k} names a value that is not there")
                    continue
                if f"{k}.digest" not in tags:
                    if _STORED.fullmatch(k):
                        damage.append(f"version {ver}: tag {k} has no digest tag beside it")
                    continue
                data = cls._read(tags, k, damage, ver)
                if data is None:
                    continue
                if tags[f"{k}.digest"] != digest_bytes(data):
                    damage.append(f"version {ver}: tag {k}.digest does not match the value kept in {k}")
                if k != f"{TAG}manifests":
                    pool.append(data)
            envelopes[ver] = tuple(pool)
        return audit_rule.Snapshot(
            name, dict(aliases), placements, tuple(records), envelopes, tuple(damage), unrecorded
        )

    @classmethod
    def _read(cls, tags: Mapping[str, str], key: str, damage: list[str], ver: str) -> bytes | None:
        try:
            data = cls._get(tags, key)
        except (ValueError, UnicodeError) as exc:  # binascii.Error is a ValueError
            damage.append(f"version {ver}: tag {key} cannot be decoded ({exc})")
            return None
        m = re.fullmatch(r"chunks:(\d+):(sha256:[0-9a-f]{64})", tags.get(key, ""))
        if data is not None and m and digest_bytes(data) != m[2]:
            damage.append(f"version {ver}: the parts of tag {key} do not join to the digest it names")
        return data

    # ----------------------------------------------------------------------------- serving, alerts
    # (kept with the registry so that every replica of a listener, and `signoff audit`, read the same)

    def store_manifests(self, name: str, version: str, text: str) -> str:
        """Keep the deployable manifests of a promoted version (what a rollback re-applies).

        Returns:
            Their ``sha256:`` digest (tag ``signoff.manifests.digest``).
        """
        data = text.encode("utf-8")
        self._put(name, str(version), f"{TAG}manifests", data)
        return digest_bytes(data)

    def promoted_manifests(self, name: str, version: str) -> str | None:
        """The deployable manifests kept with the version at promotion, or None."""
        raw = self._get(self._tags(name, str(version)), f"{TAG}manifests")
        if raw is None:
            return None
        return raw.decode("utf-8")

    def record_serving(self, name: str, record: Mapping[str, Any]) -> None:
        """Remember what serving was last moved to (tag ``signoff.serving`` of the registered model)."""
        self._set_model_tag(name, f"{TAG}serving", json.dumps(dict(record), sort_keys=True))

    def serving_record(self, name: str) -> dict[str, Any] | None:
        """What :meth:`record_serving` last kept, or None."""
        raw = dict(self._model(name).tags or {}).get(f"{TAG}serving")
        return json.loads(raw) if raw else None

    def alert_episode(self, name: str, episode: str) -> dict[str, Any] | None:
        """What a listener recorded for one alert episode (``gates.listen.episode_key``), or None."""
        raw = dict(self._model(name).tags or {}).get(f"{TAG}alert.{episode}")
        return json.loads(raw) if raw else None

    def record_alert_episode(self, name: str, episode: str, record: Mapping[str, Any]) -> None:
        """Record how a listener handled one alert episode (tag ``signoff.alert.<episode>``)."""
        if not re.fullmatch(r"[0-9a-f]{8,64}", episode):
            raise errors.InputError(f"alert episode {episode!r} is not a hex key")
        self._set_model_tag(name, f"{TAG}alert.{episode}", json.dumps(dict(record), sort_keys=True))


_STORED = re.compile(r"signoff\.(verdict\.[a-z0-9-]+|rollback-envelope\.[0-9a-f]{16}|manifests)")
"""Tags that hold a stored value (an envelope, the manifests): each has a ``.digest`` tag beside it.
Any other tag with a ``.digest`` beside it is read as a stored value too. The promotion envelope has
none: its record names its digest (``envelope_digest`` and the record's id), which the audit checks."""

_OWN_RETRIES = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}


@contextlib.contextmanager
def _own_retries() -> Iterator[None]:
    """During one of signoff's calls, MLflow does not retry on its own (signoff does, bounded); it
    would re-send POSTs and wait minutes on a dead server. Settings the user made are kept. MLflow
    reads these per request, so they are set around the call only, not for the whole process."""
    added = [k for k in _OWN_RETRIES if k not in os.environ]
    for k in added:
        os.environ[k] = _OWN_RETRIES[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


class _Exists(errors.PermanentError):
    """MLflow said RESOURCE_ALREADY_EXISTS (internal: the lock is taken)."""


class _TooLong(errors.InputError):
    """The registry refused a tag value as too long and named a lower limit (internal: split again)."""


def _quote(name: str) -> str:
    return name.replace("\\", "\\\\").replace("'", "\\'")


_KEEP_MAX_BYTES = 64 * 2**20
"""Metadata files larger than this are hashed and deleted like the model's weights."""


def resolve_serving_ref(name: str, version: str) -> tuple[str, str]:
    """Storage URI and model digest of a version, for rendering manifests (``$MLFLOW_TRACKING_URI``).

    The digest is the one in the ML-artifact verdict kept with the version (not verified here: the
    platform and promotion gates verify it).

    Raises:
        InputError: no ML-artifact verdict kept with the version yet.
    """
    reg = Registry()
    uri = reg._call(
        f"download location of {name} version {version}",
        reg.client.get_model_version_download_uri,
        name,
        version,
    )
    env = reg.envelopes(name, version).get(Gate.ML_ARTIFACT)
    if env is None:
        raise errors.InputError(
            f"models:/{name}/{version} has no ML-artifact verdict in the registry yet; run "
            "`signoff check ml` first or pass --model-digest"
        )
    digest = str((_peek(env).get("subject") or {}).get("digest", ""))
    return str(uri), digest
