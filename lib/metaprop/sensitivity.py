"""Sensitivity analyses: leave-one-out and cumulative meta-analysis.

Both refit the model of a :class:`~metaprop.model.MetaResult` to subsets of its studies.
All subsets go to the vectorised engine in one batch (one row of a boolean membership
mask per fit), as metafor's ``leave1out()`` and ``cumul()`` would fit them one by one.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from metaprop.batch import fit_masked
from metaprop.model import refuse_user_weights
from metaprop.results import LeaveOneOutResult

__all__ = ["cumulative", "leave_one_out"]

_COLUMNS = (
    "k estimate_t se_t ci_t_low ci_t_high statistic pvalue tau2 i2 h2 q "
    "estimate ci_low ci_high converged"
).split()


def _check(res, what: str) -> int:
    if res.method == "GLMM":
        raise ValueError(
            f"{what} is not available for the GLMM (as in metafor); run it on an "
            "inverse-variance fit, e.g. meta_prop(..., measure='PLO')"
        )
    refuse_user_weights(res, what)
    return len(res.yi)


def _fit_subsets(res, mask: np.ndarray):
    """Refit ``res``'s model to each row of ``mask``; returns a dict of (m,) arrays.

    A subset with one study is fitted with the z test, as metafor's ``rma.uni`` does when
    k = 1 (Knapp-Hartung needs k >= 2); tau^2 is 0 there for every method.
    """
    y = np.asarray(res.yi, dtype=float)
    v = np.asarray(res.vi, dtype=float)
    ni = None if res.ni is None else np.asarray(res.ni, dtype=float)
    scale = res.transform
    out = {name: np.empty(mask.shape[0]) for name in _COLUMNS}
    out["converged"] = np.empty(mask.shape[0], dtype=bool)
    single = mask.sum(axis=1) == 1
    for rows, test in ((~single, res.test), (single, "z")):
        if not rows.any():
            continue
        fit = fit_masked(
            y,
            v,
            mask[rows],
            ni,
            measure=scale,
            method=res.method,
            test=test,
            level=res.level,
        )
        for name in _COLUMNS:
            out[name][rows] = getattr(fit, name)
    out["k"] = out["k"].astype(np.int64)
    return out


def _frame(labels, values: dict, extra: dict | None = None):
    import pandas as pd

    cols = {"label": list(labels)}
    if extra:
        cols.update(extra)
    cols.update({name: values[name] for name in _COLUMNS})
    return pd.DataFrame(cols)


def leave_one_out(res) -> LeaveOneOutResult:
    """Refit the model once without each study (metafor ``leave1out``).

    Parameters
    ----------
    res : MetaResult
        A fitted model (``meta_prop`` or ``meta_analysis``); its method, test and level
        are reused.

    Returns
    -------
    LeaveOneOutResult
        One entry per omitted study: the refit's estimate, interval and test, tau^2,
        I^2, H^2, and Cochran's Q with its df and p-value (metafor's ``Q`` and ``Qp``);
        ``to_frame()`` gives them as a table.

    Raises
    ------
    ValueError
        If the model has fewer than 2 studies, or is a GLMM (no inverse-variance refit).

    Notes
    -----
    Row :math:`i` is the model fitted to the studies :math:`j\\ne i`. With two studies
    each refit has one study, which metafor fits with the z test and
    :math:`\\tau^2 = 0` (Q = 0 on 0 df, p = 1).

    References
    ----------
    Viechtbauer W, Cheung MW-L (2010). Outlier and influence diagnostics for
    meta-analysis. Res Synth Methods 1:112-125. doi:10.1002/jrsm.11

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22])
    >>> mp.leave_one_out(res).k.tolist()
    [3, 3, 3, 3]
    """
    k = _check(res, "leave-one-out")
    if k < 2:
        raise ValueError(f"leave-one-out needs at least 2 studies (k = {k})")
    mask = ~np.eye(k, dtype=bool)
    fits = _fit_subsets(res, mask)
    q_df = fits["k"] - 1
    # metafor: Qp = pchisq(Q, k - 1, lower.tail = FALSE), and 1 when k - 1 = 0
    q_pvalue = np.where(q_df > 0, special.chdtrc(np.maximum(q_df, 1), fits["q"]), 1.0)
    return LeaveOneOutResult(
        labels=tuple(res.labels),
        q_df=q_df,
        q_pvalue=q_pvalue,
        measure=res.measure,
        method=res.method,
        test=res.test,
        level=res.level,
        **fits,
    )


def cumulative(res, order=None, *, collapse=False):
    """Cumulative meta-analysis: add the studies one at a time (metafor ``cumul``).

    Parameters
    ----------
    res : MetaResult
        A fitted model; its method, test and level are reused.
    order : array-like, optional
        One sort key per study (e.g. publication year). Studies enter in ascending order
        of the key, ties in input order (a stable sort, as metafor >= 3.0). Default: input
        order.
    collapse : bool, default False
        Add the studies that share a key together, in one step (metafor >= 4.8
        ``cumul(..., collapse = TRUE)``); needs ``order``.

    Returns
    -------
    pandas.DataFrame
        One row per step: ``label`` (the study added at that step; with ``collapse``, the
        studies added, joined by "; "), ``order`` (its key), then the columns of
        :func:`leave_one_out` for the fit to the studies entered so far (``PFT``:
        harmonic mean of their totals).

    Raises
    ------
    ValueError
        If ``order`` has the wrong length or contains NaN, ``collapse`` is asked for
        without ``order``, or the model is a GLMM.

    Notes
    -----
    Step :math:`j` fits the first :math:`j` studies of the sorted sequence; the first step
    has one study and is fitted with the z test and :math:`\\tau^2 = 0` (metafor). With
    ``collapse``, step :math:`j` fits every study whose key is at most the :math:`j`-th
    smallest distinct key.

    References
    ----------
    Lau J, Antman EM, Jimenez-Silva J, Kupelnick B, Mosteller F, Chalmers TC (1992).
    Cumulative meta-analysis of therapeutic trials for myocardial infarction. N Engl J
    Med 327:248-254. doi:10.1056/NEJM199207233270406

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22], labels=list("ABCD"))
    >>> mp.cumulative(res, order=[2003, 2001, 2004, 2001])["label"].tolist()
    ['B', 'D', 'A', 'C']
    >>> mp.cumulative(res, order=[2003, 2001, 2004, 2001], collapse=True)["k"].tolist()
    [2, 3, 4]
    """
    k = _check(res, "cumulative meta-analysis")
    if order is None:
        keys = np.arange(k)
    else:
        keys = np.asarray(order)
        if keys.shape != (k,):
            raise ValueError(f"order must have one key per study ({k}), got shape {keys.shape}")
        if keys.dtype.kind == "f" and np.isnan(keys).any():
            bad = int(np.flatnonzero(np.isnan(keys))[0])
            raise ValueError(f"order is NaN for the study at index {bad} ({res.labels[bad]!r})")
    if collapse:
        if order is None:
            raise ValueError(
                "collapse=True pools studies with the same order value: give order= "
                "(e.g. the publication years)"
            )
        steps = np.unique(keys)
        mask = keys[None, :] <= steps[:, None]
        labels = ["; ".join(res.labels[i] for i in np.flatnonzero(keys == key)) for key in steps]
        return _frame(labels, _fit_subsets(res, mask), {"order": steps})
    perm = np.argsort(keys, kind="stable")
    # row j: the studies at sorted positions 0..j
    rank = np.empty(k, dtype=np.int64)
    rank[perm] = np.arange(k)
    mask = rank[None, :] <= np.arange(k)[:, None]
    labels = [res.labels[i] for i in perm]
    return _frame(labels, _fit_subsets(res, mask), {"order": keys[perm]})
