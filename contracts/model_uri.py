"""``models:/`` URIs: the one parser of MLflow model references in signoff.

The forms signoff meets (MLflow's own spellings):

* ``models:/NAME/VERSION``: one exact registered version, the only form a verdict is about;
* ``models:/NAME@ALIAS``: a registry alias (``production``, ``champion``), which moves;
* ``models:/NAME/STAGE``: a stage or ``latest``, which moves too;
* ``models:/m-<hex>``: an MLflow 3 logged model id, an immutable source of a version.

NAME is the contract's model name (:data:`MODEL_NAME`). :func:`split_model_uri` only tells the forms
apart; :func:`parse_model_uri` is what a command calls on its input, and refuses with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from contracts.errors import InputError

__all__ = [
    "MODEL_NAME",
    "VERSION",
    "ModelUri",
    "exact_version",
    "logged_model_id",
    "parse_model_uri",
    "split_model_uri",
]

MODEL_NAME = r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}"
"""A registered model name signoff gates: a letter or digit, then letters, digits, ``.``, ``_``, ``-``."""
VERSION = r"[1-9][0-9]{0,9}"
"""A registered model version number."""
_ALIAS = r"[A-Za-z0-9_-]{1,255}"
_SPLIT = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<tail>[^/@]+)|@(?P<alias>[^/@]+))")
_LOGGED = re.compile(r"models:/(m-[0-9a-f]{8,64})")
_NAME = re.compile(MODEL_NAME)
_VERSION = re.compile(VERSION)
_ALIAS_RE = re.compile(_ALIAS)


@dataclass(frozen=True, slots=True)
class ModelUri:
    """One registry reference; exactly one of ``version``, ``alias`` and ``stage`` is set."""

    name: str
    version: str | None = None
    """The version number of ``models:/NAME/VERSION``."""
    alias: str | None = None
    """The alias of ``models:/NAME@ALIAS``."""
    stage: str | None = None
    """The stage (or ``latest``) of ``models:/NAME/STAGE``."""

    @property
    def moves(self) -> bool:
        """True for an alias or a stage: what it names can change."""
        return self.version is None

    def __str__(self) -> str:
        if self.version is not None:
            return f"models:/{self.name}/{self.version}"
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.stage}"


def split_model_uri(uri: str) -> ModelUri | None:
    """Which registry form ``uri`` is, or ``None`` when it is none of them (a logged model id is none).

    Only tells the forms apart (a tail of digits is a version, any other tail a stage); the parts are
    not validated: :func:`parse_model_uri` does that.
    """
    m = _SPLIT.fullmatch(uri)
    if m is None:
        return None
    tail = m["tail"]
    if tail is None:
        return ModelUri(m["name"], alias=m["alias"])
    if tail.isascii() and tail.isdigit():
        return ModelUri(m["name"], version=tail)
    return ModelUri(m["name"], stage=tail)


def parse_model_uri(uri: str, *, what: str = "--model", alias: bool = False) -> ModelUri:
    """``models:/NAME/VERSION`` (and ``models:/NAME@ALIAS`` when ``alias``) -> :class:`ModelUri`.

    Surrounding whitespace is ignored. ``what`` names the input in the message (``--model``).

    Raises:
        InputError: another form, a stage or ``latest``, an alias (unless ``alias``), or a name,
            version or alias that is not valid; the message says what would be.
    """
    ref = split_model_uri(uri.strip())
    if ref is None or ref.stage is not None or (ref.alias is not None and not alias):
        if alias:
            expected = "models:/NAME/VERSION or models:/NAME@ALIAS (a stage or 'latest' is not looked up)"
        else:
            expected = (
                "models:/NAME/VERSION with a version number (an alias such as models:/NAME@production, "
                "a stage or 'latest' moves; a verdict is about one exact version)"
            )
        raise InputError(f"{what}: {uri!r} is not {expected}")
    if not _NAME.fullmatch(ref.name):
        raise InputError(
            f"{what}: {uri!r}: model name {ref.name!r} is not valid (a letter or digit, then letters, "
            "digits, '.', '_' or '-'; at most 255 characters)"
        )
    if ref.version is not None and not _VERSION.fullmatch(ref.version):
        raise InputError(f"{what}: {uri!r}: version {ref.version!r} is not a version number (1, 2, ...)")
    if ref.alias is not None and not _ALIAS_RE.fullmatch(ref.alias):
        raise InputError(f"{what}: {uri!r}: alias {ref.alias!r} is not valid (letters, digits, '_' or '-')")
    return ref


def exact_version(uri: str, *, what: str = "--model") -> tuple[str, str]:
    """``models:/NAME/VERSION`` -> ``(NAME, VERSION)``; an alias, a stage or ``latest`` is refused."""
    ref = parse_model_uri(uri, what=what)
    return ref.name, str(ref.version)


def logged_model_id(uri: str) -> str | None:
    """The id of an MLflow 3 logged model URI ``models:/m-<hex>``, else ``None``."""
    m = _LOGGED.fullmatch(uri)
    return m[1] if m else None
