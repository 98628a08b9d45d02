"""The admission webhook's judgement: does a production GPU object carry a promotion that verifies?

The ValidatingAdmissionPolicy (``infra/policies/require-promotion``) checks that a production GPU
object carries the promotion annotations and comes from the deployer; it cannot check a signature.
This module is what ``signoff admission serve`` (:mod:`components.admission_server`) answers with:
:func:`review` takes an AdmissionReview v1 ``request``, the trust policy, the cluster policy's GPU
routes and ``now``, and returns a :class:`Decision`. Pure: no clock, no network, no files.

Why it is one module of more than 500 lines: it is one decision, read in the order of "What is
judged" below (decode the bundle, verify the promotion, then match contract, model, verdicts and
manifests against it); each step relies on what the steps before it established, and every refusal
reason is worded from that chain. Split, a step could be called without the ones it relies on.

**What an object carries.** Beside the four annotations the policy requires, the deploy step stamps
:data:`BUNDLE_ANNOTATION` (:func:`encode_bundle`): standard base64 of gzip of canonical JSON

    {"v": 1, "contract": <the workload contract as JSON>,
     "manifests": [<the rendered objects the platform gate signed>],
     "promotion": "<base64 of the promotion envelope>",
     "verdicts": ["<base64 of each envelope the promotion accepted>", ...]}

on the serving object and on its pods' metadata (where ``signoff.dev/promotion-record`` is), so the
pods KServe or a ReplicaSet creates carry it too.

**What is judged** (operation CREATE or UPDATE; everything else, and what the policy's
matchConditions skip, is allowed, so housekeeping is never wedged):

* an object that asks for a GPU (the same routes as the CEL policy, from the cluster policy's
  ``gpu_routes``), or claims a promotion (carries ``signoff.dev/model-digest``,
  ``signoff.dev/promotion-record`` or the bundle), must carry a bundle that decodes, and then:
* the promotion envelope verifies against the trust policy, is a passing ``promotion`` verdict
  signed by the team the bundled contract names as ML owner, and its digest is the object's
  ``signoff.dev/promotion-record``;
* the bundled contract is the one the promotion was judged against (its digest), and names this
  workload (the ``signoff.dev/workload`` label; the object's name for the serving object itself);
* the promotion is about this model: ``signoff.dev/model``, ``signoff.dev/model-version`` and
  ``signoff.dev/model-digest`` equal its subject;
* every owner's verdict: the bundle holds exactly the envelopes the promotion accepted (their
  digests are its ``artifacts``), and :func:`gates.promotion.evaluate` over them passes again here;
* these manifests: the bundled manifests digest to what the platform verdict signed
  (``artifacts.manifests``); a request from anyone but a trusted controller must be one of those
  objects (kind, namespace, name), equal to it but for fields the API server defaults.

**Time.** A request at the door (the deployer, or anyone not a controller) is judged at ``now``:
the promotion and every verdict must be valid now. Objects a Kubernetes controller derives from an
admitted parent (a ReplicaSet's Pods, KServe's Deployment; the same identities as the CEL policy's
``trustedControllers``) are judged at the promotion's ``issued_at``: the verdicts held when the
promotion was signed, and the signatures verify now. So a node failure a month after a release
still gets its pods back, while a new apply of an expired promotion is refused.

Anything that cannot be judged (no object, an unparsable bundle, a bundle above
:data:`MAX_BUNDLE_BYTES` once inflated) is refused with the reason: fail closed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from contracts.cluster import GpuRoutes
from contracts.errors import VerificationError
from contracts.trust import Gate, TrustPolicy
from contracts.workload import WorkloadContract, canonical_json
from gates import promotion, render, signing
from gates.verdict import Subject, Verdict, digest_bytes

__all__ = [
    "BUNDLE_ANNOTATION",
    "DEPLOYER",
    "MAX_BUNDLE_BYTES",
    "Bundle",
    "Decision",
    "asks_for_gpu",
    "decode_bundle",
    "encode_bundle",
    "response",
    "review",
    "trusted_controllers",
]

BUNDLE_ANNOTATION = render.ANNOTATION_BUNDLE
"""The annotation holding the signed promotion and what it rests on (:func:`encode_bundle`)."""
DEPLOYER = "system:serviceaccount:signoff-system:signoff-deployer"
"""The identity the CEL policy accepts for production GPU objects."""
MAX_BUNDLE_BYTES = 1 << 20
"""A bundle inflating beyond 1 MiB is refused (Kubernetes caps all annotations at 256 KiB)."""

_PROMOTION_KEYS = (
    render.ANNOTATION_MODEL,
    render.ANNOTATION_VERSION,
    render.ANNOTATION_DIGEST,
    render.ANNOTATION_PROMOTION,
)
_CLAIMS = (render.ANNOTATION_DIGEST, render.ANNOTATION_PROMOTION, BUNDLE_ANNOTATION)
_WORKLOAD_LABEL = "signoff.dev/workload"

# Fields the API server (or a CRD's structural defaulting) fills in that a rendered object may lack;
# anything else present in the request but not in the signed object is a change and is refused.
_DEFAULTED = frozenset(
    {
        # metadata the server owns
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "managedFields",
        "selfLink",
        "deletionGracePeriodSeconds",
        "ownerReferences",
        "finalizers",
        "generateName",
        # object-level
        "status",
        "progressDeadlineSeconds",
        "revisionHistoryLimit",
        # pod spec
        "restartPolicy",
        "dnsPolicy",
        "schedulerName",
        "terminationGracePeriodSeconds",
        "enableServiceLinks",
        "preemptionPolicy",
        "priority",
        "serviceAccount",
        "nodeName",
        # containers, probes, ports, volumes
        "terminationMessagePath",
        "terminationMessagePolicy",
        "imagePullPolicy",
        "protocol",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
        "scheme",
        "defaultMode",
        # Service, PDB, HPA
        "sessionAffinity",
        "ipFamilies",
        "ipFamilyPolicy",
        "internalTrafficPolicy",
        "clusterIP",
        "clusterIPs",
        "unhealthyPodEvictionPolicy",
        "behavior",
        # annotations and labels the server or kubectl adds are compared one by one (below)
    }
)
_IGNORED_TOP = frozenset({"status"})
_IGNORED_ANNOTATIONS = frozenset(
    {
        render.ANNOTATION_PROMOTION,
        BUNDLE_ANNOTATION,
        "kubectl.kubernetes.io/last-applied-configuration",
        "deployment.kubernetes.io/revision",
    }
)

_CONTROLLERS: dict[str, tuple[str, ...]] = {
    "Pod": (
        "system:serviceaccount:kube-system:replicaset-controller",
        "system:serviceaccount:kube-system:statefulset-controller",
        "system:serviceaccount:kube-system:daemon-set-controller",
        "system:serviceaccount:kube-system:job-controller",
        "system:kube-controller-manager",
    ),
    "ReplicaSet": (
        "system:serviceaccount:kube-system:deployment-controller",
        "system:kube-controller-manager",
    ),
    "Job": ("system:serviceaccount:kube-system:cronjob-controller", "system:kube-controller-manager"),
    "Deployment": (
        "system:serviceaccount:kserve:kserve-controller-manager",
        "system:serviceaccount:kserve:llmisvc-controller-manager",
        "system:serviceaccount:knative-serving:controller",
    ),
    "StatefulSet": ("system:serviceaccount:lws-system:lws-controller-manager",),
    "LeaderWorkerSet": ("system:serviceaccount:kserve:llmisvc-controller-manager",),
    "Service": ("system:serviceaccount:kserve:kserve-controller-manager",),  # Knative Service only
    "Configuration": ("system:serviceaccount:knative-serving:controller",),
    "Revision": ("system:serviceaccount:knative-serving:controller",),
}


def trusted_controllers(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The controller identities that derive this kind from an admitted parent (the CEL policy's list)."""
    kind = str(obj.get("kind", ""))
    if kind == "Service" and not str(obj.get("apiVersion", "")).startswith("serving.knative.dev/"):
        return ()
    return _CONTROLLERS.get(kind, ())


