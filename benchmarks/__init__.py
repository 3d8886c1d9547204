"""The measuring scripts: each times or sizes one stage against its target (README, Performance).

Run from the repo root, e.g. `.venv/bin/python benchmarks/benchmark.py`; not part of the
product."""
