"""GOSH: the model refitted to every subset of the studies (Olkin et al. 2012).

The subsets are fitted in chunks through the batch engine (:mod:`metaprop.batch`), so
memory grows with the number of subsets only through the result table, never through
the engine's work arrays.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
from scipy import special

from metaprop import _validation as val
from metaprop.batch import CHUNK_ELEMENTS, fit_masked
from metaprop.model import refuse_user_weights

__all__ = ["GoshResult", "gosh"]

MAX_SUBSETS = 10**6
"""All subsets are fitted when there are at most this many (metafor's default)."""

_PROGRESS_FROM = 100_000
"""``progress=None`` shows progress for runs of at least this many fits."""

_STATS = ("k", "estimate_t", "estimate", "tau2", "i2", "h2", "q", "converged")


@dataclass(frozen=True, eq=False)
class GoshResult:
    """Fits of one model to subsets of its studies.

    Attributes
    ----------
    frame : DataFrame
        One row per subset, sorted by subset size: one boolean membership column per
        study (named by its label), then ``k``, ``estimate_t`` (analysis scale),
        ``estimate`` (proportion scale), ``tau2``, ``i2`` (percent), ``h2``, ``q`` and
        ``converged``.
    membership : ndarray of bool
        The membership columns as an ``(n, k)`` array.
    labels : tuple of str
        Study labels, in the order of the membership columns.
    method, measure : str
        The model that was refitted and the scale of ``estimate_t``.
    exact : bool
        True when all ``2**k - 1`` subsets were fitted, False for a random sample.
    n_subsets : int
        Number of subsets planned.
    complete : bool
        False when the run was interrupted (Ctrl-C): ``frame`` then holds the subsets
        fitted before the interruption.
    """

    frame: object
    membership: np.ndarray
    labels: tuple[str, ...]
    method: str
    measure: str
    exact: bool
    n_subsets: int
    complete: bool

    def __post_init__(self) -> None:
        # result arrays are read-only (issue 26)
        val.readonly_arrays(self)

    def __repr__(self) -> str:
        return val.short_repr(
            self,
            fits=self.n_subsets,
            k=len(self.labels),
            measure=self.measure,
            method=self.method,
            exact=self.exact,
            complete=self.complete,
        )

    def to_frame(self):
        """The table of fits (one row per subset), as a copy.

        Examples
        --------
        >>> import metaprop as mp
        >>> g = mp.gosh(mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 22]))
        >>> len(g.to_frame()) == g.n_subsets == 15
        True
        """
        return self.frame.copy()

    def plot(self, ax=None, highlight=None, *, bins: int = 100, cmap: str = "viridis"):
        """Pooled estimate against I², each point shaded by the density of subsets there.

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Axes to draw on (a new figure when None).
        highlight : str or int, optional
            A study (label or 0-based index): the subsets that contain it are drawn in
            red shades, the others in grey shades.
        bins : int
            Bins per axis of the 2-D histogram that gives each point its density.
        cmap : str
            Colormap when nothing is highlighted.

        Returns
        -------
        matplotlib Axes
        """
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4.5))
        x = self.frame["i2"].to_numpy()
        y = self.frame["estimate"].to_numpy()
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok], y[ok]
        density = _point_density(x, y, bins)
        if highlight is None:
            ax.scatter(x, y, c=density, cmap=cmap, s=4, lw=0, rasterized=True)
        else:
            j = self._study_index(highlight)
            has = self.membership[ok, j]
            for sel, shades in ((~has, "Greys"), (has, "Reds")):
                ax.scatter(
                    x[sel],
                    y[sel],
                    c=density[sel],
                    cmap=shades,
                    vmin=-0.5,
                    vmax=1.0,
                    s=4,
                    lw=0,
                    rasterized=True,
                )
            ax.legend(
                handles=[
                    Line2D(
                        [], [], ls="", marker="o", color="tab:red", label=f"with {self.labels[j]}"
                    ),
                    Line2D(
                        [], [], ls="", marker="o", color="0.4", label=f"without {self.labels[j]}"
                    ),
                ],
                frameon=False,
            )
        ax.set_xlabel("I² (%)")
        ax.set_ylabel("pooled estimate" if self.measure == "identity" else "pooled proportion")
        ax.set_title(f"GOSH: {len(x):,} subsets ({self.method})")
        return ax

    def _study_index(self, study) -> int:
        if isinstance(study, str):
            if study not in self.labels:
                raise ValueError(f"no study labelled {study!r}")
            return self.labels.index(study)
        j = int(study)
        if not 0 <= j < len(self.labels):
            last = len(self.labels) - 1
            raise ValueError(f"study index {val.plain(study)} out of range 0..{last}")
        return j