# ------------------------------------------------------------------------------------------- bundle


@dataclass(frozen=True)
class Bundle:
    """A decoded promotion bundle (nothing in it is verified yet)."""

    contract: dict[str, Any]
    manifests: tuple[dict[str, Any], ...]
    promotion: bytes
    verdicts: tuple[bytes, ...]


def encode_bundle(
    contract: WorkloadContract,
    manifests: render.Manifests,
    promotion_envelope: bytes,
    envelopes: Sequence[bytes],
) -> str:
    """The :data:`BUNDLE_ANNOTATION` value for a promotion.

    Args:
        contract: the contract the promotion was judged against.
        manifests: the manifests the platform verdict signed (without promotion annotations).
        promotion_envelope: the signed promotion record.
        envelopes: the envelopes the promotion accepted (its ``artifacts``), in any order.

    Returns:
        base64 (standard, padded) of gzip (mtime 0) of the canonical JSON document.
    """
    doc = {
        "v": 1,
        "contract": contract.model_dump(mode="json"),
        "manifests": list(render.without_promotion(manifests).objects),
        "promotion": base64.b64encode(promotion_envelope).decode("ascii"),
        "verdicts": sorted(base64.b64encode(e).decode("ascii") for e in envelopes),
    }
    return base64.b64encode(zlib_gzip(canonical_json(doc))).decode("ascii")


