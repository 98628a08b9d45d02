"""The signoff command line (see ``pipelines._cli.main``)."""
