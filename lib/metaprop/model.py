"""Fitting: :func:`meta_prop` (counts) and :func:`meta_analysis` (generic effect sizes)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from metaprop import _validation as val
from metaprop._engine import FitArrays, fit_arrays
from metaprop.effects import EffectSizes, escalc
from metaprop.results import Interval, MetaResult
from metaprop.transforms import back_transform

__all__ = ["meta_analysis", "meta_prop"]

_SCALE_CHOICES = val.SCALES + val.MEASURES


def meta_prop(
    events=None,
    totals=None,
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
    weights=None,
) -> MetaResult:
    """Meta-analysis of single proportions from event counts (metafor ``escalc`` + ``rma``).

    Parameters
    ----------
    events, totals : array-like of int or str
        Number of events and of participants per study, positionally or by keyword;
        column names when ``data`` is given: ``meta_prop(data=df, events="x",
        totals="n", labels="study")``. (metafor's ``xi``/``ni`` are not accepted: one
        name per role.)
    data : DataFrame, optional
        Table holding the named columns.
    labels : array-like of str or str, optional
        Study labels (a column name with a DataFrame).
    measure : {"PLO", "PR", "PAS", "PFT", "PLN"}
        Analysis scale: logit (default), raw, arcsine square root, Freeman-Tukey, log.
    method : {"REML", "DL", "ML", "PM", "HE", "SJ", "HS", "EB", "HSk", "SJIT", "DLIT", \
"PMM", "GENQ", "FE", "EE", "CE"}
        Estimator of tau^2 (metafor's codes; see ``metaprop._engine.fit_arrays`` for the
        definitions); FE (alias EE, CE) is the fixed-effect model. DLIT is metafor's
        since version 4.6-0, whose limit is the PM estimate; metafor 3.8-1 (the version
        this package is tested against) iterates an older DLIT update with another fixed
        point, so DLIT is checked against metafor's PM and against its defining equation
        solved independently, not against metafor's DLIT. Every other code is checked
        against metafor 3.8-1 itself.
    test : {"z", "knha", "adhoc"}
        Normal test, Hartung-Knapp(-Sidik-Jonkman) with t(k-1), or Hartung-Knapp with
        the ad hoc floor of 1 on its scaling factor.
    level : float
        Confidence level: a fraction in [0.5, 1) or a percentage in [50, 100), read as
        metafor reads it (95 is 0.95); anything else is a ValueError (metafor would read
        1.5 as a 1.5% interval and 0.05 as alpha). The same rule holds for every
        ``level`` in metaprop.
    add : float, optional
        Continuity correction (default as metafor: 0.5 for PR/PLO, none for PAS/PFT).
    to : {"only0", "all", "if0all", "none"}
        Which studies get ``add``.
    tol, maxiter : float, int
        Convergence tolerance (absolute, on tau^2) and iteration limit of the iterative
        estimators.
    weights : array-like of float or str, optional
        User weights of the pooled estimate (metafor ``rma(weights=)``), finite and
        >= 0 with a positive sum (a column name with a DataFrame). Default: the
        inverse-variance weights. Required by ``method="GENQ"``, the only estimator of
        tau^2 that uses them.

    Returns
    -------
    MetaResult
        With ``weights``, ``weights`` holds the user weights in percent.

    Raises
    ------
    ValueError
        Bad counts or weights (naming the study and value), unknown measure, method or
        test, GENQ without weights.

    Notes
    -----
    Effect sizes as :func:`metaprop.escalc`; pooling as ``metaprop._engine.fit_arrays``
    (inverse-variance weights :math:`1/(v_i+\\hat\\tau^2)`). The pooled value and its
    intervals are back-transformed with :func:`metaprop.back_transform` (PFT at
    the harmonic mean of the totals).

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Schwarzer G, Chemaitelly H, Abu-Raddad LJ, Ruecker G (2019). Seriously misleading
    results using inverse of Freeman-Tukey double arcsine transformation in meta-analysis
    of single proportions. Res Synth Methods 10:476-483. doi:10.1002/jrsm.1348

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([16, 10, 4, 43, 10], [17, 12, 8, 58, 10], method="DL")
    >>> round(res.estimate, 4), res.ci.low < res.estimate < res.ci.high
    (0.7883, True)
    """
    method_c = val.canonical_method(method)
    test = val.check_choice(test, val.TESTS, "test")
    level = val.check_level(level)
    es = escalc(events, totals, measure, data=data, labels=labels, add=add, to=to)
    _check_finite_effects(es)
    a = _check_weights(weights, data, es.labels, method_c)
    fa = fit_arrays(es.yi, es.vi, None, method_c, test, level, tol=tol, maxiter=maxiter, weights=a)
    return _with_weights_note(
        build_result(fa, 0, es, ni=es.totals.astype(float), method_requested=method), a
    )


def meta_analysis(
    yi=None,
    vi=None,
    *,
    sei=None,
    data=None,
    labels=None,
    method: str = "REML",
    test: str = "z",
    level: float = 0.95,
    transform: str | None = None,
    ni=None,
    tol: float = 1e-10,
    maxiter: int = 1000,
    weights=None,
) -> MetaResult:
    """Meta-analysis of generic effect sizes (metafor ``rma(yi, vi)``).

    Parameters
    ----------
    yi, vi : array-like, EffectSizes or str
        Effect sizes and sampling variances, positionally or by keyword (column names
        with ``data``). An :class:`~metaprop.effects.EffectSizes` as ``yi`` brings its
        own variances, labels, counts and scale.
    sei : array-like or str, optional
        Standard errors instead of ``vi`` (give one of the two).
    data : DataFrame, optional
    labels : array-like of str or str, optional
    method, test, level
        As :func:`meta_prop`.
    transform : {"identity", "logit", "cloglog", "arcsine", "PR", "PLO", "PAS", "PFT"}, optional
        Scale of ``yi``, recorded for back-transformation (cloglog: :math:`\\log(-\\log S)`).
        Default: the scale of an EffectSizes, else ``"identity"``.
    ni : array-like, optional
        Sample sizes (required for ``transform="PFT"``: harmonic mean).
    tol, maxiter, weights
        As :func:`meta_prop`.

    Returns
    -------
    MetaResult
        ``measure`` is the transform when it is a proportion measure code, else ``"GEN"``.

    Notes
    -----
    The random-effects model :math:`y_i=\\mu+u_i+e_i`, :math:`u_i\\sim N(0,\\tau^2)`,
    :math:`e_i\\sim N(0,v_i)`: :math:`\\hat\\mu=\\sum w_iy_i/\\sum w_i` with
    :math:`w_i=1/(v_i+\\hat\\tau^2)` and :math:`\\mathrm{SE}(\\hat\\mu)=(\\sum w_i)^{-1/2}`
    (scaled for knha/adhoc, see ``metaprop._engine.fit_arrays``); this is the second
    step of :func:`meta_prop` on its own.

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J Stat Softw 36(3):1-48. doi:10.18637/jss.v036.i03

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_analysis([-1.2, -0.8, -1.5], [0.04, 0.09, 0.05], transform="logit")
    >>> round(res.estimate_t, 4), res.measure
    (-1.2084, 'GEN')
    """
    method_c = val.canonical_method(method)
    test = val.check_choice(test, val.TESTS, "test")
    level = val.check_level(level)
    events = totals = None
    add, to = 0.0, "none"
    if isinstance(yi, EffectSizes):
        es_in = yi
        if vi is not None or sei is not None or data is not None:
            raise ValueError("an EffectSizes already holds yi and vi; give nothing else")
        if transform is not None and transform != es_in.transform:
            raise ValueError(
                f"transform={transform!r} contradicts the EffectSizes scale {es_in.transform!r}"
            )
        cols = {
            "yi": es_in.yi,
            "vi": es_in.vi,
            "sei": None,
            "labels": es_in.labels if labels is None else labels,
            "ni": es_in.totals if ni is None else ni,
        }
        events, totals, add, to = es_in.events, es_in.totals, es_in.add, es_in.to
        transform = es_in.transform
    else:
        cols, _ = val.resolve_columns(
            data, ("yi", "vi"), yi=yi, vi=vi, sei=sei, labels=labels, ni=ni
        )
        if cols["yi"] is None:
            raise ValueError("yi (effect sizes) are required")
    transform = val.check_choice(transform or "identity", _SCALE_CHOICES, "transform")
    y_arr, v_arr, labs = val.check_effects(cols["yi"], cols["vi"], cols["sei"], cols["labels"])
    ni_arr = val.check_ni(cols["ni"], y_arr.shape[0], labs)
    if transform == "PFT" and ni_arr is None:
        raise ValueError("transform='PFT' needs the sample sizes ni (harmonic mean)")
    es = EffectSizes(
        yi=y_arr,
        vi=v_arr,
        events=events,
        totals=totals,
        measure=transform if transform in val.MEASURES else "GEN",
        labels=labs,
        add=add,
        to=to,
        transform=transform,
    )
    a = _check_weights(weights, data, labs, method_c)
    fa = fit_arrays(es.yi, es.vi, None, method_c, test, level, tol=tol, maxiter=maxiter, weights=a)
    return _with_weights_note(build_result(fa, 0, es, ni=ni_arr, method_requested=method), a)


def _check_weights(weights, data, labels: tuple[str, ...], method: str) -> np.ndarray | None:
    """User weights as a float array (None when not given), checked as metafor does.

    ``data`` is the DataFrame of the call, if any (then ``weights`` may name a column).
    """
    if weights is None:
        if method == "GENQ":
            raise ValueError("method 'GENQ' needs user weights: pass weights=")
        return None
    if isinstance(weights, str):
        if not val.is_frame(data):
            raise ValueError(f"weights={weights!r} names a column, but no DataFrame was given")
        weights = val.frame_columns(data, weights=weights)["weights"]
    k = len(labels)
    seq = val._array1d(weights, "weights")
    if seq.shape[0] != k:
        raise ValueError(f"length mismatch: {k} studies but {seq.shape[0]} weights")
    a = np.array(val._float_array(seq, "weights", labels), dtype=float)  # a private copy
    for i, x in enumerate(a):
        if not (np.isfinite(x) and x >= 0):
            raise ValueError(
                f"study at index {i} ({labels[i]!r}): weights must be finite and >= 0, "
                f"got {float(x)!r}"
            )
    if not a.sum() > 0:
        raise ValueError("weights are all 0: at least one study needs a positive weight")
    a.flags.writeable = False
    return a


def _with_weights_note(res: MetaResult, a) -> MetaResult:
    """Record the user weights, with a note, in the result."""
    if a is None:
        return res
    note = (
        "user-supplied weights: the pooled estimate is their weighted mean, with the "
        "variance sum a_i^2 (v_i + tau^2) / (sum a_i)^2 (metafor rma(weights=))"
    )
    return dataclasses.replace(res, notes=(*res.notes, note), user_weights=a)


def refuse_user_weights(res, what: str) -> None:
    """Raise ValueError for a fit with user weights: ``what`` refits with
    inverse-variance weights only, so its answer would not belong to that fit."""
    if getattr(res, "user_weights", None) is not None:
        raise ValueError(
            f"{what} is not available for a fit with user weights (weights=): it refits "
            "with inverse-variance weights; fit without weights to use it"
        )


def _check_finite_effects(es: EffectSizes) -> None:
    """A 0/n or n/n study without continuity correction has no finite PR/PLO variance."""
    bad = ~(np.isfinite(es.yi) & np.isfinite(es.vi) & (es.vi > 0))
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    raise ValueError(
        f"study at index {i} ({es.labels[i]!r}): {es.events[i]}/{es.totals[i]} events gives "
        f"yi = {val.plain(es.yi[i])}, vi = {val.plain(es.vi[i])} for measure {es.measure}; "
        "use a continuity correction (add > 0, to='only0') or measure PAS/PFT"
    )


def build_result(
    fa: FitArrays,
    row: int,
    es: EffectSizes,
    *,
    ni,
    method_requested: str,
    mask=None,
    method: str | None = None,
) -> MetaResult:
    """Report one row of a ``FitArrays`` (the fit of ``es``) as a ``MetaResult``.

    ``ni`` are the sample sizes of the PFT back-transformation (None when unknown).
    ``mask`` (boolean, length k) selects the studies of that row when the batch fitted
    subsets; ``method`` overrides the reported method (a one-study subgroup is FE).
    Other modules (subgroups, trim-and-fill) use this to report a fit.

    Examples
    --------
    >>> import numpy as np
    >>> from metaprop._engine import fit_arrays
    >>> from metaprop.effects import escalc
    >>> from metaprop.model import build_result
    >>> es = escalc([4, 9, 12], [20, 30, 25], labels=["a", "b", "c"])
    >>> mask = np.array([[True, True, False]])
    >>> fa = fit_arrays(es.yi[None, :], es.vi[None, :], mask, "DL")
    >>> res = build_result(fa, 0, es, ni=None, method_requested="DL", mask=mask[0])
    >>> res.labels, res.k
    (('a', 'b'), 2)
    """
    yi, vi, labels, events, totals = es.yi, es.vi, es.labels, es.events, es.totals
    transform = es.transform
    if mask is not None:
        sel = np.asarray(mask, dtype=bool)
        yi, vi = yi[sel], vi[sel]
        labels = tuple(lab for lab, s in zip(labels, sel, strict=True) if s)
        events = None if events is None else events[sel]
        totals = None if totals is None else totals[sel]
        ni = None if ni is None else ni[sel]
        w = fa.w[row][sel]
    else:
        w = fa.w[row]
    k = int(fa.k[row])
    method = fa.method if method is None else method
    beta, se, tau2 = float(fa.beta[row]), float(fa.se[row]), float(fa.tau2[row])
    ci_t = Interval(float(fa.ci_lb[row]), float(fa.ci_ub[row]))
    pi_t = Interval(float(fa.pi_lb[row]), float(fa.pi_ub[row]))
    back = back_transform(np.array([beta, ci_t.low, ci_t.high, pi_t.low, pi_t.high]), transform, ni)
    converged = bool(fa.converged[row])
    df = float(fa.df[row])
    test = fa.test if np.isfinite(df) else "z"
    notes = _notes(k, method, fa.test, converged)
    if test != "z" and method == "FE":
        # metafor warns too: Hartung-Knapp scaling belongs to random-effects models
        warnings.warn(
            "the Knapp-Hartung test is meant for random-effects models, not FE", stacklevel=3
        )
    if not converged:
        warnings.warn(
            f"{method} estimator did not converge; see notes", RuntimeWarning, stacklevel=3
        )
    return MetaResult(
        yi=yi,
        vi=vi,
        events=events,
        totals=totals,
        labels=tuple(labels),
        measure=es.measure,
        transform=transform,
        ni=ni,
        method=method,
        method_requested=method_requested,
        test=test,
        level=fa.level,
        add=es.add,
        to=es.to,
        k=k,
        estimate_t=beta,
        se_t=se,
        ci_t=ci_t,
        pi_t=pi_t,
        statistic=float(fa.stat[row]),
        pvalue=float(fa.pval[row]),
        df=None if test == "z" else int(df),
        tau2=tau2,
        se_tau2=float(fa.se_tau2[row]),
        i2=float(fa.i2[row]),
        h2=float(fa.h2[row]),
        q=float(fa.q[row]),
        q_df=int(fa.q_df[row]),
        q_pvalue=float(fa.q_pvalue[row]),
        typical_vi=float(fa.vt[row]),
        weights=100.0 * w / w.sum(),
        estimate=float(back[0]),
        ci=_ordered(back[1], back[2]),
        pi=_ordered(back[3], back[4]),
        converged=converged,
        notes=notes,
    )


def _ordered(a: float, b: float) -> Interval:
    # a decreasing scale (cloglog) swaps the bounds
    return Interval(float(b), float(a)) if b < a else Interval(float(a), float(b))


def _notes(k: int, method: str, test: str, converged: bool) -> tuple[str, ...]:
    notes = []
    if k == 1:
        notes.append(
            "k = 1: tau^2, I^2, H^2 and Q are not estimable (reported as 0, 0%, 1 and 0); "
            "the pooled value is the single study's"
        )
        if test != "z":
            notes.append(f"k = 1: test {test!r} needs k >= 2; the z test is used (as metafor)")
    if k == 2:
        notes.append("k = 2: the t(k-2) prediction interval is not estimable")
    if k < 2 and method != "FE":
        notes.append("k = 1: the Q-profile interval for tau^2 is not estimable")
    if not converged:
        notes.append(f"the {method} estimator did not converge within the iteration limit")
    if test != "z" and method == "FE" and k > 1:
        notes.append("the Knapp-Hartung test is meant for random-effects models, not FE")
    return tuple(notes)
