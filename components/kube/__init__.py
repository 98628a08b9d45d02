"""The thin cluster path: apply promoted manifests, wait until they serve, find their URL.

The ONLY package that talks to the Kubernetes API (and the only importer of ``kubernetes``, always
inside functions, so ``signoff --help`` never loads it). It is deliberately small: a few functions,
raw REST paths for the few kinds signoff renders, no discovery, no watches. Two modules:
``_client`` (credentials, one request, what its failures mean) and ``_requests`` (the requests
below); what an answer means (ready? this version? promoted?) is decided in :mod:`gates.serving`.

What it does, and the API requests it sends (the deployer's Role in ``infra/base/rbac.yaml`` grants
exactly ``get, create, update, patch`` on these kinds, and nothing else):

* :func:`load_client`: credentials. An explicit kubeconfig file wins; else, inside a pod, the pod's
  service-account token (``/var/run/secrets/kubernetes.io/serviceaccount``); else ``$KUBECONFIG`` or
  ``~/.kube/config``. Neither -> :class:`~contracts.errors.InputError` saying what was looked for.
* :func:`apply`: server-side apply of every object, in the manifests' order::

      PATCH /apis/<group>/<version>/namespaces/<ns>/<plural>/<name>
            ?fieldManager=signoff&force=false[&dryRun=All]
      Content-Type: application/apply-patch+yaml

  ``force=false``: when another field manager (a person's ``kubectl edit``, a controller) owns a
  field we set, the server answers 409 and we stop with a :class:`~contracts.errors.ConflictError`
  naming it, instead of silently taking the field over. Before any request to a production
  namespace (``ml-prod``, or any the caller names), every serving object (InferenceService,
  Deployment; the object and its pod template) must carry the ``signoff.dev/promotion-record``
  annotation (``sha256:<64 hex>``, what the promotion step writes into
  ``deployable-manifests.yaml`` with :func:`gates.render.with_promotion`) or nothing is sent:
  defence in depth beside the admission policy ``infra/policies/require-promotion``, which is what
  actually holds the line.
* :func:`wait_ready`: polls ``GET`` of the InferenceService or Deployment (the deployer has no
  ``watch``/``list``; a GET every ``poll_s`` is as cheap and keeps each request bounded) until
  ready (:func:`gates.serving.is_ready`: an InferenceService's current Ready condition, a
  Deployment's updated and ready replicas), and returns the seconds from launch: the cold-start
  figure the SRE gate compares with the contract's ``max_cold_start``.

  Never hangs: each request has a timeout cut to the time left, and at the deadline it returns
  ``None``. Transient failures (5xx, 429, connection refused, timeouts) are tolerated until the
  deadline, since an API server restart during a rollout is not the model's fault; 401/403 and 404
  stop at once.
* :func:`staging_url`: the InferenceService's ``status.url`` (else ``status.address.url``); for a
  Deployment the in-cluster URL of its Service (same name, port named ``http``, from a GET of the
  Service), e.g. ``http://ranker.ml-staging.svc.cluster.local`` (the rendered Service listens on 80).

Errors (the tree in :mod:`contracts.errors`): 401/403 -> ``PermanentError`` naming the identity in
use (the service account, read from its token, or the kubeconfig user) and the missing
verb/resource/namespace, or, when the 403 is an admission policy's refusal, the policy's message;
404 -> ``InputError`` (a missing namespace is named as such); 400/422 -> ``InputError`` with the
server's reason; 409 -> ``ConflictError``; 5xx, 429 and connection failures -> ``TemporaryError``
(exit 3, which the KFP/Argo retry policies retry).

Tests: ``tests/cluster/test_deploy.py`` and ``tests/cluster/test_sre_staging.py`` run these
functions against a real kube-apiserver with kube-controller-manager, kube-scheduler and kwok on
loopback (the Go build in ``tools/cluster``), as the deployer's and the SRE step's service accounts
with tokens the server issued. ``tests/integration/test_kube_api.py`` keeps a loopback stand-in
only for the faults a real server cannot be made to produce on demand: an answer that stalls, a
closed port, a 500. On a real cluster, ``signoff deploy --dry-run`` is the safe first try: the
server validates and admits (or refuses) every object without persisting anything.
"""

from __future__ import annotations

from components.kube._client import APPLY_CONTENT_TYPE, KINDS, KubeClient, load_client
from components.kube._requests import (
    PRODUCTION_NAMESPACES,
    apply,
    create_workflow,
    get_serving,
    pods_cold_start,
    staging_url,
    wait_ready,
)

__all__ = [
    "APPLY_CONTENT_TYPE",
    "KINDS",
    "PRODUCTION_NAMESPACES",
    "KubeClient",
    "apply",
    "create_workflow",
    "get_serving",
    "load_client",
    "pods_cold_start",
    "staging_url",
    "wait_ready",
]
