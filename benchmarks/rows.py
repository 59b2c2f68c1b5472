"""The benchmark rows of issue 14, with their targets, named once."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One benchmark row.

    ``vs_metafor`` and ``vs_pimeta`` are the minimum speed-up of metaprop (other tool's
    time divided by metaprop's time); ``None`` means no target against that tool, and a
    target of 1 means "faster than".
    """

    id: str
    label: str
    vs_metafor: float | None = None
    vs_pimeta: float | None = None


ROWS = (
    Row("single_reml", "one REML fit, k = 16", vs_metafor=10, vs_pimeta=1),
    Row("loo_reml", "leave-one-out, REML, k = 16", vs_metafor=30, vs_pimeta=2),
    Row("many_reml", "10,000 REML fits (random datasets, k = 16)", vs_metafor=100),
    Row("gosh_fe", "GOSH k = 16, FE (65,535 fits)", vs_metafor=50),
    Row("gosh_dl", "GOSH k = 16, DL (65,535 fits)", vs_metafor=50),
    Row("gosh_reml_3000", "GOSH k = 16, REML, 3,000 random subsets", vs_metafor=100),
    Row("gosh_reml_all", "GOSH k = 16, REML, all 65,535 subsets", vs_pimeta=10),
    Row("glmm", "GLMM fit, k = 16", vs_metafor=5, vs_pimeta=1),
    # issue 21: the Bayesian binomial-normal model against the frequentist one in metafor
    # (rma.glmm on the same data: there is no Bayesian model in metafor); no target
    Row("bayes", "Bayesian binomial-normal fit (quadrature), k = 16, vs rma.glmm"),
)

# GOSH with 10^5 random subsets at several k (metaprop only): time per fit should not grow
# with k. "Flat" is read as: the largest time per fit over these k is at most FLAT_LIMIT
# times the smallest.
SCALING_KS = (10, 20, 40)
SCALING_SUBSETS = 100_000
FLAT_LIMIT = 1.5

# GOSH at k = 20 with 10^6 subsets must stay under this peak resident memory.
MEMORY_K = 20
MEMORY_SUBSETS = 1_000_000
MEMORY_LIMIT_BYTES = 1024**3

N_DATASETS = 10_000
K = 16
