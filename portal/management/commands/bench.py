from importlib import import_module
from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand, CommandParser
from django.test.utils import override_settings

from unlockplus.bench import REGISTRY


class Command(BaseCommand):
    help = "Runs the benchmarks and prints one figure per line: name value unit."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("only", nargs="*", help="Benchmark names to run (default: all).")

    def handle(self, *args: Any, only: list[str], **options: Any) -> None:
        for config in apps.get_app_configs():
            try:
                import_module(f"{config.name}.bench")
            except ModuleNotFoundError as error:
                if error.name != f"{config.name}.bench":
                    raise
        names = only or list(REGISTRY)
        with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False, DEBUG=False):
            for name in names:
                for figure, value, unit in REGISTRY[name]():
                    self.stdout.write(f"{name}.{figure} {value:.2f} {unit}")
