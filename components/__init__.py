"""The steps: each gathers evidence from one outside system, calls its gate, signs and records.

Exactly one module talks to each outside system (MLflow, Kubernetes, KFP, Hera, HTTP probing);
heavy imports happen inside those modules only.
"""
