"""A small demo suite: run it with `pytest --carbon examples/demo`."""

from __future__ import annotations

import hashlib
import time

import pytest


def test_sleeps_for_a_while() -> None:
    time.sleep(0.2)


def test_hashes_a_lot() -> None:
    data = b"pytest-carbon" * 1000
    for _ in range(3000):
        data = hashlib.sha256(data).digest() * 400
    assert len(data) == 32 * 400


@pytest.mark.parametrize("n", [1_000, 10_000, 100_000])
def test_sums_squares(n: int) -> None:
    assert sum(i * i for i in range(n)) == (n - 1) * n * (2 * n - 1) // 6


def test_sorts_a_list() -> None:
    values = [(i * 7919) % 100_003 for i in range(200_000)]
    assert sorted(values)[0] == 0


@pytest.mark.skip(reason="shows how skipped tests are reported")
def test_skipped() -> None:
    raise AssertionError("never runs")