def zlib_gzip(data: bytes) -> bytes:
    """gzip of ``data`` with a zero timestamp (the same bytes every time)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


def _canonical_b64(value: object, what: str) -> bytes:
    """Standard padded base64 that re-encodes to exactly itself (one spelling per byte string)."""
    if not isinstance(value, str):
        raise VerificationError([f"{what} is not a base64 string"])
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise VerificationError([f"{what} is not standard base64"]) from None
    if base64.b64encode(raw).decode("ascii") != value:
        raise VerificationError([f"{what} is not canonical base64 (padding or trailing bits)"])
    return raw


def decode_bundle(value: str) -> Bundle:
    """Decode a :data:`BUNDLE_ANNOTATION` value.

    Raises:
        VerificationError: it is not base64 of gzip of a version-1 bundle, or inflates too far.
    """
    raw = _canonical_b64(value.strip(), f"annotation {BUNDLE_ANNOTATION}")
    inflater = zlib.decompressobj(31)
    try:
        data = inflater.decompress(raw, MAX_BUNDLE_BYTES + 1)
    except zlib.error as exc:
        raise VerificationError([f"annotation {BUNDLE_ANNOTATION} is not gzip data: {exc}"]) from None
    if len(data) > MAX_BUNDLE_BYTES or inflater.unconsumed_tail:
        raise VerificationError([f"annotation {BUNDLE_ANNOTATION} inflates beyond {MAX_BUNDLE_BYTES} bytes"])
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise VerificationError([f"annotation {BUNDLE_ANNOTATION} is not JSON: {exc}"]) from None
    if (
        not isinstance(doc, dict)
        or doc.get("v") != 1
        or set(doc) != {"v", "contract", "manifests", "promotion", "verdicts"}
    ):
        raise VerificationError(
            [
                f"annotation {BUNDLE_ANNOTATION} is not a version-1 bundle "
                "(v, contract, manifests, promotion, verdicts)"
            ]
        )
    manifests, verdicts = doc["manifests"], doc["verdicts"]
    if (
        not isinstance(doc["contract"], dict)
        or not isinstance(manifests, list)
        or not isinstance(verdicts, list)
    ):
        raise VerificationError(
            [f"annotation {BUNDLE_ANNOTATION}: contract, manifests or verdicts has the wrong type"]
        )
    if not all(isinstance(m, dict) for m in manifests):
        raise VerificationError([f"annotation {BUNDLE_ANNOTATION}: manifests must be objects"])

    return Bundle(
        contract=doc["contract"],
        manifests=tuple(manifests),
        promotion=_canonical_b64(doc["promotion"], f"annotation {BUNDLE_ANNOTATION}: promotion"),
        verdicts=tuple(
            _canonical_b64(v, f"annotation {BUNDLE_ANNOTATION}: verdicts[{i}]")
            for i, v in enumerate(verdicts)
        ),
    )


# ------------------------------------------------------------------------------------------ GPU routes


def _is_gpu_resource(name: str, routes: GpuRoutes) -> bool:
    for entry in routes.extended_resources:
        if entry.endswith("/*") and name.startswith(entry[:-1]):
            return True
        if name == entry:
            return True
    return False


def _resources_ask(res: object, routes: GpuRoutes) -> bool:
    if not isinstance(res, dict):
        return False
    return any(
        isinstance(res.get(k), dict) and any(_is_gpu_resource(str(r), routes) for r in res[k])
        for k in ("limits", "requests")
    )


_FRAMEWORKS = (
    "sklearn",
    "xgboost",
    "lightgbm",
    "tensorflow",
    "pytorch",
    "triton",
    "onnx",
    "huggingface",
    "pmml",
    "paddle",
)


def _d(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _l(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _pod_specs(obj: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pod specs, InferenceService predictors) of an object, as the CEL policy finds them."""
    kind, spec = obj.get("kind"), _d(obj.get("spec"))
    kserve = str(obj.get("apiVersion", "")).startswith("serving.kserve.io/")
    if kind in ("Pod", "Revision"):
        return [spec], []
    if kind == "CronJob":
        return [_d(_d(_d(_d(spec.get("jobTemplate")).get("spec")).get("template")).get("spec"))], []
    if kserve and kind == "InferenceService":
        predictors = [_d(spec.get("predictor"))] if "predictor" in spec else []
        predictors += [_d(_d(c).get("predictor")) for c in _l(spec.get("canary"))]
        specs = predictors + [_d(p["workerSpec"]) for p in predictors if "workerSpec" in p]
        specs += [_d(spec[k]) for k in ("transformer", "explainer") if k in spec]
        return specs, predictors
    if kserve and kind == "LLMInferenceService":
        specs = [_d(spec[k]) for k in ("template", "worker") if k in spec]
        prefill = _d(spec.get("prefill"))
        specs += [_d(prefill[k]) for k in ("template", "worker") if k in prefill]
        sched = _d(_d(spec.get("router")).get("scheduler"))
        specs += [_d(sched["template"])] if "template" in sched else []
        return specs, []
    if kind == "LeaderWorkerSet":
        lwt = _d(spec.get("leaderWorkerTemplate"))
        return [_d(_d(lwt.get(k)).get("spec")) for k in ("leaderTemplate", "workerTemplate") if k in lwt], []
    template = _d(spec.get("template"))
    return ([_d(template["spec"])] if "spec" in template else []), []


