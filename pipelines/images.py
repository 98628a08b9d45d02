"""The step image the compiled pipelines name, and the note on a file that names the placeholder.

Shared by the KFP and the Argo pipeline modules, which do not import each other.
"""

__all__ = ["DEFAULT_STEP_IMAGE", "PLACEHOLDER_DIGEST", "placeholder_note"]

PLACEHOLDER_DIGEST = "sha256:" + "0" * 64
"""A placeholder, not a real image digest: no step image is published from here."""
DEFAULT_STEP_IMAGE = f"ghcr.io/signoff-dev/signoff-step@{PLACEHOLDER_DIGEST}"
"""The step image compiled in by default (``infra/docker/Dockerfile``), pinned by digest. The digest
is the all-zero PLACEHOLDER (nothing can pull it): build and push the Dockerfile, then compile with
``signoff compile --image REGISTRY/signoff-step@sha256:<the pushed digest>``."""


def placeholder_note(image: str) -> str:
    """The comment heading a compiled file whose step image has the PLACEHOLDER digest."""
    return (
        f"# PLACEHOLDER step image digest: {image} names no published image.\n"
        "# Build infra/docker/Dockerfile, push it, and recompile with\n"
        "#   signoff compile --engine kfp|argo --image REGISTRY/signoff-step@sha256:<pushed digest>\n"
    )
