"""`python -m benchmarks [name ...]`: run the benchmarks (default: all, in registry order) and
print one figure per line: `<benchmark>.<figure> <value> <unit>`.

They run as production does, as an ordinary database role under row-level security: the first
line, `bench.role_rls 1.00 bool`, says so (the role is named on stderr), and a superuser or
BYPASSRLS role is refused unless `--allow-superuser` (see `benchmarks/database.py`)."""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

# The order `python -m benchmarks` runs them in (each module registers the benchmark named after
# it): the apps' order, with billing last, since with BENCH_BILLING_BOOK its grown book takes most
# of an hour. (Registration order would not do: `pdfs` imports `billing`, which registers first.)
MODULES = (
    "benchmarks.portal",
    "benchmarks.ledger",
    "benchmarks.underwriting",
    "benchmarks.pdfs",
    "benchmarks.studies",
    "benchmarks.monitoring",
    "benchmarks.billing",
    "benchmarks.faults",
)
# Run only when named (`python -m benchmarks faults`): minutes of kills and renders, not figures
# to compare run after run (benchmarks/faults.py says why).
ON_REQUEST = frozenset({"faults"})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Runs the benchmarks and prints one figure per line: name value unit.",
    )
    parser.add_argument("only", nargs="*", help="Benchmark names to run (default: all).")
    parser.add_argument(
        "--allow-superuser",
        action="store_true",
        help="Run even as a role exempt from row-level security (figures then say 0).",
    )
    arguments = parser.parse_args(argv)
    only: list[str] = arguments.only

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "unlockplus.settings")
    import django

    django.setup()
    from django.test.utils import override_settings

    from benchmarks.database import current_role, superuser_allowed
    from benchmarks.registry import REGISTRY

    for module in MODULES:
        import_module(module)
    unknown = [name for name in only if name not in REGISTRY]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)} (known: {', '.join(REGISTRY)})")
    order = [module.rsplit(".", 1)[1] for module in MODULES]
    default = sorted(REGISTRY, key=lambda name: order.index(name) if name in order else len(order))
    names = only or [name for name in default if name not in ON_REQUEST]
    role = current_role()
    print(f"[bench] connected as {role.describe()}", file=sys.stderr, flush=True)
    if not role.under_rls and not superuser_allowed(arguments.allow_superuser):
        print(
            "[bench] refused: production runs under row-level security; connect as an ordinary "
            "role (NOSUPERUSER NOBYPASSRLS) or pass --allow-superuser",
            file=sys.stderr,
        )
        return 2
    print(f"bench.role_rls {float(role.under_rls):.2f} bool", flush=True)
    print(f"bench.forced_rls_tables {float(role.forced_tables):.2f} tables", flush=True)
    with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False, DEBUG=False):
        for name in names:
            for figure, value, unit in REGISTRY[name]():
                print(f"{name}.{figure} {value:.2f} {unit}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
