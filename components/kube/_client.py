"""How signoff talks to the Kubernetes API: the credentials, one request, and what its failures mean.

:func:`load_client`: an explicit kubeconfig file wins; else, inside a pod, the pod's service-account
token; else ``$KUBECONFIG`` or ``~/.kube/config``. :func:`call` sends one REST request with the
``kubernetes`` library's ``ApiClient`` (imported inside the functions, so ``signoff --help`` never
loads it), its timeout split between connect and read, and maps every failure onto the tree of
:mod:`contracts.errors` (see :mod:`components.kube`). :func:`object_path` is the REST path of one
object of the kinds signoff deploys (no discovery: an unknown kind is refused with the list).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from contracts.errors import (
    ConflictError,
    InputError,
    PermanentError,
    SignoffError,
    TemporaryError,
)

__all__ = [
    "APPLY_CONTENT_TYPE",
    "CONNECT_TIMEOUT_S",
    "KINDS",
    "NAMESPACE",
    "OTHER_KINDS",
    "READ_TIMEOUT_S",
    "KubeClient",
    "call",
    "load_client",
    "object_path",
]

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

# kind -> (apiVersion, plural): the kinds `signoff render` writes. No discovery: an unknown kind is
# refused with the list, rather than guessed.
KINDS: dict[str, tuple[str, str]] = {
    "ServiceAccount": ("v1", "serviceaccounts"),
    "Service": ("v1", "services"),
    "Deployment": ("apps/v1", "deployments"),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ("policy/v1", "poddisruptionbudgets"),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies"),
    "InferenceService": ("serving.kserve.io/v1beta1", "inferenceservices"),
    "ServiceMonitor": ("monitoring.coreos.com/v1", "servicemonitors"),
    "PodMonitor": ("monitoring.coreos.com/v1", "podmonitors"),
    "PrometheusRule": ("monitoring.coreos.com/v1", "prometheusrules"),
}

_SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_OBJECT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class KubeClient:
    """An API client and who it acts as (for error messages)."""

    api: Any
    """``kubernetes.client.ApiClient`` with its own ``Configuration`` (the global default is untouched)."""
    identity: str
    """Who the requests act as, e.g. ``service account signoff-system/signoff-deployer``."""
    host: str
    """API server URL."""


# ---------------------------------------------------------------------------------------- credentials


def _token_identity(token_file: Path) -> str:
    """``service account NS/NAME`` from the token's ``sub`` claim (read, not verified: for messages)."""
    try:
        payload = token_file.read_text(encoding="utf-8").strip().split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        sub = str(claims["sub"])
    except (OSError, IndexError, KeyError, ValueError, binascii.Error):
        return "the pod's service account"
    parts = sub.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return f"service account {parts[2]}/{parts[3]}"
    return sub


def _kubeconfig_files() -> list[Path]:
    env = os.environ.get("KUBECONFIG")
    paths = env.split(os.pathsep) if env else ["~/.kube/config"]
    return [Path(p).expanduser() for p in paths if p]


def load_client(kubeconfig: str | None = None, context: str | None = None) -> KubeClient:
    """A client for the cluster: in-cluster service account inside a pod, else a kubeconfig.

    Args:
        kubeconfig: kubeconfig file to use; wins over everything else when given.
        context: kubeconfig context (default: the file's current context).

    Returns:
        The client and the identity it acts as.

    Raises:
        InputError: no credentials found (the message says where it looked), or the kubeconfig
            is unreadable or lacks the context.
    """
    from kubernetes import client, config

    cfg = client.Configuration()
    in_pod = bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and (_SA_DIR / "token").is_file()
    if kubeconfig is None and context is None and in_pod:
        try:
            config.incluster_config.InClusterConfigLoader(
                token_filename=str(_SA_DIR / "token"), cert_filename=str(_SA_DIR / "ca.crt")
            ).load_and_set(cfg)
        except config.ConfigException as exc:
            raise InputError(f"in-cluster credentials at {_SA_DIR} are unusable: {exc}") from None
        identity = _token_identity(_SA_DIR / "token")
    else:
        files = [Path(kubeconfig)] if kubeconfig else _kubeconfig_files()
        existing = [f for f in files if f.is_file()]
        if not existing:
            where = ", ".join(str(f) for f in files)
            raise InputError(
                f"no Kubernetes credentials: not running in a pod (no KUBERNETES_SERVICE_HOST and "
                f"service-account token at {_SA_DIR / 'token'}) and no kubeconfig at {where}; pass "
                "--kubeconfig FILE or set KUBECONFIG"
            )
        path = os.pathsep.join(str(f) for f in existing)
        try:
            config.load_kube_config(
                config_file=path, context=context, client_configuration=cfg, persist_config=False
            )
            contexts, current = config.list_kube_config_contexts(config_file=path)
        except (config.ConfigException, yaml.YAMLError, OSError, ValueError, TypeError, KeyError) as exc:
            raise InputError(f"kubeconfig {path}: {exc}") from None
        active = next((c for c in contexts if c.get("name") == context), current) if context else current
        user = ((active or {}).get("context") or {}).get("user", "?")
        identity = f"kubeconfig user {user!r} (context {(active or {}).get('name', '?')!r})"
    cfg.retries = 0  # our own loops retry, within their deadlines
    return KubeClient(api=client.ApiClient(configuration=cfg), identity=identity, host=str(cfg.host))


