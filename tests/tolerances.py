"""Tolerances for comparing metaprop with R metafor, each named once with its reason.

Use :func:`for_field` to get ``(rtol, atol)`` for ``numpy.allclose``-style checks
(``|got - want| <= atol + rtol * |want|``).
"""

from __future__ import annotations

CLOSED_FORM_RTOL = 1e-10
"""Closed-form results (FE, DL, HE, SJ, HS; escalc; back-transformations): the same
arithmetic as metafor, so only floating-point rounding separates the two."""

CLOSED_FORM_ATOL = 1e-12
"""Absolute slack for closed-form values that are 0 in exact arithmetic (a pooled logit
near 0, a difference of equal numbers): relative error is meaningless there."""

ITERATIVE_RTOL = 1e-6
"""Iterative estimators (REML, ML, PM, EB), Q-profile and trim-and-fill: both sides
converge to the optimum (metafor with threshold = tol = 1e-12, metaprop to 1e-10 on
tau^2), but through different iterations, so they agree to about 1e-6 relative."""

ITERATIVE_ATOL = 1e-8
"""Absolute slack for iterative results on the tau^2 = 0 boundary: metafor's step halving
approaches 0 and stops near tau^2 ~ 1e-12 instead of reaching it."""

I2_ATOL = 1e-5
"""I^2 in percent from an iterative fit: I^2 = 100 tau^2 / (vt + tau2) magnifies the
boundary tau^2 of metafor (~1e-10) by 100 / vt, so it is compared to 1e-5 percent."""

GLMM_RTOL = 1e-3
"""GLMM (rma.glmm via lme4): lme4's optimiser stops early, near 1e-3 relative."""

ITERATIVE_METHODS = frozenset({"REML", "ML", "PM", "EB", "PMM", "SJIT", "DLIT"})
"""tau^2 estimators whose value comes out of an iteration or a root search (SJIT and DLIT:
metafor iterates until a step is below its threshold, metaprop finds their limit, the PM
root; on the zero boundary metafor's SJIT decays geometrically and stops near 1e-11)."""

_ALWAYS_ITERATIVE = frozenset(
    {
        "qprofile",
        "tau2_ci",
        "tau2_ci_qprofile",
        "I2_ci",
        "I2_qprofile",
        "I2_ci_qprofile",
        "trimfill",
        "filled_yi",
    }
)
_I2_FIELDS = frozenset({"I2", "i2", "I2_ci", "I2_qprofile", "I2_ci_qprofile"})
_GLMM_FIELDS = frozenset({"glmm"})


def for_field(field: str, *, iterative: bool) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing ``field`` of a fit with metafor.

    Parameters
    ----------
    field : str
        Name of the compared quantity (``"tau2"``, ``"I2"``, ``"qprofile"``, ...).
    iterative : bool
        The fit used an iterative tau^2 estimator (see :data:`ITERATIVE_METHODS`).

    Returns
    -------
    rtol, atol : float
    """
    if field in _GLMM_FIELDS:
        return GLMM_RTOL, 0.0
    iterative = iterative or field in _ALWAYS_ITERATIVE
    if field in _I2_FIELDS:
        return (ITERATIVE_RTOL, I2_ATOL) if iterative else (CLOSED_FORM_RTOL, CLOSED_FORM_ATOL)
    if iterative:
        return ITERATIVE_RTOL, ITERATIVE_ATOL
    return CLOSED_FORM_RTOL, CLOSED_FORM_ATOL


BAYES_GRID_ATOL = 5e-4
"""Bayesian binomial-normal model (``meta_prop_bayes``): quantiles of mu and tau (logits)
at the default resolution against twice the resolution in every direction. The default
grid integrates by Simpson's rule over 160 x 80 points: measured differences are below
3e-4 on the test datasets (1e-5 for mu with k >= 2); 5e-4 leaves room across platforms."""

BAYES_TAU_GRID_ATOL = 2.5e-3
"""The same for the quantiles of tau: 80 equally spaced values of tau over its posterior
range (0 to ~2 logits) are ~0.025 apart, and a lower tail where the density rises
steeply from tau = 0 (ten heterogeneous studies) moves by up to 1.1e-3 when doubled."""

BAYES_LIMIT_ATOL = 2e-4
"""``meta_prop_bayes`` with ``tau_scale`` -> 0 against the common-effect posterior by 1-D
adaptive quadrature: at tau_scale = 1e-4 the model differs from the common-effect one by
O(tau^2) ~ 1e-8, so what remains is the grid error of the mu quantiles (~1e-5)."""

BAYES_R_ATOL = 1e-3
"""``meta_prop_bayes`` against R's nested ``integrate()`` (tests/test_bayes.py, needs R):
R evaluates the posterior CDFs of mu, tau and a new study's logit at metaprop's
quantiles, which must give back the quantile's probability. Both sides are accurate to
~1e-5 in probability (metaprop's grid; integrate's rel.tol 1e-6 on the outer two levels
and 1e-9 on each study's likelihood), but
R's outer integrals see the tails of mu through a finite range (+-15 logits around the
pooled logit of the sums), so 1e-3 in probability (a hundredth of a 2.5% tail)."""

GLM_RTOL = 1e-5
"""Tests from fixed-effects logistic fits (the GLMM's Wald and likelihood-ratio tests of
heterogeneity, metafor ``QE.Wld``/``QE.LRT``, from R's ``glm``): IRLS stops when the
deviance changes by less than 1e-8 relative (``glm.control(epsilon = 1e-8)``), which leaves
the Wald statistic within ~2e-6 relative of its limit (measured: 1.6e-6 at most on the
reference datasets); the likelihood-ratio statistics agree to 1e-10."""

GLM_P_ATOL = 1e-8
"""Absolute slack for the p-values of those tests: a statistic off by 2e-6 relative moves a
p-value far in the tail (Q ~ 60 on 8 df, p ~ 1e-13) by ~1e-5 relative, where relative
agreement means nothing; elsewhere ``GLM_RTOL`` governs."""
