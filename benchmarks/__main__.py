"""`python -m benchmarks [name ...]`: run the benchmarks (default: all, in registry order) and
print one figure per line: `<benchmark>.<figure> <value> <unit>`."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

# Registration order is the order `python -m benchmarks` runs them in (the apps' order).
MODULES = (
    "benchmarks.portal",
    "benchmarks.underwriting",
    "benchmarks.billing",
    "benchmarks.studies",
    "benchmarks.monitoring",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Runs the benchmarks and prints one figure per line: name value unit.",
    )
    parser.add_argument("only", nargs="*", help="Benchmark names to run (default: all).")
    only: list[str] = parser.parse_args(argv).only

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unlockplus.settings")
    import django

    django.setup()
    from django.test.utils import override_settings

    from benchmarks.registry import REGISTRY

    for module in MODULES:
        import_module(module)
    unknown = [name for name in only if name not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(REGISTRY)})")
    names = only or list(REGISTRY)
    with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False, DEBUG=False):
        for name in names:
            for figure, value, unit in REGISTRY[name]():
                print(f"{name}.{figure} {value:.2f} {unit}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
