"""``signoff deploy`` and ``components.kube`` against the real API server, controllers and kwok.

The deployer authenticates as it does in its pod: a service-account token the API server issued
(TokenRequest), not impersonation, so RBAC judges the real identity. What is checked here is what
the stand-in of tests/integration/test_kube_api.py could only imitate:

* a promoted production Deployment is server-side applied (field manager ``signoff``, operation
  Apply in every object's managedFields), the controllers make its pods, kwok makes them Ready, and
  ``--wait`` returns with the Service's URL;
* an InferenceService: this module runs no KServe controller (test_kserve_controller.py runs the
  real one), so to test ``--wait``'s edge cases it plays the controller's one part that matters: it
  writes ``status`` (Ready, observedGeneration, address) through the status subresource, as KServe's
  controller does; a status for an older generation does not count;
* unpromoted objects for production are refused before anything is sent (the objects stay absent);
* ``--dry-run`` is judged by the server (admission included) and persists nothing;
* the faults the real server produces: 403 (an account without the verb), 404 (no such namespace),
  422 (an invalid object), 409 (a field another manager owns), a TLS server the kubeconfig's CA did
  not sign, and never ready (no node fits the pods: the deadline passes, exit 1).
"""

from __future__ import annotations

import copy
import datetime
import json
import threading
import time
from pathlib import Path
from typing import Any

import _serving
import pytest
import yaml
from _controlplane import ControlPlane, _issue, _key, _name

from components import kube
from contracts.cluster import ServingMode
from contracts.errors import ConflictError, InputError, PermanentError, TemporaryError
from gates.render import Manifests
from pipelines._cli import main as cli

pytestmark = pytest.mark.cluster

PROD, STAGING = "ml-prod", "ml-staging"


def _renamed(objs: list[dict[str, Any]], name: str, namespace: str | None = None) -> list[dict[str, Any]]:
    """The objects under another workload name (and namespace): a separate copy in the cluster."""
    out = []
    for obj in copy.deepcopy(objs):
        old = obj["metadata"]["name"]
        obj["metadata"]["name"] = old.replace(obj["metadata"]["labels"]["signoff.dev/workload"], name)
        if namespace:
            obj["metadata"]["namespace"] = namespace
        spec = obj.get("spec") or {}
        if obj["kind"] == "HorizontalPodAutoscaler":
            spec["scaleTargetRef"]["name"] = name
        for holder in (spec.get("selector", {}).get("matchLabels"), spec.get("selector"),
                       spec.get("podSelector", {}).get("matchLabels"),
                       spec.get("template", {}).get("metadata", {}).get("labels"),
                       obj["metadata"]["labels"]):  # fmt: skip
            if isinstance(holder, dict) and "signoff.dev/workload" in holder:
                holder["signoff.dev/workload"] = name
        for pod in (spec.get("template", {}).get("spec"), spec.get("predictor")):
            if pod and "serviceAccountName" in pod:
                pod["serviceAccountName"] = f"{name}-serving"
            if pod and "signoff.dev/workload" in pod.get("labels", {}):
                pod["labels"]["signoff.dev/workload"] = name
        out.append(obj)
    return out


def _absent(cluster: ControlPlane, kind: str, name: str, namespace: str) -> bool:
    done = cluster.kubectl("get", kind, name, "-n", namespace, check=False)
    return done.returncode != 0 and "NotFound" in done.stderr


def _deploy(*args: str) -> int:
    return cli.main(["deploy", *args])


# --------------------------------------------------------------------------------------- succeeds


