"""The step spec: every gated-promotion step declared once.

Each :class:`StepSpec` says what one step is: the gate it decides, the owner role whose key signs it,
the pipeline parameters it takes, the upstream outputs it reads, the outputs it writes, the service
account it runs under in the cluster, the key Secret it mounts and its pods' labels. The engine
modules read it and write nothing of their own:

* :mod:`components.kfp_components` (component signatures checked against it by a test) and
  :mod:`pipelines.kfp_pipeline` (task wiring, Secret mounts, pod labels),
* :mod:`components.hera_templates` and :mod:`pipelines.argo_workflow` (template inputs and args,
  service accounts, Secret volumes, labels, workflow parameters),
* :mod:`components.steps.entry`, the one process entry (argv of ``python -m components.steps``),
* :mod:`pipelines.local` and the ``signoff run`` / ``signoff submit`` commands (parameter types and
  defaults).

Adding a step parameter: add a :class:`Param` to :data:`PARAMETERS` and its name to the step's
``params`` here, then read ``args.value(name)`` in the step's module. Nothing else changes.

Pure data: imports nothing but the enums of :mod:`contracts`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from contracts.trust import Gate
from contracts.workload import Role

__all__ = [
    "ALERTMANAGER",
    "ENVELOPE",
    "GATE_ROLE",
    "KEYS_DIR_ENV",
    "KEYS_MOUNT",
    "KEY_FILE",
    "MANIFESTS",
    "METRICS",
    "MODEL_REF",
    "OBSERVABILITY",
    "OUTCOME",
    "PARAMETERS",
    "PASSED",
    "REPORT",
    "STEPS",
    "VERDICT",
    "Input",
    "Param",
    "StepSpec",
    "gate_steps",
    "key_mount",
    "key_secret",
    "param",
    "step",
]

# ----------------------------------------------------------------------------------------- keys

KEYS_MOUNT = "/var/run/signoff/keys"
"""Where the cluster mounts each owner's key Secret: ``<mount>/<role>/key.pem``."""
KEY_FILE = "key.pem"
"""The file inside each key Secret."""
KEYS_DIR_ENV = "SIGNOFF_KEYS_DIR"
"""Environment variable naming a folder of ``<role>.pem`` private keys (local runs only)."""


def key_mount(role: Role | str) -> str:
    """The folder one owner role's key Secret is mounted at in its tasks: ``<mount>/<role>``."""
    return f"{KEYS_MOUNT}/{Role(role).value}"


def key_secret(role: Role | str) -> str:
    """The Secret holding one owner role's private key (file ``key.pem``): ``signoff-key-<role>``."""
    return f"signoff-key-{Role(role).value}"


# ---------------------------------------------------------------------------------- output files

ENVELOPE = "envelope.json"
VERDICT = "verdict.json"
REPORT = "report.md"
METRICS = "metrics.json"
MANIFESTS = "manifests.yaml"
MODEL_REF = "model-ref.json"
OUTCOME = "outcome.json"
DEPLOYABLE = "deployable-manifests.yaml"
OBSERVABILITY = "observability.yaml"
"""The SRE step's monitors and rules (PodMonitor/ServiceMonitor, PrometheusRule) for production,
the objects its verdict's ``observability`` digest covers; the deploy step applies them."""
ALERTMANAGER = "alertmanager.yaml"
"""The SRE step's Alertmanager routes for the workload (a configuration fragment for the
cluster's Alertmanager, which its owners merge; never applied by the deployer)."""

PASSED = "passed"
"""The output parameter every gate task writes on KFP: ``true`` or ``false``. A refused gate's task
succeeds (so the backend uploads its report, metrics and envelope) and the pipeline runs the
dependants only under ``passed == 'true'`` (:mod:`pipelines.kfp_pipeline`)."""

# ------------------------------------------------------------------------------------ parameters

Kind = Literal["str", "float", "bool"]