def asks_for_gpu(obj: Mapping[str, Any], routes: GpuRoutes) -> str:
    """Why the object asks for a GPU, in words ("" when it does not): the CEL policy's routes."""
    kind = obj.get("kind")
    kserve = str(obj.get("apiVersion", "")).startswith("serving.kserve.io/")
    if kserve and kind == "LLMInferenceService":
        return "every LLMInferenceService serves on GPUs"
    if kserve and kind == "InferenceGraph":
        return "router asks for GPUs" if _resources_ask(_d(obj.get("spec")).get("resources"), routes) else ""
    specs, predictors = _pod_specs(obj)
    lists = [
        _l(s.get("containers")) + _l(s.get("initContainers")) + _l(s.get("ephemeralContainers"))
        for s in specs
    ]
    lists += [[_d(p[f]) for f in ("model", *_FRAMEWORKS) if f in p] for p in predictors]
    for containers in lists:
        for c in map(_d, containers):
            name = c.get("name", render.CONTAINER_NAME)
            if _resources_ask(c.get("resources"), routes):
                return f"container '{name}' asks for GPUs"
            if any(_d(e).get("name") in routes.device_env for e in _l(c.get("env"))):
                return f"container '{name}' sets a GPU device variable"
            if _l(c.get("envFrom")):
                return (
                    f"container '{name}' takes its environment from envFrom (keys not visible: fail closed)"
                )
    for s in specs:
        if _l(s.get("resourceClaims")):
            return "pod claims devices (resourceClaims)"
        if s.get("runtimeClassName") in routes.runtime_classes:
            return "pod runs under a GPU runtimeClassName"
        if _resources_ask(s.get("resources"), routes):
            return "pod-level resources ask for GPUs"
        for v in map(_d, _l(s.get("volumes"))):
            path = str(_d(v.get("hostPath")).get("path", ""))
            if path == "/dev" or path.startswith("/dev/"):
                return "pod mounts host devices (hostPath /dev)"
    for p in predictors:
        if "model" in p and _d(p["model"]).get("runtime") not in routes.cpu_runtimes:
            return (
                "predictor model takes its runtime from KServe (not a CPU-only runtime of the cluster policy)"
            )
        if any(f in p for f in _FRAMEWORKS):
            return "predictor framework takes its runtime from KServe (not a CPU-only runtime of the policy)"
    return ""


