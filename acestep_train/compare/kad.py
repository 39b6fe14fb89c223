"""Kernel audio distance (KAD) between two sets of embeddings, unbiased with few samples.

Chung, Eom, Yoon, Lee, "KAD: No More FAD! An Effective and Efficient Evaluation Metric for Audio
Generation" (arXiv:2502.15602, 2025) defines KAD as the squared maximum mean discrepancy between
the embedding distributions of the evaluated set X = {x_1..x_m} and the reference set
Y = {y_1..y_n}, estimated without bias (Gretton et al., JMLR 2012, eq. 3):

    MMD²_u = 1/(m(m-1)) Σ_{i≠j} k(x_i, x_j) + 1/(n(n-1)) Σ_{i≠j} k(y_i, y_j) - 2/(mn) Σ_{i,j} k(x_i, y_j)

with the Gaussian RBF kernel k(x, y) = exp(-||x - y||² / (2σ²)) and the bandwidth σ set by the
median heuristic, the median pairwise distance within the reference set. Unlike FAD (a Gaussian
fit, biased for small sets), its expectation is the true MMD² for any m, n >= 2, which is why a
bench with a handful of clips per checkpoint can use it; it can be slightly negative when the sets
come from one distribution. The paper's toolkit (kadtk) reports it scaled by ``SCALE`` = 100, as
we do, so numbers are comparable in size to published ones (not in value: embeddings differ).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SCALE = 100.0


def rbf_kernel(a: torch.Tensor, b: torch.Tensor, bandwidth: float) -> torch.Tensor:
    """[len(a), len(b)] matrix exp(-||a_i - b_j||² / (2 σ²))."""
    squared = torch.cdist(a.double(), b.double()).pow(2)
    return torch.exp(-squared / (2.0 * bandwidth ** 2))


def median_bandwidth(reference: torch.Tensor) -> float:
    """The median of the pairwise distances within ``reference`` [n, D] (n >= 2)."""
    distances = torch.pdist(reference.double())
    median = float(distances.median())
    if median <= 0.0:
        raise ValueError("the reference embeddings are all identical: no bandwidth (median distance 0)")
    return median


def _within(k: torch.Tensor) -> torch.Tensor:
    """The mean of a square kernel matrix off its diagonal: 1/(m(m-1)) Σ_{i≠j} k_ij."""
    m = len(k)
    return (k.sum() - k.diagonal().sum()) / (m * (m - 1))


@dataclass(frozen=True)
class KadReference:
    """The reference set with what KAD takes from it alone: the bandwidth and the y x y term of MMD²_u.

    A bench scores every checkpoint (and the base) against one reference: building this once spares
    the n x n kernel per checkpoint, and gives the same numbers bit for bit.
    """

    windows: torch.Tensor  # [n, D]
    bandwidth: float
    within: torch.Tensor  # 1/(n(n-1)) Σ_{i≠j} k(y_i, y_j), a 0-d float64 tensor

    @classmethod
    def of(cls, windows: torch.Tensor, bandwidth: float | None = None) -> "KadReference":
        """``windows`` [n, D], n >= 2; ``bandwidth`` None: the median heuristic."""
        if len(windows) < 2:
            raise ValueError(f"the unbiased MMD² needs at least 2 reference samples, got {len(windows)}")
        bandwidth = bandwidth or median_bandwidth(windows)
        return cls(windows, bandwidth, _within(rbf_kernel(windows, windows, bandwidth)))

    def mmd2(self, x: torch.Tensor) -> float:
        """The unbiased MMD² of ``x`` [m, D] (m >= 2) to the reference (module docstring)."""
        if len(x) < 2:
            raise ValueError(f"the unbiased MMD² needs at least 2 samples on each side, got {len(x)} "
                             f"and {len(self.windows)}")
        kxx, kxy = rbf_kernel(x, x, self.bandwidth), rbf_kernel(x, self.windows, self.bandwidth)
        return float(_within(kxx) + self.within - 2.0 * kxy.mean())

    def kad(self, x: torch.Tensor) -> float:
        """KAD of ``x`` [m, D] to the reference: SCALE x MMD²_u."""
        return SCALE * self.mmd2(x)


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor, bandwidth: float) -> float:
    """The unbiased MMD² estimate of the module docstring, RBF kernel of ``bandwidth``; needs m, n >= 2."""
    if len(x) < 2 or len(y) < 2:
        raise ValueError(f"the unbiased MMD² needs at least 2 samples on each side, got {len(x)} and {len(y)}")
    return KadReference.of(y, bandwidth).mmd2(x)


def kad(x: torch.Tensor, reference: torch.Tensor, bandwidth: float | None = None) -> float:
    """KAD of ``x`` [m, D] to ``reference`` [n, D]: SCALE x MMD²_u, bandwidth by the median heuristic.
    Scoring many sets against one reference: ``KadReference.of(reference).kad(x)``, the same numbers."""
    return KadReference.of(reference, bandwidth).kad(x)