@dataclass(frozen=True)
class Param:
    """One pipeline parameter, spelled ``kebab-case`` (Argo, argv) and ``snake_case`` (KFP)."""

    name: str
    kind: Kind
    help: str
    default: str | float | bool | None = None
    """The KFP pipeline's default (and the step process's); ``None``: required."""
    argo_default: str | None = None
    """The Argo WorkflowTemplate's default (a string; ``None``: required at submit)."""

    @property
    def snake(self) -> str:
        return self.name.replace("-", "_")

    def text(self, value: str | float | bool) -> str:
        """A value as Argo and argv spell it (``true``/``false`` for a boolean)."""
        if self.kind == "bool":
            return "true" if value else "false"
        return str(value)

    def typed(self, text: str) -> str | float | bool:
        """A value spelled as text, typed as KFP's pipeline declares it."""
        if self.kind == "bool":
            return text.strip().lower() == "true"
        if self.kind == "float":
            return float(text)
        return text


PARAMETERS: tuple[Param, ...] = (
    Param("model-name", "str", "MLflow registered model name"),
    Param("model-version", "str", "MLflow model version number"),
    Param("contract", "str", "the workload contract, YAML text"),
    Param("cluster-policy", "str", "the platform team's cluster policy, YAML text"),
    Param("trust-policy", "str", "which keys belong to which team, YAML text"),
    Param(
        "mlflow-tracking-uri", "str", "MLflow tracking server URI",
        default="", argo_default="http://mlflow.signoff-system.svc:5000",
    ),
    Param("image", "str", "the serving image to render into the manifests, pinned by digest"),
    Param(
        "staging-url", "str",
        "the staging endpoint the SRE step probes: kserve://NS/NAME (wait for the staging "
        "InferenceService to be Ready, then probe it) or its http(s) URL; required: the step image "
        "cannot serve a model itself ('local' is only for signoff run on a machine with full mlflow)",
    ),
    Param(
        "probe-seconds", "float", "how long the SRE step loads the staging endpoint",
        default=10.0, argo_default="10",
    ),
    Param(
        "first-release", "bool",
        "true: the model has no earlier production version (else the SRE gate needs a rollback target)",
        default=False, argo_default="false",
    ),
    Param(
        "artifact-store", "str",
        "the MLflow artifact store as the cluster reads it (s3://...); empty: as MLflow says",
        default="", argo_default="",
    ),
    Param(
        "deploy", "bool",
        "true: after promotion, signoff-deployer applies the promoted manifests and waits",
        default=False, argo_default="false",
    ),
    Param(
        "production-namespace", "str", "where the deploy step applies the promoted manifests",
        default="ml-prod", argo_default="ml-prod",
    ),
    Param(
        "deploy-deadline", "str", "how long the deploy step waits for the rollout to be ready",
        default="10m", argo_default="10m",
    ),
)  # fmt: skip
"""The pipeline's parameters, in the order the engines list them."""

_BY_NAME = {p.name: p for p in PARAMETERS}


def param(name: str) -> Param:
    """The parameter named ``name`` (``kebab-case`` or ``snake_case``)."""
    return _BY_NAME[name.replace("_", "-")]


# ----------------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class Input:
    """One upstream output a step reads: ``name`` (the KFP input) is ``output`` of ``step``."""

    name: str
    step: str
    output: str