def _pod_meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Where the promotion annotations live (the CEL policy's ``podMeta``)."""
    kind, spec = obj.get("kind"), _d(obj.get("spec"))
    if kind in ("Pod", "Revision") or str(obj.get("apiVersion", "")).startswith("serving.kserve.io/"):
        return _d(obj.get("metadata"))
    if kind == "CronJob":
        return _d(_d(_d(_d(spec.get("jobTemplate")).get("spec")).get("template")).get("metadata"))
    if kind == "LeaderWorkerSet":
        return _d(_d(_d(spec.get("leaderWorkerTemplate")).get("workerTemplate")).get("metadata"))
    return _d(_d(spec.get("template")).get("metadata"))


# ------------------------------------------------------------------------------------------ decision


@dataclass(frozen=True)
class Decision:
    """The webhook's answer to one request."""

    allowed: bool
    reason: str
    """One paragraph: why (every problem found when refused)."""
    judged: bool = False
    """True when the object was in scope and its promotion was checked (false: let through)."""
    problems: tuple[str, ...] = field(default=())


def _allow(reason: str) -> Decision:
    return Decision(allowed=True, reason=reason)


def _changes_what_runs(request: Mapping[str, Any], obj: Mapping[str, Any]) -> bool:
    """The CEL policy's ``changes-what-runs`` matchCondition."""
    old = request.get("oldObject")
    if request.get("operation") == "CREATE" or not isinstance(old, dict):
        return True
    if "spec" not in obj or "spec" not in old or obj["spec"] != old["spec"]:
        return True
    new_a = _d(_d(obj.get("metadata")).get("annotations"))
    old_a = _d(_d(old.get("metadata")).get("annotations"))
    return any(new_a.get(k, "") != old_a.get(k, "") for k in (*_PROMOTION_KEYS, BUNDLE_ANNOTATION))


def _subject_of(obj: Mapping[str, Any]) -> str:
    meta = _d(obj.get("metadata"))
    name = meta.get("name") or (
        str(meta.get("generateName", "")) + "*" if meta.get("generateName") else "(unnamed)"
    )
    return f"{obj.get('kind', '?')} {name}"


def review(request: Mapping[str, Any], trust: TrustPolicy, routes: GpuRoutes, now: datetime) -> Decision:
    """Judge one AdmissionReview v1 ``request`` (the ``request`` member of the review body).

    Args:
        request: the AdmissionRequest as a dict (``uid``, ``operation``, ``userInfo``, ``object``...).
        trust: the trust policy the signatures must verify against.
        routes: the cluster policy's GPU routes (what counts as a GPU object).
        now: the time a request at the door is judged at.

    Returns:
        Allowed (out of scope, or a promotion that verifies for this object), or refused with every
        reason found. Never raises for bad input: what cannot be judged is refused.
    """
    operation = request.get("operation")
    if operation not in ("CREATE", "UPDATE"):
        return _allow(f"operation {operation!r} is not judged")
    obj = request.get("object")
    if not isinstance(obj, dict):
        return Decision(allowed=False, reason="the request carries no object to judge; refused (fail closed)")
    if "deletionTimestamp" in _d(obj.get("metadata")):
        return _allow("the object is being deleted")
    if not _changes_what_runs(request, obj):
        return _allow("the update changes neither the spec nor a promotion annotation")
    who = _subject_of(obj)
    gpu = asks_for_gpu(obj, routes)
    pod_meta = _pod_meta(obj)
    annotations = _d(pod_meta.get("annotations"))
    own = _d(_d(obj.get("metadata")).get("annotations"))
    claimed = [k for k in _CLAIMS if k in annotations or k in own]
    if not gpu and not claimed:
        return _allow(f"{who}: not a GPU workload and claims no promotion")
    why = gpu or f"claims a promotion ({', '.join(claimed)})"
    value = annotations.get(BUNDLE_ANNOTATION)
    if not isinstance(value, str) or not value.strip():
        return Decision(
            allowed=False,
            judged=True,
            reason=f"{who}: {why} but its pod metadata carries no {BUNDLE_ANNOTATION} annotation; production "
            "GPU workloads carry the signed promotion record signoff's deploy step writes",
        )
    requester = str(_d(request.get("userInfo")).get("username", ""))
    derived = requester in trusted_controllers(obj)
    problems = _judge(obj, pod_meta, own, value, trust, now, derived=derived)
    if problems:
        return Decision(
            allowed=False,
            judged=True,
            reason=f"{who}: {why} but its signed promotion does not hold: " + "; ".join(problems),
            problems=tuple(problems),
        )
    return Decision(
        allowed=True,
        judged=True,
        reason=f"{who}: signed promotion verifies"
        + (f" (derived by {requester}; verdicts judged at the promotion's time)" if derived else ""),
    )


@dataclass(frozen=True)
class _Static:
    """What a bundle proves, whatever the object and the time (computed once per bundle)."""

    contract: WorkloadContract
    signed: signing.SignedVerdict
    manifests: render.Manifests
    chosen: tuple[Verdict, ...]
    """The verdicts the promotion rests on, as they verified."""
    problems: tuple[str, ...]


@functools.lru_cache(maxsize=64)
def _verified(value: str, trust: TrustPolicy) -> _Static | str:
    """Decode a bundle and verify it as far as neither the object nor the clock matters.

    Cached: the same bundle arrives on the serving object and on every one of its pods, and the
    signatures, the contract's digest and the re-run of the promotion gate do not change.
    """
    try:
        bundle = decode_bundle(value)
    except VerificationError as exc:
        return "; ".join(exc.reasons)
    try:
        contract = WorkloadContract.model_validate(bundle.contract)
    except ValidationError as exc:
        first = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:3])
        return f"the bundled contract is not a valid workload contract: {first}"
    try:
        signed = signing.verify_envelope(bundle.promotion, trust)
    except VerificationError as exc:
        return "the promotion envelope does not verify: " + "; ".join(exc.reasons)
    record = signed.verdict
    if record.gate is not Gate.PROMOTION:
        return f"the bundled record is a {record.gate.value} verdict, not a promotion"
    out: list[str] = []
    if not record.passed:
        out.append("the promotion record is a refusal (" + ", ".join(c.id for c in record.failures) + ")")
    owner = promotion.owner_of(contract, Gate.PROMOTION)
    if signed.team != owner:
        out.append(f"the promotion was signed by team {signed.team}, not {owner}, the contract's ML owner")
    if contract.digest() != record.contract_digest:
        out.append(
            f"the bundled contract {contract.digest()} is not the one promoted ({record.contract_digest})"
        )

    # Every owner's verdict, again, here: exactly the envelopes the promotion accepted, holding at
    # the time the promotion was signed (the door adds "and still now", see _judge).
    by_digest = {digest_bytes(e): e for e in bundle.verdicts}
    if sorted(by_digest) != sorted(record.artifacts.values()) or len(by_digest) != len(bundle.verdicts):
        out.append(
            "the bundle does not hold exactly the verdicts the promotion accepted "
            f"({len(bundle.verdicts)} bundled, {len(record.artifacts)} accepted)"
        )
    subject = Subject.model_validate(record.subject.model_dump())
    again = promotion.evaluate(contract, subject, list(bundle.verdicts), trust, record.issued_at)
    out += [c.message for c in again.failures]
    if again.passed and again.artifacts != record.artifacts:
        out.append("the verdicts that hold here are not the ones the promotion accepted")
    chosen: list[Verdict] = []
    platform_manifests: str | None = None
    for gate, digest in again.artifacts.items():
        v = signing.verify_envelope(by_digest[digest], trust).verdict  # verified by evaluate above
        chosen.append(v)
        if gate == Gate.PLATFORM.value:
            platform_manifests = v.artifacts.get("manifests")

    # These manifests: the ones platform signed.
    manifests = render.Manifests(objects=bundle.manifests)
    if platform_manifests != manifests.digest():
        out.append(
            f"the bundled manifests (digest {manifests.digest()}) are not the ones platform signed "
            f"({platform_manifests})"
        )
    return _Static(contract, signed, manifests, tuple(chosen), tuple(out))


