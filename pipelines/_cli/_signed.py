"""Signing and keeping a verdict, once for every ``signoff check GATE``.

``--key KEY`` signs the gate's verdict with its owner's private key; ``--out DIR`` writes the
envelope to ``DIR/<gate>.envelope.json`` (a path ending ``.json`` is taken as the file itself); and,
when an MLflow tracking URI is known (``--tracking-uri`` or ``$MLFLOW_TRACKING_URI``), the envelope
is kept with the model version in the registry, where ``signoff promote`` and the pipeline steps
look for it (``--no-keep`` skips that). ``verdicts_in`` reads the envelopes back from such folders.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from contracts.errors import InputError
from contracts.trust import Gate
from gates.signing import sign_verdict
from gates.verdict import Verdict

ENVELOPE_SUFFIX = ".envelope.json"
"""A signed verdict in a verdicts folder: ``<gate>.envelope.json``."""


def envelope_path(out: Path, gate: Gate) -> Path:
    """Where ``--out`` puts the envelope of ``gate``: ``out`` itself when it ends ``.json``."""
    return out if out.suffix == ".json" else out / f"{gate.value}{ENVELOPE_SUFFIX}"


def add_arguments(parser: argparse.ArgumentParser, owner: str, *, tracking: bool = True) -> None:
    """``--key``, ``--out``, ``--no-keep`` (and ``--tracking-uri`` unless the command has one)."""
    parser.add_argument(
        "--key", type=Path, metavar="KEY", help=f"the {owner} team's private key: sign the verdict"
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="with --key: write the signed verdict to DIR/<gate>.envelope.json (a FILE.json: that file)",
    )
    parser.add_argument(
        "--no-keep",
        action="store_true",
        help="do not keep the signed verdict with the model version in MLflow",
    )
    if tracking:
        parser.add_argument(
            "--tracking-uri", metavar="URI", help="MLflow tracking URI; default: $MLFLOW_TRACKING_URI"
        )


def check_arguments(ns: argparse.Namespace) -> None:
    """Refuse ``--out`` without ``--key`` and a key path that is not a file, before any work."""
    if ns.out is not None and ns.key is None:
        raise InputError("--out writes the signed verdict: pass --key too")
    if ns.key is not None and not Path(ns.key).is_file():
        raise InputError(
            f"--key: {ns.key} is not a file (the team's '.key' file from 'signoff keys generate')"
        )


def sign_and_keep(verdict: Verdict, ns: argparse.Namespace) -> bytes | None:
    """Sign ``verdict`` with ``ns.key``, write it to ``ns.out``, keep it in MLflow; print where.

    Returns the envelope, or ``None`` without ``--key``.
    """
    if ns.key is None:
        return None

    from components.keys import load_private_key  # cryptography: only when signing

    envelope = bytes(sign_verdict(verdict, load_private_key(ns.key)))
    if ns.out is not None:
        path = envelope_path(ns.out, verdict.gate)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(envelope)
        print(f"signed verdict: {path}")
    uri = getattr(ns, "tracking_uri", None) or os.environ.get("MLFLOW_TRACKING_URI")
    if uri and not ns.no_keep:
        from components.mlflow_registry import Registry  # the MLflow adapter: only when keeping it

        subject = verdict.subject
        digest = Registry(uri).store_envelope(subject.model, subject.version, verdict.gate, envelope)
        print(f"signed verdict kept with {subject.uri} ({digest})")
    return envelope


def verdicts_in(folders: list[Path], flag: str = "--verdicts") -> list[bytes]:
    """Every ``*.envelope.json`` in each folder, in name order; a folder without any is an error."""
    out: list[bytes] = []
    for folder in folders:
        if not folder.is_dir():
            raise InputError(f"{flag}: {folder} is not a folder")
        files = sorted(folder.glob(f"*{ENVELOPE_SUFFIX}"))
        if not files:
            raise InputError(
                f"{flag}: {folder} holds no signed verdicts (*{ENVELOPE_SUFFIX}); "
                "'signoff check GATE --key KEY --out DIR' writes them"
            )
        out += [f.read_bytes() for f in files]
    return out


def verdict_in(folders: list[Path], gate: Gate) -> Verdict | None:
    """The (unverified) verdict of ``gate`` in the first folder that has one: for taking a digest or
    a manifests digest from it. The gates that rely on it verify it."""
    import base64
    import json

    from pydantic import ValidationError

    for folder in folders:
        path = folder / f"{gate.value}{ENVELOPE_SUFFIX}"
        if not path.is_file():
            continue
        try:
            payload = base64.b64decode(json.loads(path.read_bytes())["payload"], validate=True)
            return Verdict.model_validate(json.loads(payload)["predicate"])
        except (ValueError, KeyError, TypeError, ValidationError):
            raise InputError(f"{path}: not a signed signoff verdict (a DSSE envelope)") from None
    return None