@dataclass(frozen=True)
class StepSpec:
    """One step of the gated-promotion pipeline."""

    name: str
    """The step (task, template, process) name."""
    display: str
    """The name the KFP UI shows."""
    gate: Gate | None
    """The gate it decides (none: it decides nothing)."""
    owner: Role | None
    """Whose key it mounts and signs with (none: it signs nothing)."""
    service_account: str
    """The account it runs under in Argo (``infra/base/rbac.yaml``)."""
    params: tuple[str, ...]
    """The pipeline parameters it takes (``kebab-case``)."""
    inputs: tuple[Input, ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()
    """``(KFP output name, file in the step's output folder)``; a file name ending ``/`` is a folder."""
    labels: dict[str, str] = field(default_factory=dict)
    """Its pods' labels."""
    after: str | None = None
    """The step whose success it waits for (Argo's ``depends``; KFP orders tasks by their inputs)."""

    @property
    def key_secret(self) -> str | None:
        return key_secret(self.owner) if self.owner is not None else None

    @property
    def upstream(self) -> tuple[str, ...]:
        """The steps whose output folders it reads, in order, each once."""
        return tuple(dict.fromkeys(i.step for i in self.inputs))

    def output_file(self, output: str) -> str:
        return dict(self.outputs)[output]


_GATE_OUT = (("envelope", ENVELOPE), ("report", REPORT), ("metrics", METRICS))
"""What every signing step writes: the envelope, the report and the figures."""
_DOCS = ("model-name", "model-version", "contract")

STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        name="ml-artifact", display="ML: model artifact", gate=Gate.ML_ARTIFACT, owner=Role.ML,
        service_account="signoff-ml-step",
        params=(*_DOCS, "cluster-policy", "mlflow-tracking-uri", "artifact-store"),
        outputs=(*_GATE_OUT, ("model_ref", MODEL_REF)),
    ),
    StepSpec(
        name="platform", display="Platform: serving template", gate=Gate.PLATFORM, owner=Role.PLATFORM,
        service_account="signoff-platform-step",
        params=("contract", "cluster-policy", "trust-policy", "mlflow-tracking-uri", "image"),
        inputs=(
            Input("ml_envelope", "ml-artifact", "envelope"),
            Input("model_ref", "ml-artifact", "model_ref"),
        ),
        outputs=(*_GATE_OUT, ("manifests", MANIFESTS)),
        after="ml-artifact",
    ),
    StepSpec(
        name="sre-readiness", display="SRE: production readiness", gate=Gate.SRE_READINESS, owner=Role.SRE,
        service_account="signoff-sre-step",
        params=("contract", "cluster-policy", "trust-policy", "mlflow-tracking-uri", "image", "staging-url",
                "probe-seconds", "first-release"),
        inputs=(
            Input("platform_envelope", "platform", "envelope"),
            Input("model_ref", "ml-artifact", "model_ref"),
        ),
        outputs=(*_GATE_OUT, ("observability", OBSERVABILITY), ("alertmanager", ALERTMANAGER),
                 ("server_log", "server-log/")),
        # infra/base/network-policies.yaml lets only pods with this label (in signoff-system) reach
        # the staging serving pods, for the live probe; no other step carries it.
        labels={"signoff.dev/step": "sre"},
        after="platform",
    ),
    StepSpec(
        name="promotion", display="ML: promotion", gate=Gate.PROMOTION, owner=Role.ML,
        service_account="signoff-promoter",
        params=(*_DOCS, "trust-policy", "mlflow-tracking-uri"),
        inputs=(
            Input("ml_envelope", "ml-artifact", "envelope"),
            Input("platform_envelope", "platform", "envelope"),
            Input("sre_envelope", "sre-readiness", "envelope"),
            Input("manifests", "platform", "manifests"),
        ),
        outputs=(*_GATE_OUT, ("deployable_manifests", DEPLOYABLE)),
        after="sre-readiness",
    ),
    StepSpec(
        name="rollback-check", display="rollback check", gate=Gate.ROLLBACK, owner=None,
        service_account="signoff-promoter",
        params=(*_DOCS, "mlflow-tracking-uri"),
        inputs=(Input("promotion_envelope", "promotion", "envelope"),),
        outputs=(("report", REPORT),),
        after="promotion",
    ),
    StepSpec(
        name="run-summary", display="run summary", gate=None, owner=None,
        service_account="signoff-promoter",
        params=("model-name", "model-version", "trust-policy", "mlflow-tracking-uri"),
        outputs=(("report", "summary.md"),),
    ),
    StepSpec(
        name="deploy", display="Deployer: production rollout", gate=None, owner=None,
        service_account="signoff-deployer",
        params=("production-namespace", "deploy-deadline"),
        inputs=(
            Input("deployable_manifests", "promotion", "deployable_manifests"),
            Input("observability", "sre-readiness", "observability"),
        ),
        after="promotion",
    ),
)  # fmt: skip
"""Every step, in pipeline order; ``run-summary`` is the exit handler, ``deploy`` the optional last task."""

_STEPS = {s.name: s for s in STEPS}


def step(name: str) -> StepSpec:
    """The step named ``name``."""
    return _STEPS[name]


def gate_steps() -> tuple[StepSpec, ...]:
    """The steps that decide a handoff gate and sign it (ML artifact, platform, SRE, promotion)."""
    return tuple(s for s in STEPS if s.gate is not None and s.owner is not None)


GATE_ROLE: dict[Gate, Role] = {s.gate: s.owner for s in STEPS if s.gate is not None and s.owner is not None}
"""Whose key signs each gate's verdict: the owner role of the contract."""
GATE_ROLE[Gate.ROLLBACK] = Role.ML  # the rollback record (``signoff rollback``) is ML's
