"""Small recsys and task helpers: the stand-in for the private package `pipe-algorithms-lib`."""
from __future__ import annotations

import heapq
import itertools
from typing import Hashable, Iterable, Iterator, List, Mapping, Tuple, TypeVar

__all__ = ["__version__", "batched", "top_k"]

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


def _version() -> str:
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "unknown"
    try:
        return version("pipe-algorithms-lib")
    except PackageNotFoundError:
        return "unknown"


__version__ = _version()


def top_k(scores: Mapping[K, float], k: int) -> List[Tuple[K, float]]:
    """The `k` highest-scoring (item, score) pairs, best first; ties keep the mapping's order.

    >>> top_k({"a": 0.1, "b": 0.9, "c": 0.5}, 2)
    [('b', 0.9), ('c', 0.5)]
    """
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return heapq.nlargest(k, scores.items(), key=lambda item: item[1])


def batched(iterable: Iterable[T], n: int) -> Iterator[Tuple[T, ...]]:
    """Split `iterable` into tuples of `n` items; the last one may be shorter.

    >>> list(batched("abcde", 2))
    [('a', 'b'), ('c', 'd'), ('e',)]
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    iterator = iter(iterable)
    while True:
        batch = tuple(itertools.islice(iterator, n))
        if not batch:
            return
        yield batch