# ---------------------------------------------------------------------------------------- requests


def object_path(kind: str, namespace: str, name: str, api_version: str | None = None) -> str:
    if kind not in KINDS:
        raise InputError(f"kind {kind!r} is not one signoff deploys; known kinds: {', '.join(sorted(KINDS))}")
    version, plural = KINDS[kind]
    if api_version is not None and api_version != version:
        raise InputError(f"{kind}/{name}: apiVersion {api_version!r} is not {version!r}")
    if not isinstance(namespace, str) or not NAMESPACE.fullmatch(namespace):
        raise InputError(f"namespace {namespace!r} is not a DNS-1123 label")
    if not isinstance(name, str) or not _OBJECT_NAME.fullmatch(name):
        raise InputError(f"{kind} name {name!r} is not a DNS-1123 name")
    base = "/api/v1" if version == "v1" else f"/apis/{version}"
    return f"{base}/namespaces/{namespace}/{plural}/{name}"


OTHER_KINDS: dict[str, tuple[str, str]] = {"Workflow": ("argoproj.io/v1alpha1", "workflows")}
"""Kinds signoff creates but never deploys (:func:`create_workflow`), for error messages only."""


def _resource(kind: str) -> str:
    version, plural = KINDS.get(kind) or OTHER_KINDS[kind]
    group = version.rpartition("/")[0]
    return f"{plural}.{group}" if group else plural


def _server_message(body: Any) -> str:
    try:
        return str(json.loads(body).get("message", "")).strip()
    except (TypeError, ValueError, AttributeError):
        return ""


def _api_error(
    status: int, body: Any, *, client: KubeClient, verb: str, kind: str, name: str, namespace: str
) -> SignoffError:
    said = _server_message(body)
    said = f": {said}" if said else ""
    resource = _resource(kind)
    if status == 401:
        return PermanentError(
            f"the API server at {client.host} did not accept the credentials of {client.identity} "
            f"(401 Unauthorized{said}); the token or certificate is expired or wrong"
        )
    if status == 403 and "ValidatingAdmissionPolicy" in said:
        return PermanentError(
            f"the cluster's admission policy refused {kind}/{name} in {namespace!r} (403 Forbidden{said}); "
            "RBAC allowed the request, the object itself is not admitted (infra/policies)"
        )
    if status == 403:
        return PermanentError(
            f"{client.identity} may not {verb!r} {resource} in namespace {namespace!r} "
            f"(403 Forbidden{said}); grant verb {verb!r} on {resource} in {namespace!r} to it "
            "(infra/base/rbac.yaml, Role signoff-deployer)"
        )
    if status == 404 and f'namespaces "{namespace}" not found' in said:
        return InputError(
            f"namespace {namespace!r} does not exist (404{said}); create it first (infra/base "
            "creates ml-staging and ml-prod) or pass the namespace the manifests were rendered for"
        )
    if status == 404:
        return InputError(
            f"{kind} {name!r} not found in namespace {namespace!r} (404{said}); check the name and "
            f"namespace, and that the {resource} API is installed in the cluster"
        )
    if status == 409:
        return ConflictError(
            f"applying {kind}/{name} in {namespace!r} conflicts with another field manager "
            f"(409{said}); someone changed these fields by hand: reconcile, then deploy again"
        )
    if status in (400, 422):
        return InputError(f"the API server refused {kind}/{name} in {namespace!r} ({status}{said})")
    if status == 429 or status >= 500:
        return TemporaryError(f"the API server answered {status} to {verb} {kind}/{name}{said}")
    return PermanentError(f"the API server answered {status} to {verb} {kind}/{name}{said}")


def call(
    client: KubeClient,
    method: str,
    path: str,
    *,
    verb: str,
    kind: str,
    name: str,
    namespace: str,
    query: list[tuple[str, str]] | None = None,
    body: dict[str, Any] | None = None,
    content_type: str = "application/json",
    timeout_s: float = CONNECT_TIMEOUT_S + READ_TIMEOUT_S,
) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException
    from urllib3.exceptions import HTTPError, MaxRetryError, SSLError

    # urllib3 takes (connect, read); split the budget so the two together stay within it
    timeout = max(0.1, timeout_s)
    connect = min(CONNECT_TIMEOUT_S, timeout / 2)
    try:
        data = client.api.call_api(
            path,
            method,
            query_params=query or [],
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            response_type="object",
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _preload_content=True,
            _request_timeout=(connect, timeout - connect),
        )
    except ApiException as exc:
        raise _api_error(
            int(exc.status or 0),
            exc.body,
            client=client,
            verb=verb,
            kind=kind,
            name=name,
            namespace=namespace,
        ) from None
    except (HTTPError, OSError) as exc:
        cause = exc.reason if isinstance(exc, MaxRetryError) and exc.reason is not None else exc
        if isinstance(cause, SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(cause):
            raise PermanentError(
                f"TLS with the API server at {client.host} failed ({verb} {kind}/{name}): {cause}; "
                "check the kubeconfig's certificate-authority data and server address"
            ) from None
        raise TemporaryError(
            f"cannot reach the API server at {client.host} ({verb} {kind}/{name}): {cause}"
        ) from None
    if not isinstance(data, dict):
        raise TemporaryError(f"the API server answered {verb} {kind}/{name} with something not a JSON object")
    return data
