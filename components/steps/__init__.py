"""The pipeline steps, engine-agnostic: the KFP components and the Argo templates both run these.

Each step is declared once in :mod:`components.steps.spec` (gate, owner, parameters, inputs and
outputs, service account, key Secret, labels) and lives in its own module (``ml_artifact``,
``platform``, ``sre_readiness``, ``promotion``, ``rollback``, ``summary``); :mod:`components.steps.entry`
is the one process entry (``python -m components.steps``), which KFP's component bodies call too.

Each step takes plain values (YAML text of the documents, names, URIs, a key file) and an output
folder. It gathers its evidence, calls its gate, signs the verdict with its owner's key, stores the
signed envelope with the model version in MLflow, and writes into the output folder:

* ``envelope.json``: the DSSE envelope (the signed verdict),
* ``verdict.json``: the same verdict as plain JSON, for people and tools that do not verify,
* ``report.md``: the gate's Markdown report (who signed what and why),
* ``metrics.json``: the numeric figures of the checks (``{name: number}``),
* step-specific files (``manifests.yaml`` from the platform step, ``model-ref.json`` from the ML step).

When the gate refuses, the step writes all of that first and then raises :class:`GateRefused`
(exit code 1), so the engine marks the task failed and nothing downstream runs.
``TemporaryError`` (exit code 3) is the only error the engines retry.

Keys: each step reads only its owner's private key, from :func:`key_path`. In the cluster that is a
Secret mounted into that owner's task only (``/var/run/signoff/keys/<role>/key.pem``). KFP's local
runner has no Secrets (it runs tasks as subprocesses of this machine), so locally the keys come from
the folder named by ``SIGNOFF_KEYS_DIR`` (``ml.pem``, ``platform.pem``, ``sre.pem``).
"""

from components.steps._common import GateRefused, StepArgs, StepResult, figures, key_path, verdict_markdown
from components.steps.entry import main, run
from components.steps.ml_artifact import ml_artifact_step
from components.steps.platform import platform_step
from components.steps.promotion import promotion_step
from components.steps.rollback import rollback_check_step
from components.steps.spec import GATE_ROLE, KEYS_DIR_ENV, KEYS_MOUNT
from components.steps.sre_readiness import cluster_target, sre_readiness_step
from components.steps.summary import run_summary

DEFAULT_KEYS_MOUNT = KEYS_MOUNT
"""Where the cluster mounts each owner's key Secret: ``<mount>/<role>/key.pem``."""

__all__ = [
    "DEFAULT_KEYS_MOUNT",
    "GATE_ROLE",
    "KEYS_DIR_ENV",
    "GateRefused",
    "StepArgs",
    "StepResult",
    "cluster_target",
    "figures",
    "key_path",
    "main",
    "ml_artifact_step",
    "platform_step",
    "promotion_step",
    "rollback_check_step",
    "run",
    "run_summary",
    "sre_readiness_step",
    "verdict_markdown",
]