def gosh(res, subsets=None, seed=None, *, chunk_size=None, progress=None) -> GoshResult:
    """Refit the model of ``res`` to subsets of its studies (GOSH plot data).

    Parameters
    ----------
    res : MetaResult
        A fitted model (:func:`metaprop.meta_prop` or :func:`metaprop.meta_analysis`);
        its method, test and measure are reused.
    subsets : int, optional
        Fit all ``2**k - 1`` subsets when there are at most this many (default
        ``10**6``), otherwise this many random subsets.
    seed : int, optional
        Seed of the random subsets (ignored when all subsets are fitted).
    chunk_size : int, optional
        Subsets fitted per call of the engine; default ``2**17 // k``, which keeps each
        of the engine's work arrays near 1 MiB.
    progress : bool, optional
        Show progress on standard error (tqdm when installed); default: for runs of
        100,000 fits or more.

    Returns
    -------
    GoshResult

    Raises
    ------
    ValueError
        For k < 2, ``subsets`` < 2, or a model that is not an inverse-variance one (GLMM).

    Notes
    -----
    With all subsets, subset :math:`r = 1, \\dots, 2^k - 1` contains study :math:`i`
    when bit :math:`i` of :math:`r` is set, and the subsets are ordered by size, ties in
    order of :math:`r` (the order of metafor's ``gosh()``). A random subset has size
    :math:`s` with probability proportional to :math:`\\binom{k}{s}`, then :math:`s`
    studies drawn without replacement (metafor's sampling scheme; metafor's own random
    stream is not reproduced). Ctrl-C stops after the chunk under way and returns the
    subsets fitted so far (``complete=False``).

    References
    ----------
    Olkin I, Dahabreh IJ, Trikalinos TA (2012). GOSH - a graphical display of study
    heterogeneity. Res Synth Methods 3(3):214-223. doi:10.1002/jrsm.1053

    Examples
    --------
    >>> import metaprop as mp
    >>> res = mp.meta_prop([4, 9, 12, 7], [20, 30, 25, 40], method="DL")
    >>> g = mp.gosh(res)
    >>> len(g.frame), g.exact
    (15, True)
    """
    if res.method not in val.METHODS:
        raise ValueError(f"gosh refits inverse-variance models only, not method {res.method!r}")
    refuse_user_weights(res, "GOSH")
    k = int(res.k)
    if k < 2:
        raise ValueError(f"GOSH needs at least 2 studies, got k = {k}")
    limit = MAX_SUBSETS if subsets is None else int(round(subsets))
    if limit < 2:
        raise ValueError(f"subsets must be >= 2, got {val.plain(subsets)}")
    n_all = 2**k - 1
    exact = n_all <= limit
    n = n_all if exact else limit
    if chunk_size is None:
        chunk_size = max(1, CHUNK_ELEMENTS // k)
    show = n >= _PROGRESS_FROM if progress is None else bool(progress)

    draw = _ExactSubsets(k) if exact else _RandomSubsets(k, n, seed)
    members = np.empty((n, k), dtype=bool)
    out = {name: np.empty(n) for name in _STATS}
    yi, vi = np.asarray(res.yi, dtype=float), np.asarray(res.vi, dtype=float)
    # sample sizes for the PFT back-transformation (meta_analysis(ni=...) or the totals)
    sizes = res.ni if res.ni is not None else res.totals
    totals = None if sizes is None else np.asarray(sizes, dtype=float)
    done = 0
    bar = _Progress(n, show)
    try:
        while done < n:
            stop = min(n, done + chunk_size)
            mask = draw(done, stop)
            fit = fit_masked(
                yi,
                vi,
                mask,
                totals,
                measure=res.transform,
                method=res.method,
                test=res.test,
                level=res.level,
            )
            members[done:stop] = mask
            for name in _STATS:
                out[name][done:stop] = getattr(fit, name)
            if res.method == "DL":
                # metafor gosh() reports H2 = Q / (k - 1) for DL (its fixed-effect formula),
                # which differs from rma()'s tau2-based H2 where tau2 is truncated at 0
                out["h2"][done:stop] = np.where(fit.k > 1, fit.q / np.maximum(fit.k - 1, 1), 1.0)
            done = stop
            bar.update(done)
    except KeyboardInterrupt:
        print(f"gosh: interrupted; returning the {done:,} of {n:,} subsets fitted", file=sys.stderr)
    finally:
        bar.close()
    return _result(
        res, members[:done], {key: v[:done] for key, v in out.items()}, exact, n, done == n
    )


def _result(res, members, out, exact, n, complete) -> GoshResult:
    import pandas as pd

    labels = tuple(res.labels)
    names = list(labels)
    if len(set(names)) != len(names) or set(names) & set(_STATS):
        names = [f"study_{i + 1}" for i in range(len(labels))]
    cols = {name: members[:, i] for i, name in enumerate(names)}
    cols.update(out)
    cols["k"] = out["k"].astype(np.int64)
    cols["converged"] = out["converged"].astype(bool)
    return GoshResult(
        frame=pd.DataFrame(cols),
        membership=members,
        labels=labels,
        method=res.method,
        measure=res.transform,
        exact=exact,
        n_subsets=n,
        complete=complete,
    )


class _ExactSubsets:
    """All non-empty subsets of k studies, by size, ties in the order of their bit code."""

    def __init__(self, k: int) -> None:
        codes = np.arange(1, 2**k, dtype=np.int64)
        self.codes = codes[np.argsort(np.bitwise_count(codes), kind="stable")]
        self.bits = np.arange(k, dtype=np.int64)

    def __call__(self, start: int, stop: int) -> np.ndarray:
        return ((self.codes[start:stop, None] >> self.bits) & 1).astype(bool)


class _RandomSubsets:
    """Random subsets: size s with probability C(k, s) / (2**k - 1), then s studies."""

    def __init__(self, k: int, n: int, seed) -> None:
        self.k = k
        self.rng = np.random.default_rng(seed)
        sizes = np.arange(1, k + 1)
        # binomial(k, 1/2) probabilities of the sizes, on the log scale (no overflow in k)
        prob = np.exp(
            special.gammaln(k + 1)
            - special.gammaln(sizes + 1)
            - special.gammaln(k - sizes + 1)
            - k * np.log(2.0)
        )
        # drawn once and sorted, so that rows come out by size and the draw does not
        # depend on the chunk size
        self.sizes = np.sort(self.rng.choice(sizes, size=n, p=prob / prob.sum()))

    def __call__(self, start: int, stop: int) -> np.ndarray:
        keys = self.rng.random((stop - start, self.k))
        s = self.sizes[start:stop]
        # the s smallest of k uniform keys are a uniform draw of s studies
        cut = np.sort(keys, axis=1)[np.arange(stop - start), s - 1]
        return keys <= cut[:, None]


class _Progress:
    """Progress on standard error: tqdm when it is installed, else one updating line."""

    def __init__(self, total: int, show: bool) -> None:
        self.total, self.show, self.bar = total, show, None
        if show:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=total, unit="fit", unit_scale=True, desc="gosh", file=sys.stderr)

    def update(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)
        elif self.show:
            print(f"\rgosh: {done:,} / {self.total:,} fits", end="", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.show:
            print(file=sys.stderr)


def _point_density(x: np.ndarray, y: np.ndarray, bins: int) -> np.ndarray:
    """log of the 2-D histogram count at each point, scaled to [0, 1]."""
    if x.size == 0:
        return np.empty(0)
    counts, xe, ye = np.histogram2d(x, y, bins=bins)
    ix = np.clip(np.searchsorted(xe, x, side="right") - 1, 0, bins - 1)
    iy = np.clip(np.searchsorted(ye, y, side="right") - 1, 0, bins - 1)
    d = np.log(counts[ix, iy])
    top = d.max()
    return d / top if top > 0 else np.zeros_like(d)
