"""Benchmarks of the platform, kept out of the shipped apps: `python -m benchmarks [name ...]`
(or `make bench ARGS="name ..."`) prints one `name value unit` figure per line.

Nothing under portal/, underwriting/, billing/, claims/ or unlockplus/ imports from here.
"""
