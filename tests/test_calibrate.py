"""The calibration workload and how a run's samples become its figure."""

from __future__ import annotations

import pytest

from pytest_carbon.calibrate import METHOD, WORKLOAD_ROUNDS, measure, summarise, trimmed_mean


def test_trimmed_mean_leaves_out_a_tenth_at_each_end() -> None:
    values = [1.0] * 8 + [100.0, 0.01]  # a sample the scheduler cut into, one absurdly quick
    assert trimmed_mean(values) == pytest.approx(1.0)
    assert trimmed_mean([2.0, 4.0]) == pytest.approx(3.0)  # too few to trim: the plain mean
    assert trimmed_mean([]) == 0.0


def test_the_run_figure_follows_the_share_of_a_slow_machine() -> None:
    # a neighbour slowed the machine by 40 % for 3 of 10 samples: the tests' CPU time grew by about
    # 12 %; the median (or the quickest) says 0 %, the mean says about the share
    samples = [0.002] * 7 + [0.0028] * 3
    run = summarise(samples)
    assert run["cpu_s"] == pytest.approx(0.002 * (1 + 0.4 * 2 / 8))  # the trimmed mean of those ten
    assert run["cpu_s"] > 0.002 * 1.05
    assert run["samples"] == 10 and run["method"] == METHOD


def test_no_samples_give_no_figure() -> None:
    assert summarise([]) == {"cpu_s": 0.0, "samples": 0, "spread": 0.0, "method": METHOD}
    assert summarise([0.0, -1.0])["samples"] == 0


def test_a_sample_is_given_for_the_whole_workload() -> None:
    one = measure(1)
    whole = measure(WORKLOAD_ROUNDS)
    # one pass scaled up and the whole workload measure the same thing (within this machine's noise)
    assert 0.2 < one / whole < 5.0
    assert whole > 0
