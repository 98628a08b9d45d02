"""The standard gated-promotion pipeline for KFP and Argo, the local runner, and the CLI.

Importing this package is cheap: kfp and hera are imported only by the modules that build the
pipelines.
"""
