"""Subgroup analysis: one fit per level, the test between subgroups, the moderator test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import special

from metaprop import _validation as val
from metaprop._engine import fit_arrays, fit_moderators
from metaprop.effects import EffectSizes, escalc
from metaprop.model import _check_finite_effects, build_result
from metaprop.results import MetaResult

__all__ = ["ModeratorTest", "SubgroupResult", "TestResult", "subgroup_analysis"]


class TestResult(NamedTuple):
    """A chi-squared test (``SubgroupResult.q_between``); unpacks as a triple.

    Parameters
    ----------
    statistic : float
        The chi-squared statistic.
    df : int
        Its degrees of freedom.
    pvalue : float
        Upper-tail p-value of the chi-squared distribution on ``df`` degrees of freedom.

    Notes
    -----
    For subgroups, :math:`Q_B=\\sum_g w_g(\\hat\\mu_g-\\bar\\mu)^2` with
    :math:`w_g=1/\\mathrm{SE}(\\hat\\mu_g)^2`,
    :math:`\\bar\\mu=\\sum_g w_g\\hat\\mu_g/\\sum_g w_g` and G - 1 df (Borenstein &
    Higgins 2013).

    References
    ----------
    Borenstein M, Higgins JPT (2013). Meta-analysis and subgroups. Prev Sci 14:134-143.
    doi:10.1007/s11121-013-0377-7

    Examples
    --------
    >>> import metaprop as mp
    >>> sg = mp.subgroup_analysis([4, 6, 10, 12], [20, 22, 25, 24], ["a", "a", "b", "b"])
    >>> statistic, df, pvalue = sg.q_between
    >>> df, bool(0 <= pvalue <= 1)
    (1, True)
    """

    statistic: float
    df: int
    pvalue: float


class ModeratorTest(NamedTuple):
    """Omnibus moderator test of ``rma(yi, vi, mods = ~ group)`` (metafor ``QM``).

    Parameters
    ----------
    statistic : float
        :math:`Q_M` (z test) or :math:`Q_M/m` (F test of knha/adhoc).
    df : int
        Numerator degrees of freedom m (number of group contrasts, G - 1).
    pvalue : float
        Upper-tail p-value of :math:`\\chi^2_m` (z) or :math:`F(m, k-p)` (knha/adhoc).
    tau2 : float
        Residual between-study variance of the meta-regression (one for all groups).
    df_denominator : int or None
        k - p for the F test; None for the chi-squared test.
    qe, qe_df, qe_pvalue : float, int, float
        Test of residual heterogeneity of the meta-regression (metafor ``QE``,
        ``QEp``): :math:`Q_E=\\sum_i w_i(y_i-x_i^\\top\\hat\\beta_{FE})^2` with
        :math:`w_i=1/v_i`, :math:`\\chi^2` on k - p df (whatever the test of the
        moderators). NaN when the meta-regression is not estimable.

    Notes
    -----
    :math:`Q_M=\\hat\\beta_{[2:p]}^\\top V_{[2:p]}^{-1}\\hat\\beta_{[2:p]}` over the
    group contrasts of the mixed-effects meta-regression (Viechtbauer et al. 2015).
    Unlike ``q_between`` it pools one :math:`\\tau^2` across groups.

    References
    ----------
    Viechtbauer W, Lopez-Lopez JA, Sanchez-Meca J, Marin-Martinez F (2015). A comparison
    of procedures to test for moderators in mixed-effects meta-regression models.
    Psychol Methods 20:360-374. doi:10.1037/met0000023

    Examples
    --------
    >>> import metaprop as mp
    >>> sg = mp.subgroup_analysis([4, 6, 10, 12], [20, 22, 25, 24], ["a", "a", "b", "b"],
    ...                           test="knha")
    >>> sg.moderator.df, sg.moderator.df_denominator, sg.moderator.qe_df
    (1, 2, 2)
    """

    statistic: float
    df: int
    pvalue: float
    tau2: float
    df_denominator: int | None
    qe: float
    qe_df: int
    qe_pvalue: float


@dataclass(frozen=True, eq=False)
class SubgroupResult:
    """Subgroup analysis: per-level fits and the two tests of a difference.

    Returned by :func:`subgroup_analysis`; the fields are the constructor's parameters
    and read-only attributes.

    Parameters
    ----------
    results : dict of str to MetaResult
        One fit per level (levels sorted as R sorts factor levels); a one-study level is a
        fixed-effect fit.
    q_between : TestResult
        Fixed-effect Q test across the subgroup estimates
        (:math:`\\sum_g w_g(\\hat\\mu_g-\\bar\\mu)^2`, :math:`w_g=1/\\mathrm{SE}_g^2`,
        df = G - 1).
    moderator : ModeratorTest
        Mixed-effects meta-regression on the group indicator, tau^2 by the same method
        (one tau^2 shared by all groups).
    groups : tuple of str
        The group of each study, in input order.
    overall : MetaResult
        All studies pooled (same options).
    notes : tuple of str
        What could not be estimated and why (e.g. a moderator test with as many groups as
        studies, whose fields are then NaN).

    Notes
    -----
    Each level has its own :math:`\\hat\\tau^2` in ``results`` and ``q_between`` (each
    level is pooled on its own); ``moderator`` assumes a common
    :math:`\\tau^2` (metafor's meta-regression). The two can disagree when the levels
    differ in heterogeneity.

    References
    ----------
    Borenstein M, Higgins JPT (2013). Meta-analysis and subgroups. Prev Sci 14:134-143.
    doi:10.1007/s11121-013-0377-7

    Examples
    --------
    >>> import metaprop as mp
    >>> sg = mp.subgroup_analysis([4, 6, 10, 12], [20, 22, 25, 24], ["a", "a", "b", "b"])
    >>> {g: r.k for g, r in sg.results.items()}, sg.overall.k
    ({'a': 2, 'b': 2}, 4)
    """

    results: dict[str, MetaResult]
    q_between: TestResult
    moderator: ModeratorTest
    groups: tuple[str, ...]
    overall: MetaResult
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __repr__(self) -> str:
        return val.short_repr(
            self,
            groups=list(self.results),
            k=self.overall.k,
            method=self.overall.method,
            q_between=self.q_between.statistic,
            q_between_pvalue=self.q_between.pvalue,
        )

    def to_frame(self):
        """One row per level: group, k, method, estimate, CI, PI, tau2, i2, q, q_pvalue.

        Examples
        --------
        >>> import metaprop as mp
        >>> sg = mp.subgroup_analysis([4, 6, 10, 12], [20, 22, 25, 24], ["a", "a", "b", "b"])
        >>> sg.to_frame()["group"].tolist()
        ['a', 'b']
        """
        import pandas as pd

        rows = []
        for name, res in self.results.items():
            rows.append(
                {
                    "group": name,
                    "k": res.k,
                    "method": res.method,
                    "estimate": res.estimate,
                    "ci_low": res.ci.low,
                    "ci_high": res.ci.high,
                    "pi_low": res.pi.low,
                    "pi_high": res.pi.high,
                    "estimate_t": res.estimate_t,
                    "se_t": res.se_t,
                    "tau2": res.tau2,
                    "i2": res.i2,
                    "q": res.q,
                    "q_pvalue": res.q_pvalue,
                }
            )
        return pd.DataFrame(rows)

    def forest(self, ax=None, **kwargs):
        """Subgroup forest plot (delegates to :func:`metaprop.subgroup_forest_plot`).

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> import metaprop as mp
        >>> sg = mp.subgroup_analysis([4, 6, 10, 12], [20, 22, 25, 24], ["a", "a", "b", "b"])
        >>> ax = sg.forest()
        """
        from metaprop.plotting import subgroup_forest_plot

        return subgroup_forest_plot(self, ax=ax, **kwargs)


def subgroup_analysis(
    events=None,
    totals=None,
    groups=None,
    *,
    data=None,
    labels=None,
    measure: str = "PLO",
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    add: float | None = None,
    to: str = "only0",
    tol: float = 1e-10,
    maxiter: int = 1000,
) -> SubgroupResult:
    """Meta-analysis within subgroups, with tests for a difference between them.

    Parameters
    ----------
    events, totals, groups : array-like or str
        Events, totals and each study's group, positionally or by keyword; column names
        with ``data`` (``subgroup_analysis(data=df, events="x", totals="n",
        groups="region")``). Or a fitted :class:`~metaprop.results.MetaResult` first
        and the groups second (or as ``groups=``): its effect sizes, options and labels
        are reused.
    data, labels, measure, method, test, level, add, to, tol, maxiter
        As :func:`metaprop.meta_prop`.

    Returns
    -------
    SubgroupResult

    Raises
    ------
    ValueError
        Bad counts, missing or mismatched groups, fewer than two levels.

    Notes
    -----
    Effect sizes are computed once for all studies (as metafor ``escalc`` on the whole
    table), then each level is pooled with ``method`` (FE for a one-study level). The
    test between subgroups is
    :math:`Q_B=\\sum_g w_g(\\hat\\mu_g-\\hat\\mu_w)^2\\sim\\chi^2_{G-1}` with
    :math:`w_g=1/\\mathrm{SE}(\\hat\\mu_g)^2`; the moderator test is metafor's
    :math:`Q_M` of ``rma(yi, vi, mods = ~ group, method)``
    (``metaprop._engine.fit_moderators``).

    References
    ----------
    Borenstein M, Higgins JPT (2013). Meta-analysis and subgroups. Prev Sci 14:134-143.
    doi:10.1007/s11121-013-0377-7

    Examples
    --------
    >>> import metaprop as mp
    >>> sg = mp.subgroup_analysis([4, 6, 10, 12, 9], [20, 22, 25, 24, 30],
    ...                           ["a", "a", "b", "b", "b"], method="DL")
    >>> sorted(sg.results), sg.q_between.df
    (['a', 'b'], 1)
    >>> round(sg.q_between.statistic, 3)
    2.755
    """
    if isinstance(events, MetaResult):
        base = events
        if totals is not None and groups is not None:
            raise ValueError("with a MetaResult, give only the groups")
        groups = groups if groups is not None else totals
        given = {
            "data": data is not None,
            "labels": labels is not None,
            "measure": measure != "PLO",
            "method": method != "REML",
            "test": test != "z",
            "level": level != 0.95,
            "add": add is not None,
            "to": to != "only0",
        }
        if any(given.values()):
            names = ", ".join(k for k, v in given.items() if v)
            raise ValueError(
                f"with a MetaResult the fit's own options are used; do not pass {names} "
                "(refit with meta_prop to change them)"
            )
        es = EffectSizes(
            yi=base.yi,
            vi=base.vi,
            events=base.events,
            totals=base.totals,
            measure=base.measure,
            labels=base.labels,
            add=base.add,
            to=base.to,
            transform=base.transform,
        )
        ni_arr, method, test, level = base.ni, base.method_requested, base.test, base.level
    else:
        if data is not None and isinstance(groups, str):
            groups = val.frame_columns(data, groups=groups)["groups"]
        elif val.is_frame(groups):
            raise ValueError("groups is a DataFrame: give the table as data= and groups='column'")
        level = val.check_level(level)
        test = val.check_choice(test, val.TESTS, "test")
        es = escalc(events, totals, measure, data=data, labels=labels, add=add, to=to)
        _check_finite_effects(es)
        ni_arr = es.totals.astype(float)
    method_c = val.canonical_method(method)
    yi, vi = es.yi, es.vi
    group_of = _check_groups(groups, es.labels)
    levels = sorted(set(group_of))
    if len(levels) < 2:
        raise ValueError(f"subgroup analysis needs at least two groups, got {levels}")
    k = len(group_of)
    garr = np.array(group_of, dtype=object)
    masks = np.array([garr == lv for lv in levels])
    # one batch: every level and, last, all studies
    batch_mask = np.vstack([masks, np.ones((1, k), dtype=bool)])
    y2 = np.broadcast_to(yi, batch_mask.shape)
    v2 = np.broadcast_to(vi, batch_mask.shape)
    fa = fit_arrays(y2, v2, batch_mask, method_c, test, level, tol=tol, maxiter=maxiter)

    def result(row, mask, method_shown=None):
        return build_result(
            fa,
            row,
            es,
            ni=ni_arr,
            method_requested=method if method_shown is None else method_shown,
            mask=mask,
            method=method_shown,
        )

    results = {}
    for row, lv in enumerate(levels):
        one = int(fa.k[row]) == 1
        results[lv] = result(row, masks[row], "FE" if one else None)
    overall = result(len(levels), None)
    # fixed-effect test across subgroup estimates (Borenstein & Higgins 2013)
    est = fa.beta[: len(levels)]
    wg = 1.0 / fa.se[: len(levels)] ** 2
    q_b = float(np.sum(wg * (est - np.sum(wg * est) / np.sum(wg)) ** 2))
    df_b = len(levels) - 1
    q_between = TestResult(q_b, df_b, float(special.chdtrc(df_b, q_b)))
    X = np.column_stack([np.ones(k)] + [m.astype(float) for m in masks[1:]])
    notes = ()
    if k < X.shape[1] + (method_c != "FE"):
        # as metafor's rma(mods = ~ group), which stops: too few studies for the levels
        # and tau^2; each level's fit and Q_B are still defined
        moderator = ModeratorTest(
            np.nan, df_b, np.nan, np.nan, None, np.nan, k - X.shape[1], np.nan
        )
        notes = (
            f"The moderator test is not estimable: {k} studies in {len(levels)} groups "
            "leave no degree of freedom for tau^2 in the meta-regression.",
        )
    else:
        mf = fit_moderators(yi, vi, X, method_c, test, level, tol=tol, maxiter=maxiter)
        moderator = ModeratorTest(
            statistic=mf.qm,
            df=mf.qm_df[0],
            pvalue=mf.qm_pvalue,
            tau2=mf.tau2,
            df_denominator=mf.qm_df[1] if len(mf.qm_df) > 1 else None,
            qe=mf.qe,
            qe_df=k - X.shape[1],
            qe_pvalue=mf.qe_pvalue,
        )
    return SubgroupResult(
        results=results,
        q_between=q_between,
        moderator=moderator,
        groups=tuple(group_of),
        overall=overall,
        notes=notes,
    )


def _check_groups(groups, labels: tuple[str, ...]) -> list[str]:
    if groups is None:
        raise ValueError("groups are required (one group per study)")
    arr = val._array1d(groups, "groups")
    if arr.shape[0] != len(labels):
        raise ValueError(f"length mismatch: {len(labels)} studies but {arr.shape[0]} groups")
    out = []
    for i, x in enumerate(arr.tolist()):
        if x is None or (isinstance(x, float) and np.isnan(x)):
            raise ValueError(f"study at index {i} ({labels[i]!r}): group is missing")
        out.append(str(x))
    return out
