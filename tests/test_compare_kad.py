"""Kernel audio distance: the unbiased MMD² estimator against a hand computation, and its unbiasedness."""

from __future__ import annotations

import math

import pytest
import torch

from acestep_train.compare.kad import SCALE, KadReference, kad, median_bandwidth, mmd2_unbiased, rbf_kernel


def test_mmd2_matches_the_hand_computation():
    # x = {0, 1, 3}, y = {0, 2} on a line, σ = 1, k(a, b) = exp(-(a - b)² / 2):
    #   Σ_{i≠j} k(x_i, x_j) / (3·2) = 2(e^-0.5 + e^-4.5 + e^-2) / 6
    #   Σ_{i≠j} k(y_i, y_j) / (2·1) = 2 e^-2 / 2
    #   2 Σ k(x_i, y_j) / (3·2)      = 2 (1 + e^-2 + 3 e^-0.5 + e^-4.5) / 6
    # sum: (3 e^-2 - 2 e^-0.5 - 1) / 3
    x, y = torch.tensor([[0.0], [1.0], [3.0]]), torch.tensor([[0.0], [2.0]])
    expected = (3 * math.exp(-2) - 2 * math.exp(-0.5) - 1) / 3
    assert mmd2_unbiased(x, y, 1.0) == pytest.approx(expected, abs=1e-12)
    # KAD: the bandwidth is the median distance within the reference (|0 - 2| = 2), scaled by 100.
    assert median_bandwidth(y) == 2.0
    k = lambda d: math.exp(-d * d / 8)  # noqa: E731  σ = 2
    by_hand = ((k(1) + k(3) + k(2)) / 3 + k(2) - (k(0) + k(2) + k(1) + k(1) + k(3) + k(1)) / 3)
    assert kad(x, y) == pytest.approx(SCALE * by_hand, abs=1e-10)


def test_same_distribution_averages_to_zero_with_three_samples():
    """The unbiased estimate's mean over many small draws from one distribution is ~0; the biased one's is not."""
    generator = torch.Generator().manual_seed(0)
    unbiased, biased = [], []
    for _ in range(400):
        x, y = torch.randn(3, 4, generator=generator), torch.randn(3, 4, generator=generator)
        unbiased.append(mmd2_unbiased(x, y, 2.0))
        kernel = lambda a, b: torch.exp(-torch.cdist(a, b).pow(2) / 8)  # noqa: E731
        biased.append(float(kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()))
    values = torch.tensor(unbiased, dtype=torch.float64)
    assert abs(values.mean()) < 3 * values.std() / math.sqrt(len(values))
    assert sum(biased) / len(biased) > 0.1


def test_identical_sets_score_below_different_ones_and_small_sets_are_refused():
    generator = torch.Generator().manual_seed(1)
    reference = torch.randn(6, 8, generator=generator)
    assert kad(reference[:3], reference[3:]) < kad(reference[:3] + 3.0, reference[3:])
    with pytest.raises(ValueError, match="at least 2 samples on each side, got 1 and 3"):
        mmd2_unbiased(reference[:1], reference[3:], 1.0)
    with pytest.raises(ValueError, match="all identical"):
        median_bandwidth(torch.zeros(3, 8))


def test_a_reference_built_once_gives_every_set_the_same_kad_bit_for_bit():
    """The bench builds ``KadReference`` once and scores each checkpoint (and the base) against it: each number
    equals the one computed from scratch (all three kernel terms recomputed), exactly, not approximately."""
    generator = torch.Generator().manual_seed(2)
    reference = torch.randn(7, 16, generator=generator)
    built = KadReference.of(reference)
    assert built.bandwidth == median_bandwidth(reference)
    for m in (2, 3, 5):
        x = torch.randn(m, 16, generator=generator) + 0.3 * m
        sigma = median_bandwidth(reference)
        kxx, kyy, kxy = rbf_kernel(x, x, sigma), rbf_kernel(reference, reference, sigma), rbf_kernel(x, reference, sigma)
        n = len(reference)
        scratch = SCALE * float((kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
                                + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1)) - 2.0 * kxy.mean())
        assert built.kad(x) == scratch == kad(x, reference)
    with pytest.raises(ValueError, match="at least 2 reference samples, got 1"):
        KadReference.of(reference[:1])
    with pytest.raises(ValueError, match="at least 2 samples on each side, got 1 and 7"):
        built.kad(reference[:1])