def _judge(
    obj: Mapping[str, Any],
    pod_meta: Mapping[str, Any],
    own: Mapping[str, Any],
    value: str,
    trust: TrustPolicy,
    now: datetime,
    *,
    derived: bool,
) -> list[str]:
    static = _verified(value, trust)
    if isinstance(static, str):
        return [static]
    record = static.signed.verdict
    out = list(static.problems)
    annotations = _d(pod_meta.get("annotations"))
    places: list[tuple[str, Mapping[str, Any]]] = [("pod metadata", annotations)]
    if own is not annotations and any(k in own for k in _PROMOTION_KEYS):
        places.append(("object metadata", own))
    expected = {
        render.ANNOTATION_PROMOTION: static.signed.envelope_digest,
        render.ANNOTATION_MODEL: record.subject.model,
        render.ANNOTATION_VERSION: record.subject.version,
        render.ANNOTATION_DIGEST: record.subject.digest,
    }
    for where, found in places:
        for key, want in expected.items():
            if found.get(key) != want:
                out.append(
                    f"{where} annotation {key} is {found.get(key)!r}, the signed promotion says {want!r}"
                )
    workload = static.contract.metadata.name
    label = _d(pod_meta.get("labels")).get(_WORKLOAD_LABEL)
    if label != workload:
        out.append(
            f"pod label {_WORKLOAD_LABEL} is {label!r}, but the promotion is for workload {workload!r}"
        )
    if not derived:
        # At the door the promotion and every verdict it rests on must still be valid now.
        ttl = timedelta(seconds=static.contract.spec.promotion.verdict_ttl.seconds)
        out += [f"the promotion record: {p}" for p in promotion.validity_problems(record, ttl, now)]
        for v in static.chosen:
            out += [f"the {v.gate.value} verdict: {p}" for p in promotion.validity_problems(v, ttl, now)]
        out += _matches_signed(obj, static.manifests)
    return out


