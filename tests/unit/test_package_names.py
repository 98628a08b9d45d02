"""The four generic top-level names belong to signoff alone in this environment (README: Package names)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

NAMES = ("contracts", "gates", "components", "pipelines")
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", NAMES)
def test_no_other_distribution_provides_the_name(name: str) -> None:
    providers = set(metadata.packages_distributions().get(name, []))
    assert providers <= {"signoff"}, (
        f"top-level package {name!r} is also installed by {providers - {'signoff'}}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_imported_package_is_this_checkout(name: str) -> None:
    module = __import__(name)
    assert Path(module.__file__).resolve().parent == ROOT / name
