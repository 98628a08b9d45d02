"""Benchmarks: each prints figures next to a baseline measured side by side in the same run."""