def _matches_signed(obj: Mapping[str, Any], manifests: render.Manifests) -> list[str]:
    meta = _d(obj.get("metadata"))
    key = (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))
    for signed in manifests.objects:
        smeta = _d(signed.get("metadata"))
        if (signed.get("apiVersion"), signed.get("kind"), smeta.get("namespace"), smeta.get("name")) == key:
            diffs: list[str] = []
            _diff(signed, obj, "", diffs)
            if diffs:
                return [f"it is not the object platform signed: {', '.join(diffs[:5])}"]
            return []
    names = ", ".join(f"{o.get('kind')} {_d(o.get('metadata')).get('name')}" for o in manifests.objects)
    return [f"it is not one of the manifests platform signed ({names})"]


def _diff(signed: Any, got: Any, path: str, out: list[str]) -> None:
    """Where ``got`` differs from ``signed`` beyond what the API server defaults."""
    if len(out) >= 5:
        return
    if isinstance(signed, dict) and isinstance(got, dict):
        for k, v in signed.items():
            if path == "" and k in _IGNORED_TOP:
                continue
            if k not in got:
                out.append(f"{path}{k} removed")
            else:
                _diff(v, got[k], f"{path}{k}.", out)
        for k in got.keys() - signed.keys():
            if path.endswith("annotations.") or path.endswith("labels."):
                if k in _IGNORED_ANNOTATIONS:
                    continue
                out.append(f"{path}{k} added")
            elif k not in _DEFAULTED and not (path == "" and k in _IGNORED_TOP):
                out.append(f"{path}{k} added")
        return
    if isinstance(signed, list) and isinstance(got, list):
        if len(signed) != len(got):
            out.append(f"{path.rstrip('.')} has {len(got)} items, {len(signed)} signed")
            return
        for i, (a, b) in enumerate(zip(signed, got, strict=True)):
            _diff(a, b, f"{path}{i}.", out)
        return
    if signed != got and not (isinstance(signed, int | float) and str(signed) == str(got)):
        out.append(f"{path.rstrip('.')} is {json.dumps(got)[:60]}, {json.dumps(signed)[:60]} signed")


def response(request: Mapping[str, Any], decision: Decision) -> dict[str, Any]:
    """The AdmissionReview v1 body answering ``request`` with ``decision``."""
    body: dict[str, Any] = {"uid": str(request.get("uid", "")), "allowed": decision.allowed}
    if not decision.allowed:
        body["status"] = {"code": 403, "reason": "Forbidden", "message": decision.reason[:4000]}
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": body}
