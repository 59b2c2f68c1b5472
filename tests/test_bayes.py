"""The Bayesian binomial-normal model (``metaprop.meta_prop_bayes``, issue 21).

Edge cases (0/n, n/n, k = 1, k = 2), the limit tau_scale -> 0 against the common-effect
posterior computed independently by 1-D quadrature, convergence in the resolution, input
checks, the frozen result, and (``needs_r``) the posterior recomputed in R by nested
numerical integration (``integrate``), no metafor needed.
"""

from __future__ import annotations

import dataclasses
import json

import metaprop as mp
import numpy as np
import pytest
import tolerances as tol
from _tools import run_r
from scipy import integrate, optimize, special, stats

DATASETS = {
    "three": ([4, 10, 7], [20, 25, 30]),
    "pritz-like": ([16, 10, 4, 43, 10], [17, 12, 8, 58, 10]),
    "two-rare": ([5, 3], [100, 50]),
    "ten": (list(range(1, 11)), [50] * 10),
    "with-zero": ([0, 3, 9], [25, 40, 60]),
}


def _common_effect_quantiles(x, n, qs, prior_sd=10.0):
    """Quantiles of mu under the common-effect model x_i ~ Bin(n_i, expit(mu)), mu ~
    N(0, prior_sd^2), by adaptive quadrature and root finding (independent of the grid)."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    centre = np.log((x.sum() + 0.5) / (n.sum() - x.sum() + 0.5))

    def logf(mu):
        p = special.expit(mu)
        return (
            np.sum(special.xlogy(x, p) + special.xlogy(n - x, 1 - p)) - 0.5 * (mu / prior_sd) ** 2
        )

    ref = logf(centre)

    def f(mu):
        return np.exp(logf(mu) - ref)

    lo, hi = centre - 40, centre + 40
    total = integrate.quad(f, lo, centre, epsabs=0, epsrel=1e-12, limit=200)[0]
    total += integrate.quad(f, centre, hi, epsabs=0, epsrel=1e-12, limit=200)[0]

    def cdf(m):
        a, b = (lo, m) if m <= centre else (lo, centre)
        val = integrate.quad(f, a, b, epsabs=0, epsrel=1e-12, limit=200)[0]
        if m > centre:
            val += integrate.quad(f, centre, m, epsabs=0, epsrel=1e-12, limit=200)[0]
        return val / total

    return [optimize.brentq(lambda m, q=q: cdf(m) - q, lo + 1, hi - 1, xtol=1e-12) for q in qs]


def test_zero_and_all_events_mirror():
    """0/n and n/n: finite, and the logit model with a prior symmetric about 0 makes the
    n/n result the mirror image of the 0/n one."""
    zero = mp.meta_prop_bayes([0], [20])
    full = mp.meta_prop_bayes([20], [20])
    assert 0 < zero.ci.low < zero.estimate < zero.ci.high < 0.2
    # the grid is not itself symmetric (the CDF integrates from the left): equal to the
    # grid's accuracy on the logit scale
    atol = tol.BAYES_GRID_ATOL
    assert np.isclose(zero.mu, -full.mu, atol=atol)
    assert np.allclose(zero.mu_ci, [-full.mu_ci.high, -full.mu_ci.low], atol=atol)
    assert np.allclose(zero.pi_t, [-full.pi_t.high, -full.pi_t.low], atol=atol)
    assert np.isclose(zero.tau, full.tau, atol=atol)
    # a 0/n study among others pulls the pooled rate down but keeps everything finite
    res = mp.meta_prop_bayes([0, 3, 9], [25, 40, 60])
    assert np.all(np.isfinite([res.estimate, *res.ci, *res.pi, res.tau, *res.tau_ci]))


def test_k1_tau_follows_its_prior():
    """k = 1: with a flat-enough prior on mu the data say nothing about tau (integrating
    mu out of the study's likelihood leaves a constant in tau), so the posterior of tau is
    its half-normal prior: median 0.6745 s, 95% interval (0.0313 s, 2.2414 s)."""
    s = 0.7
    res = mp.meta_prop_bayes([5], [20], tau_scale=s, mu_prior_sd=1e3)
    want = [s * stats.halfnorm.ppf(q) for q in (0.025, 0.5, 0.975)]
    got = [res.tau_ci.low, res.tau, res.tau_ci.high]
    assert np.allclose(got, want, atol=2e-3), (got, want)
    assert res.pi.low < res.ci.low < res.estimate < res.ci.high < res.pi.high
    assert "one study" in res.summary()


def test_k2():
    res = mp.meta_prop_bayes([5, 3], [100, 50])
    assert res.k == 2
    assert res.pi.low < res.ci.low < res.estimate < res.ci.high < res.pi.high
    assert 0 < res.tau_ci.low < res.tau < res.tau_ci.high
    assert np.isclose(res.estimate, special.expit(res.mu))
    assert np.isclose(res.posterior.sum(), 1.0)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_tiny_tau_scale_gives_the_common_effect_posterior(name):
    x, n = DATASETS[name]
    res = mp.meta_prop_bayes(x, n, tau_scale=1e-4)
    want = _common_effect_quantiles(x, n, (0.025, 0.5, 0.975))
    got = [res.mu_ci.low, res.mu, res.mu_ci.high]
    assert np.allclose(got, want, rtol=0, atol=tol.BAYES_LIMIT_ATOL), (got, want)
    # the prediction interval then shrinks onto the credible interval
    assert np.allclose(res.pi_t, res.mu_ci, atol=1e-3)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_resolution_converges(name):
    x, n = DATASETS[name]
    base = mp.meta_prop_bayes(x, n)
    fine = mp.meta_prop_bayes(x, n, n_mu=320, n_tau=160, n_nodes=32)
    fields = ("mu", "mu_ci", "tau", "tau_ci", "pi_t")
    for field in fields:
        a, b = np.atleast_1d(getattr(base, field)), np.atleast_1d(getattr(fine, field))
        atol = tol.BAYES_TAU_GRID_ATOL if field.startswith("tau") else tol.BAYES_GRID_ATOL
        assert np.allclose(a, b, rtol=0, atol=atol), (field, a, b)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tau_scale": 0}, "tau_scale must be a positive finite number"),
        ({"tau_scale": -1.0}, "tau_scale must be a positive finite number"),
        ({"tau_scale": "wide"}, "tau_scale must be a positive number"),
        ({"mu_prior_sd": np.inf}, "mu_prior_sd must be a positive finite number"),
        ({"mu_prior_mean": np.nan}, "mu_prior_mean must be finite"),
        ({"n_mu": 4}, "n_mu must be an integer >= 16"),
        ({"n_nodes": 2.5}, "n_nodes must be an integer >= 4"),
        ({"level": 0}, r"level must be a fraction in \[0\.5, 1\)"),
    ],
)
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        mp.meta_prop_bayes([4, 10], [20, 25], **kwargs)


def test_bad_counts_name_the_study():
    with pytest.raises(ValueError, match=r"index 1 \('B'\): events \(30\) > totals \(25\)"):
        mp.meta_prop_bayes([4, 30], [20, 25], labels=["A", "B"])


def test_data_frame_input_and_output():
    import pandas as pd

    df = pd.DataFrame({"e": [4, 10, 7], "n": [20, 25, 30], "s": ["a", "b", "c"]})
    res = mp.meta_prop_bayes("e", "n", data=df, labels="s")
    assert res.labels == ("a", "b", "c")
    d = res.to_dict()
    assert d["k"] == 3 and d["estimate"] == res.estimate and d["tau_scale"] == 1.0
    assert all(isinstance(v, (int, float, str)) for v in d.values())
    frame = res.to_frame()
    assert frame.shape == (1, len(d))
    assert repr(res).startswith("BayesResult(k=3, estimate=0.2")


def test_result_is_frozen_and_read_only():
    res = mp.meta_prop_bayes([4, 10, 7], [20, 25, 30])
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.estimate = 0.5
    for arr in (res.events, res.totals, res.mu_grid, res.tau_grid, res.posterior):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0


def test_wider_than_the_glmm_z_interval_with_two_studies():
    """The reason the model is in the coverage study: with k = 2 the GLMM's Wald interval
    ignores the uncertainty of tau; the posterior integrates over it."""
    bayes = mp.meta_prop_bayes([5, 3], [100, 50])
    glmm = mp.meta_prop_glmm([5, 3], [100, 50])
    assert bayes.ci.high - bayes.ci.low > glmm.ci.high - glmm.ci.low


# --------------------------------------------------------------------------- R check
R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
jobs <- jsonlite::fromJSON(args[1], simplifyVector = FALSE)$jobs
tol <- 1e-6
# one study's likelihood at (mu, tau): the integral over z of
# dbinom(x, n, plogis(mu + tau z)) dnorm(z), split at the binomial peak
study_lik <- function(x, n, mu, tau) {
  f <- function(z) dbinom(x, n, plogis(mu + tau * z)) * dnorm(z)
  peak <- (qlogis((x + 0.5) / (n + 1)) - mu) / tau
  cuts <- sort(unique(c(-12, min(max(peak, -12), 12), 12)))
  s <- 0
  for (j in seq_len(length(cuts) - 1)) {
    if (cuts[j + 1] > cuts[j]) {
      s <- s + integrate(f, cuts[j], cuts[j + 1], rel.tol = 1e-9, abs.tol = 0,
                         subdivisions = 500L)$value
    }
  }
  s
}
# integral of f over consecutive segments of `cuts` (for a CDF at several points at once)
segments <- function(f, cuts) {
  sapply(seq_len(length(cuts) - 1), function(j)
    integrate(f, cuts[j], cuts[j + 1], rel.tol = tol, subdivisions = 500L)$value)
}
results <- list()
for (job in jobs) {
  x <- unlist(job$events); n <- unlist(job$totals)
  s <- job$tau_scale; m0 <- job$mu_prior_mean; s0 <- job$mu_prior_sd
  c0 <- qlogis((sum(x) + 0.5) / (sum(n) + 1))
  loglik <- function(mu, tau)
    sum(log(mapply(study_lik, x, n, MoreArgs = list(mu = mu, tau = tau))))
  off <- loglik(c0, 0.5)
  post <- function(mu, tau)
    exp(loglik(mu, tau) - off) * dnorm(mu, m0, s0) * 2 * dnorm(tau, 0, s)
  tau_top <- 8.5 * s
  lo <- c0 - 15; hi <- c0 + 15
  # marginal of mu at each point: the integral over tau (w weights the integrand)
  g <- function(mus, w) sapply(mus, function(mu)
    integrate(function(ts) sapply(ts, function(t) post(mu, t) * w(mu, t)), 0, tau_top,
              rel.tol = tol, subdivisions = 500L)$value)
  one <- function(mu, tau) 1
  q <- job$quantiles
  qm <- unlist(q$mu)
  mu_parts <- segments(function(m) g(m, one), c(lo, qm, hi))
  Z <- sum(mu_parts)
  mu_cdf <- cumsum(mu_parts)[seq_along(qm)] / Z
  # marginal of tau at each point: the integral over mu
  h <- function(ts) sapply(ts, function(t)
    integrate(function(ms) sapply(ms, function(m) post(m, t)), lo, hi,
              rel.tol = tol, subdivisions = 500L)$value)
  qt <- unlist(q$tau)
  tau_parts <- segments(h, c(0, qt, tau_top))
  tau_cdf <- cumsum(tau_parts)[seq_along(qt)] / sum(tau_parts)
  pred_cdf <- sapply(unlist(q$pred), function(t0)
    sum(segments(function(m) g(m, function(mu, tau) pnorm((t0 - mu) / tau)),
                 c(lo, qm, hi))) / Z)
  results[[length(results) + 1]] <- list(id = job$id, mu = mu_cdf, tau = tau_cdf,
                                         pred = pred_cdf)
}
writeLines(jsonlite::toJSON(list(results = results), digits = NA, auto_unbox = TRUE), args[2])
"""

R_DATASETS = ("three", "two-rare", "with-zero")


@pytest.fixture(scope="module")
def r_check(tmp_path_factory):
    work = tmp_path_factory.mktemp("bayes_r")
    jobs, fits = [], {}
    for name in R_DATASETS:
        x, n = DATASETS[name]
        res = mp.meta_prop_bayes(x, n)
        fits[name] = res
        jobs.append(
            {
                "id": name,
                "events": x,
                "totals": n,
                "tau_scale": res.tau_scale,
                "mu_prior_mean": res.mu_prior_mean,
                "mu_prior_sd": res.mu_prior_sd,
                "quantiles": {
                    "mu": [res.mu_ci.low, res.mu, res.mu_ci.high],
                    "tau": [res.tau_ci.low, res.tau, res.tau_ci.high],
                    "pred": [res.pi_t.low, res.pi_t.high],
                },
            }
        )
    (work / "run.R").write_text(R_SCRIPT)
    (work / "jobs.json").write_text(json.dumps({"jobs": jobs}))
    run_r(work / "run.R", work / "jobs.json", work / "out.json", timeout=3600)
    out = json.loads((work / "out.json").read_text())["results"]
    return fits, {r["id"]: r for r in out}


@pytest.mark.needs_r
@pytest.mark.parametrize("name", R_DATASETS)
def test_posterior_matches_r_integrate(name, r_check):
    """R's nested ``integrate`` gives back each quantile's probability at metaprop's
    quantiles of mu, tau and a new study's logit."""
    _, ref = r_check
    got = ref[name]
    assert np.allclose(got["mu"], [0.025, 0.5, 0.975], rtol=0, atol=tol.BAYES_R_ATOL), got
    assert np.allclose(got["tau"], [0.025, 0.5, 0.975], rtol=0, atol=tol.BAYES_R_ATOL), got
    assert np.allclose(got["pred"], [0.025, 0.975], rtol=0, atol=tol.BAYES_R_ATOL), got
