"""Helpers shared by the tests: the base world, factories, clients, scopes and per-app helpers.

Fixtures are declared in `tests/conftest.py`; everything they build comes from here."""
