"""A downloaded model version's files, inspected for the ML-artifact evidence: no MLflow I/O here.

:mod:`components.mlflow_registry` fetches the files; this module reads them: the ``MLmodel`` file,
the pinned requirements against this environment, the input example and its prediction, the
serialization formats, sizes, and the safety of every path and source location.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from contracts import errors
from contracts._units import format_bytes
from contracts.model_uri import logged_model_id

__all__ = [
    "EXAMPLE_FILES",
    "RAN_HERE",
    "REQUIREMENT_FILES",
    "check_artifact_path",
    "check_source",
    "check_tree",
    "example_names",
    "human",
    "json_text",
    "read_mlmodel",
    "row_count",
    "runtime_gap",
    "serialization_formats",
]

RAN_HERE = "ml-artifact step"
"""Where the example prediction ran when the gate's own process loaded the model."""
EXAMPLE_FILES = ("serving_input_example.json", "input_example.json")
REQUIREMENT_FILES = ("requirements.txt", "python_env.yaml", "conda.yaml")
_PICKLE_SUFFIXES = {
    ".pkl": "pickle",
    ".pickle": "pickle",
    ".joblib": "joblib",
    ".pt": "torch-pickle",
    ".pth": "torch-pickle",
}


def decoded_forms(text: str) -> list[str]:
    """The text and its URL-decoded forms (decoded until stable, at most 5 times)."""
    forms = [text]
    for _ in range(5):
        nxt = urllib.parse.unquote(forms[-1])
        if nxt == forms[-1]:
            break
        forms.append(nxt)
    return forms


def check_artifact_path(path: str) -> None:
    """Refuse an artifact path that could escape the download folder.

    Raises:
        PermanentError: ``..`` segments (also URL-encoded), absolute paths, backslashes, drive
            letters, ``#``/``?``, NUL or control characters.
    """
    for form in decoded_forms(path):
        bad = None
        if not form:
            bad = "is empty"
        elif form.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", form):
            bad = "is absolute"
        elif "\\" in form:
            bad = "contains a backslash"
        elif any(seg in ("..", ".") for seg in form.split("/")):
            bad = "contains a '..' or '.' segment"
        elif "#" in form or "?" in form:
            bad = "contains '#' or '?'"
        elif any(ord(c) < 32 for c in form):
            bad = "contains a control character"
        if bad:
            raise errors.PermanentError(f"artifact path {path!r} {bad}; refusing to download it")


def check_source(source: str, *, file_root: str | None = None) -> None:
    """Refuse a model version source that could read outside the model's own artifacts.

    Accepted: ``models:/m-<id>`` (an MLflow 3 logged model), ``runs:/<run>/<path>``,
    ``mlflow-artifacts:/<path>`` and object-store URIs (``s3``, ``gs``, ``wasbs``, ``abfss``, ``hdfs``)
    without ``..`` (also encoded), ``#``, ``?`` or control characters; local (``file:`` or bare path)
    sources only inside ``file_root`` (the experiment's artifact folder).

    Raises:
        PermanentError: naming the source and why it is refused.
    """

    def refuse(why: str) -> errors.PermanentError:
        return errors.PermanentError(f"model version source {source!r} {why}; refusing to download it")

    if not source:
        raise refuse("is empty")
    for form in decoded_forms(source):
        if "#" in form or "?" in form:
            raise refuse("contains '#' or '?' (a fragment or query can redirect the download)")
        if any(ord(c) < 32 for c in form) or "\\" in form:
            raise refuse("contains a control character or backslash")
        parsed = urllib.parse.urlparse(form)
        segments = (parsed.netloc + "/" + parsed.path).replace("\\", "/").split("/")
        if ".." in segments:
            raise refuse("contains a '..' segment (also when URL-decoded)")
    parsed = urllib.parse.urlparse(source)
    scheme = parsed.scheme.lower()
    if scheme == "models":
        if logged_model_id(source) is None:
            raise refuse("is a models:/ URI that is not a logged model id (an alias or another version)")
        return
    if scheme == "runs":
        if not re.fullmatch(r"runs:/[0-9a-f]{8,64}(/[A-Za-z0-9._-]+)*/?", source):
            raise refuse("is not runs:/<run id>/<path>")
        return
    if scheme in ("mlflow-artifacts", "s3", "gs", "wasbs", "abfss", "hdfs", "http", "https"):
        return
    if scheme in ("file", "") or (len(scheme) == 1 and source[1:2] == ":"):
        local = urllib.parse.unquote(parsed.path) if scheme == "file" else source
        if parsed.netloc not in ("", "localhost"):
            raise refuse("names a file on another host")
        if file_root is None:
            raise refuse("is a local path, but the experiment's artifact root is not local")
        root = os.path.realpath(file_root)
        real = os.path.realpath(local)
        if os.path.commonpath([root, real]) != root:
            raise refuse(f"is a local path outside the artifact store {file_root}")
        return
    raise refuse(f"has an unsupported scheme {scheme!r}")