def test_signoff_deploy_applies_promoted_manifests_to_production_and_waits_until_ready(
    cluster: ControlPlane, deployer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifests = _serving.manifests("fraud-scorer")
    path = _serving.write(tmp_path / "deployable-manifests.yaml", manifests)
    try:
        rc = _deploy(str(path), "-n", PROD, "--kubeconfig", str(deployer), "--wait", "--deadline", "120s",
                     "--poll", "0.5")  # fmt: skip
        out, err = capsys.readouterr()
        assert rc == 0, f"{out}\n{err}\n{_serving.diagnostics(cluster, PROD)}"
        for obj in manifests.objects:
            assert f"applied {obj['kind']}/{obj['metadata']['name']} in {PROD}\n" in out
        assert "ready     Deployment/fraud-scorer after" in out
        assert "url       http://fraud-scorer.ml-prod.svc.cluster.local\n" in out
        # what the server stored: every object server-side applied by the field manager "signoff"
        for obj in manifests.objects:
            kind, name = obj["kind"].lower(), obj["metadata"]["name"]
            stored = _serving.get(cluster, kind, name, "--show-managed-fields", namespace=PROD)
            managers = {(m["manager"], m["operation"]) for m in stored["metadata"]["managedFields"]}
            assert ("signoff", "Apply") in managers, (obj["kind"], managers)
        pods = _serving.pods_of(cluster, PROD, "signoff.dev/workload=fraud-scorer")
        assert len(pods) == 2 and all(p["status"]["phase"] == "Running" for p in pods)
        # applying the same manifests again changes nothing and is not a conflict
        assert kube.apply(manifests, namespace=PROD, client=kube.load_client(str(deployer)))
    finally:  # leave ml-prod as infra/ made it (the golden manifests' dry runs use these names)
        cluster.kubectl("delete", "-f", str(path), "--ignore-not-found", "--wait=false")


def _status_writer(cluster: ControlPlane, namespace: str, name: str, url: str) -> threading.Thread:
    """Play KServe's controller for one InferenceService: once it exists, write a Ready status for
    its current generation through the status subresource."""

    def write() -> None:
        path = f"/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/{name}"
        end = time.monotonic() + 60
        while time.monotonic() < end:
            status, obj = cluster.request("GET", path)
            if status == 200:
                now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                ready = {"status": "True", "lastTransitionTime": now}
                body = {"status": {
                    "observedGeneration": obj["metadata"]["generation"],
                    "url": f"http://{name}.{namespace}.example.com",
                    "address": {"url": url},
                    "conditions": [{"type": t, **ready} for t in ("PredictorReady", "Ready")],
                }}  # fmt: skip
                done, said = cluster.request(
                    "PATCH", path + "/status", body, content_type="application/merge-patch+json"
                )
                assert done == 200, said
                return
            time.sleep(0.2)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_signoff_deploy_of_an_inferenceservice_waits_for_its_ready_status(
    cluster: ControlPlane, deployer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No KServe controller runs here: the status is written as KServe's controller writes it."""
    manifests = _serving.manifests("recsys-ranker", environment="staging", mode=ServingMode.KSERVE,
                                   promoted=False)  # fmt: skip
    objs = _renamed(_serving.objects(manifests), "ranker-isvc")
    path = _serving.write(tmp_path / "manifests.yaml", objs)
    url = "http://ranker-isvc-predictor.ml-staging.svc.cluster.local"
    writer = _status_writer(cluster, STAGING, "ranker-isvc", url)
    rc = _deploy(str(path), "-n", STAGING, "--kubeconfig", str(deployer), "--wait", "--deadline", "60s",
                 "--poll", "0.3")  # fmt: skip
    writer.join(timeout=5)
    out, err = capsys.readouterr()
    assert rc == 0, f"{out}\n{err}"
    assert "ready     InferenceService/ranker-isvc after" in out
    assert f"url       {url}\n" in out
    # a new spec bumps the generation: the Ready status of the previous one no longer counts
    objs[1]["spec"]["predictor"]["maxReplicas"] += 1
    client = kube.load_client(str(deployer))
    kube.apply(Manifests(objects=tuple(objs)), namespace=STAGING, client=client)
    stored = kube.get_serving("InferenceService", "ranker-isvc", STAGING, client=client)
    assert stored["metadata"]["generation"] > stored["status"]["observedGeneration"]
    started = time.monotonic()
    assert kube.wait_ready("InferenceService", "ranker-isvc", STAGING, deadline_s=2, launched_at=started,
                           poll_s=0.2, client=client) is None  # fmt: skip


# ------------------------------------------------------------------------------------ refused here


@pytest.mark.parametrize("record", [None, "", "yes", "sha256:abc"])
def test_unpromoted_manifests_for_production_are_refused_and_nothing_reaches_the_cluster(
    cluster: ControlPlane,
    deployer: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    record: str | None,
) -> None:
    objs = _renamed(_serving.objects(_serving.manifests("fraud-scorer", promoted=False)), "unpromoted")
    if record is not None:  # a record that is not a digest counts as none
        for obj in objs:
            if obj["kind"] == "Deployment":
                obj["metadata"]["annotations"]["signoff.dev/promotion-record"] = record
                obj["spec"]["template"]["metadata"]["annotations"]["signoff.dev/promotion-record"] = record
    path = _serving.write(tmp_path / "manifests.yaml", objs)
    rc = _deploy(str(path), "-n", PROD, "--kubeconfig", str(deployer))
    err = capsys.readouterr().err
    assert rc == 1
    assert "signoff: refused: refusing to apply to production namespace 'ml-prod'" in err
    assert "Traceback" not in err
    for obj in objs:  # the ServiceAccount comes first: not even that was sent
        assert _absent(cluster, obj["kind"].lower(), obj["metadata"]["name"], PROD), obj["kind"]


def test_declared_production_is_checked_too_and_wrong_namespaces_or_kinds_send_nothing(
    cluster: ControlPlane, deployer: Path
) -> None:
    client = kube.load_client(str(deployer))
    staging = _renamed(_serving.objects(_serving.manifests("fraud-scorer", environment="staging",
                                                           promoted=False)), "declared")  # fmt: skip
    with pytest.raises(PermanentError, match="promotion record"):
        kube.apply(Manifests(objects=tuple(staging)), namespace=STAGING, production=True, client=client)
    prod = _renamed(_serving.objects(_serving.manifests("fraud-scorer", promoted=False)), "declared")
    with pytest.raises(PermanentError, match="promotion record"):  # ml-prod cannot be declared not
        kube.apply(Manifests(objects=tuple(prod)), namespace=PROD, production=False, client=client)
    with pytest.raises(InputError, match="is for namespace 'ml-staging', not 'other'"):
        kube.apply(Manifests(objects=tuple(staging)), namespace="other", client=client)
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "declared"}}
    with pytest.raises(InputError, match="kind 'Secret' is not one signoff deploys"):
        kube.apply(Manifests(objects=(staging[0], secret)), namespace=STAGING, client=client)
    sneaky = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "../../secrets/x"}}
    with pytest.raises(InputError, match="not a DNS-1123 name"):
        kube.apply(Manifests(objects=(staging[0], sneaky)), namespace=STAGING, client=client)
    for obj in staging:  # every check runs before the first request: not even the ServiceAccount
        assert _absent(cluster, obj["kind"].lower(), obj["metadata"]["name"], STAGING), obj["kind"]
        assert _absent(cluster, obj["kind"].lower(), obj["metadata"]["name"], PROD), obj["kind"]


