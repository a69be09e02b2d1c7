"""Benchmark registry. Each module of `benchmarks/` has functions, decorated with `@benchmark`,
that yield `(name, value, unit)` figures. `python -m benchmarks` prints one per line."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator

Figure = tuple[str, float, str]
BenchFunction = Callable[[], Iterator[Figure]]

REGISTRY: dict[str, BenchFunction] = {}


def benchmark(name: str) -> Callable[[BenchFunction], BenchFunction]:
    def register(function: BenchFunction) -> BenchFunction:
        REGISTRY[name] = function
        return function

    return register


def timed_ms(call: Callable[[], object], *, repeat: int, warmup: int = 3) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(prefix: str, samples: list[float]) -> Iterator[Figure]:
    yield f"{prefix}.median", statistics.median(samples), "ms"
    yield f"{prefix}.p95", percentile(samples, 0.95), "ms"