def check_tree(root: Path) -> None:
    """After a download: every entry is a regular file or folder inside ``root``; no symlinks."""
    real_root = os.path.realpath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            p = os.path.join(dirpath, name)
            if os.path.islink(p):
                raise errors.PermanentError(f"downloaded artifact {os.path.relpath(p, root)} is a symlink")
            real = os.path.realpath(p)
            if os.path.commonpath([real_root, real]) != real_root:
                raise errors.PermanentError(
                    f"downloaded artifact {name} resolved outside the download folder"
                )


def json_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def row_count(example: Any) -> int | None:
    try:
        return len(example)
    except TypeError:
        return None


def serialization_formats(mlmodel: Mapping[str, Any], paths: Iterable[str]) -> tuple[str, ...]:
    """How the model is stored: flavors' ``serialization_format`` and the model files' kinds."""
    found: set[str] = set()
    for conf in (mlmodel.get("flavors") or {}).values():
        if not isinstance(conf, dict):
            continue
        fmt = conf.get("serialization_format")
        if isinstance(fmt, str) and fmt:
            found.add(fmt)
        for key in ("pickled_model", "model_path", "data"):
            ref = conf.get(key)
            if isinstance(ref, str):
                suffix = Path(ref).suffix.lower()
                if suffix in _PICKLE_SUFFIXES:
                    found.add(_PICKLE_SUFFIXES[suffix])
                elif suffix == ".skops":
                    found.add("skops")
    for path in paths:
        suffix = Path(path).suffix.lower()
        if suffix in _PICKLE_SUFFIXES:
            found.add(_PICKLE_SUFFIXES[suffix])
    return tuple(sorted(found))


def example_names(mlmodel: Mapping[str, Any]) -> set[str]:
    names = set(EXAMPLE_FILES)
    info = mlmodel.get("saved_input_example_info")
    if isinstance(info, dict) and isinstance(info.get("artifact_path"), str):
        names.add(str(info["artifact_path"]))
    return names


def human(n: int) -> str:

    return format_bytes(n)


def requirement_names(path: Path) -> list[str]:
    """Distribution names of a pip requirements file (options, includes and comments skipped)."""
    if not path.is_file():
        return []
    names = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)
        if m and not line.startswith("-"):
            names.append(m[0])
    return names


def runtime_gap(mlmodel: Mapping[str, Any], folder: Path) -> str | None:
    """Why this process cannot load the model for its example prediction; None when it can.

    It can when the model has a ``python_function`` flavor, full mlflow's ``mlflow.pyfunc`` imports
    (it needs numpy and pandas, which mlflow-skinny lacks), the flavor's loader module imports, and
    every distribution in the model's ``requirements.txt`` is installed (versions not compared)."""
    import importlib
    import importlib.metadata

    pyfunc = (mlmodel.get("flavors") or {}).get("python_function")
    if not isinstance(pyfunc, dict):
        return "the model has no python_function flavor to load"
    try:
        importlib.import_module("mlflow.pyfunc")
    except Exception as exc:
        return f"full mlflow is not installed here (mlflow.pyfunc: {type(exc).__name__}: {exc})"
    loader = pyfunc.get("loader_module")
    if isinstance(loader, str) and loader:
        try:
            importlib.import_module(loader)
        except Exception as exc:
            return f"the flavor's loader {loader} cannot be imported here ({type(exc).__name__}: {exc})"
    missing = []
    for req in requirement_names(folder / "requirements.txt"):
        wanted = {req, "mlflow-skinny"} if req.lower() == "mlflow" else {req}
        if not any(installed(n, importlib.metadata) for n in wanted):
            missing.append(req)
    if missing:
        return f"the model's requirements {', '.join(missing)} are not installed here"
    return None


def installed(name: str, metadata: Any) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def read_mlmodel(dest: Path) -> dict[str, Any]:
    import yaml

    path = dest / "MLmodel"
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = data if isinstance(data, dict) else {}
    sig = out.get("signature")
    if isinstance(sig, dict):
        out["signature"] = {k: json.loads(v) if isinstance(v, str) else v for k, v in sig.items() if v}
    else:
        out["signature"] = {}
    return out