def test_dry_run_is_judged_by_the_server_and_persists_nothing(
    cluster: ControlPlane, deployer: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    objs = _renamed(_serving.objects(_serving.manifests("recsys-ranker")), "dry-ranker")
    path = _serving.write(tmp_path / "manifests.yaml", objs)
    rc = _deploy(str(path), "-n", PROD, "--kubeconfig", str(deployer), "--dry-run")
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "applied Deployment/dry-ranker in ml-prod (dry run: nothing persisted)" in out
    for obj in objs:
        assert _absent(cluster, obj["kind"].lower(), obj["metadata"]["name"], PROD), obj["kind"]
    # the dry run runs admission: a promoted-looking Deployment with a tag image is refused by the policy
    objs[1]["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/ml/mlserver:1.7"
    with pytest.raises(PermanentError, match="is not pinned by digest") as err:
        kube.apply(Manifests(objects=tuple(objs)), namespace=PROD, dry_run=True,
                   client=kube.load_client(str(deployer)))  # fmt: skip
    msg = str(err.value)
    assert "the cluster's admission policy refused Deployment/dry-ranker in 'ml-prod' (403" in msg
    assert "ValidatingAdmissionPolicy 'signoff-require-promotion'" in msg
    assert "grant verb" not in msg  # not an RBAC problem: no advice to grant a verb


def test_an_account_without_the_verb_gets_403_naming_it(cluster: ControlPlane, sre_step: Path) -> None:
    manifests = _serving.manifests("fraud-scorer", environment="staging", promoted=False)
    with pytest.raises(PermanentError) as err:
        kube.apply(manifests, namespace=STAGING, client=kube.load_client(str(sre_step)))
    msg = str(err.value)
    assert "kubeconfig user 'signoff-sre-step'" in msg
    assert "may not 'patch' serviceaccounts in namespace 'ml-staging' (403 Forbidden" in msg
    # the server's own words name the service account the token belongs to
    assert 'User "system:serviceaccount:signoff-system:signoff-sre-step" cannot patch resource' in msg


def test_in_a_pod_the_service_account_token_is_sent_and_named_on_403(
    cluster: ControlPlane, sre_step: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The in-cluster credentials path: host and port from the environment, token and CA from the
    pod's service-account folder (here: the SRE step's real token and the cluster's CA)."""
    token = yaml.safe_load(sre_step.read_text())["users"][0]["user"]["token"]
    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    (sa / "token").write_text(token, encoding="utf-8")
    (sa / "ca.crt").write_bytes((cluster.pki / "ca.crt").read_bytes())
    monkeypatch.setattr(kube._client, "_SA_DIR", sa)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(cluster.api_port))
    with pytest.raises(PermanentError) as err:
        kube.apply(_serving.manifests("fraud-scorer"), namespace=PROD)  # no client: the pod's
    assert "service account signoff-system/signoff-sre-step may not 'patch' serviceaccounts" in str(err.value)
    assert "in namespace 'ml-prod'" in str(err.value)


def test_an_object_that_does_not_exist_is_an_input_error(cluster: ControlPlane, deployer: Path) -> None:
    client = kube.load_client(str(deployer))
    with pytest.raises(InputError, match="InferenceService 'no-such-model' not found in namespace 'ml-st"):
        kube.wait_ready("InferenceService", "no-such-model", STAGING, deadline_s=30,
                        launched_at=time.monotonic(), client=client)  # fmt: skip


def test_a_namespace_that_does_not_exist_is_an_input_error(cluster: ControlPlane) -> None:
    objs = _serving.objects(_serving.manifests("fraud-scorer", environment="staging", promoted=False))
    for obj in objs:
        obj["metadata"]["namespace"] = "no-such-namespace"
    admin = kube.load_client(str(cluster.kubeconfig))  # the deployer may not even look there (403)
    with pytest.raises(InputError) as err:
        kube.apply(Manifests(objects=tuple(objs)), namespace="no-such-namespace", client=admin)
    assert "namespace 'no-such-namespace' does not exist (404" in str(err.value)
    assert 'namespaces "no-such-namespace" not found' in str(err.value)  # the server's words


def test_an_invalid_object_is_refused_with_the_servers_reason(cluster: ControlPlane, deployer: Path) -> None:
    objs = _renamed(_serving.objects(_serving.manifests("fraud-scorer", environment="staging",
                                                        promoted=False)), "invalid-port")  # fmt: skip
    deployment = next(o for o in objs if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = 70000
    with pytest.raises(InputError) as err:
        kube.apply(Manifests(objects=(deployment,)), namespace=STAGING,
                   client=kube.load_client(str(deployer)))  # fmt: skip
    msg = str(err.value)
    assert "the API server refused Deployment/invalid-port in 'ml-staging' (422" in msg
    assert "containerPort: Invalid value: 70000: must be between 1 and 65535" in msg
    assert _absent(cluster, "deployment", "invalid-port", STAGING)


def test_a_field_another_manager_owns_is_a_conflict_not_a_takeover(cluster: ControlPlane) -> None:
    ns = "deploy-conflict"
    cluster.kubectl("create", "namespace", ns, check=False)
    objs = _serving.objects(_serving.manifests("fraud-scorer", environment="staging", promoted=False))
    deployment = next(o for o in objs if o["kind"] == "Deployment")
    deployment["metadata"]["namespace"] = ns
    by_hand = copy.deepcopy(deployment)
    by_hand["spec"]["replicas"] = 5  # someone scaled it by hand, with their own field manager
    cluster.kubectl("apply", "--server-side", "--field-manager=kubectl-by-hand", "-f", "-",
                    input=json.dumps(by_hand))  # fmt: skip
    admin = kube.load_client(str(cluster.kubeconfig))
    with pytest.raises(ConflictError) as err:
        kube.apply(Manifests(objects=(deployment,)), namespace=ns, client=admin)
    assert 'conflict with "kubectl-by-hand"' in str(err.value) and ".spec.replicas" in str(err.value)
    stored = _serving.get(cluster, "deployment", "fraud-scorer", namespace=ns)
    assert stored["spec"]["replicas"] == 5  # not taken over


def test_a_server_certificate_the_kubeconfig_ca_did_not_sign_is_refused_for_good(
    cluster: ControlPlane, tmp_path: Path
) -> None:
    other_ca = _issue(_name("someone-else"), _key(), None, is_ca=True)
    crt, _ = other_ca.write(tmp_path, "other-ca")
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["clusters"][0]["cluster"]["certificate-authority"] = str(crt)
    wrong = tmp_path / "kubeconfig"
    wrong.write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(PermanentError, match=r"TLS with the API server at https://127\.0\.0\.1:\d+ failed"):
        kube.apply(_serving.manifests("fraud-scorer", environment="staging", promoted=False),
                   namespace=STAGING, client=kube.load_client(str(wrong)))  # fmt: skip


def test_never_ready_exits_1_at_the_deadline(
    cluster: ControlPlane, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No node fits the pods (a node selector nothing matches): the scheduler leaves them Pending."""
    ns = "deploy-never-ready"
    cluster.kubectl("create", "namespace", ns, check=False)
    objs = _serving.objects(_serving.manifests("fraud-scorer", environment="staging", promoted=False))
    objs = [o for o in objs if o["kind"] in ("ServiceAccount", "Deployment")]
    for obj in objs:
        obj["metadata"]["namespace"] = ns
    objs[1]["spec"]["template"]["spec"]["nodeSelector"] = {"signoff.dev/no-such": "node"}
    path = _serving.write(tmp_path / "manifests.yaml", objs)
    started = time.monotonic()
    rc = _deploy(str(path), "-n", ns, "--kubeconfig", str(cluster.kubeconfig), "--wait", "--deadline", "5s",
                 "--poll", "0.3")  # fmt: skip
    elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert rc == 1
    assert "signoff: refused: Deployment/fraud-scorer was not ready within 5s" in err
    assert elapsed < 15, elapsed
    pods = _serving.pods_of(cluster, ns, "signoff.dev/workload=fraud-scorer")
    assert pods and all(p["status"]["phase"] == "Pending" for p in pods), _serving.diagnostics(cluster, ns)
    unschedulable = [
        c for p in pods for c in p["status"].get("conditions", [])
        if c["type"] == "PodScheduled" and c["reason"] == "Unschedulable"
    ]  # fmt: skip
    assert unschedulable, _serving.diagnostics(cluster, ns)


# ------------------------------------------------------------------ the SRE step's cluster target


def _isvc_in_staging(client: kube.KubeClient, name: str) -> None:
    manifests = _serving.manifests("recsys-ranker", environment="staging", mode=ServingMode.KSERVE,
                                   promoted=False)  # fmt: skip
    objs = [o for o in _renamed(_serving.objects(manifests), name) if o["kind"] == "InferenceService"]
    kube.apply(Manifests(objects=tuple(objs)), namespace=STAGING, client=client)


def test_sre_step_cluster_target_waits_for_ready_then_probes_its_url(
    cluster: ControlPlane, deployer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kserve://ml-staging/NAME``: the SRE step polls until Ready and takes the status address."""
    from components.steps import sre_readiness

    name = "ranker-sre-target"
    _isvc_in_staging(kube.load_client(str(deployer)), name)
    monkeypatch.setenv("KUBECONFIG", str(deployer))
    url = f"http://{name}-predictor.ml-staging.svc.cluster.local"
    writer = _status_writer(cluster, STAGING, name, url)
    with sre_readiness._endpoint(f"kserve://{STAGING}/{name}", "models:/recsys-ranker/7", "http://unused",
                         deadline_s=60) as (got, launched_at, alive, _):  # fmt: skip
        assert got == url
        assert launched_at is not None and launched_at <= time.monotonic()
        assert alive is None
    writer.join(timeout=5)


def test_sre_step_cluster_target_never_ready_yields_no_url_at_the_deadline(
    cluster: ControlPlane, deployer: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing writes this InferenceService's status (no controller): it never gets Ready."""
    from components.steps import sre_readiness

    name = "ranker-never-ready"
    client = kube.load_client(str(deployer))
    _isvc_in_staging(client, name)
    with pytest.raises(TemporaryError, match=r"has no status\.url yet"):
        kube.staging_url("InferenceService", name, STAGING, client=client)
    monkeypatch.setenv("KUBECONFIG", str(deployer))
    started = time.monotonic()
    target = f"kserve://{STAGING}/{name}"
    with sre_readiness._endpoint(target, "models:/m/1", "http://unused", deadline_s=2) as (
        got, _, _, _,
    ):  # fmt: skip
        assert got is None
    assert time.monotonic() - started < 10
