"""The steps: each gathers evidence from one outside system, calls its gate, signs and records.

Exactly one module talks to each outside system (MLflow: ``mlflow_registry``; Kubernetes: the
``kube`` package; KFP; Hera; HTTP: ``http_client``, which the ``probe`` package sends through);
heavy imports happen inside those modules only.
"""
