# metafor's fits for the features of issue 26 (item 4, part A): the log proportion (PLN),
# user-supplied weights (rma(weights=)), the tau^2 estimators HSk, SJIT, DLIT, PMM and GENQ,
# and trim-and-fill on datasets whose effects tie.
#
#   Rscript scripts/metafor_features.R JOBS.json OUTPUT.json
#
# Used twice: with scripts/metafor_features_inputs.json to pin tests/fixtures/metafor_features.json
# (tests/test_metafor_features.py), and by the same test module with seeded random jobs
# against the installed metafor (needs_r). Each job is
#   {id, measure ("PLN", "PLO", ... or "GEN" with yi, vi), events, totals, method, test,
#    weights (optional), trimfill (optional: "L0" or "R0"), regtest (optional: true),
#    as_is (optional: true, see DLIT below)}
# and its result holds escalc()'s yi and vi, the rma() fit, weights(), predict() on the
# analysis scale and back-transformed to a proportion (exp for PLN; PFT at the harmonic mean
# of the totals), for trimfill jobs k0 and side (or trimfill_error), and for regtest jobs
# regtest()'s statistic, p-value and limit estimate.
# Iterative fits use tight stopping rules (CONTROL) so that each holds the optimum.
# metafor before 4.6-0 iterated DLIT with the update (Q - (k - 1)) / tr(P), whose fixed point
# is not the Paule-Mandel estimate; metafor 4.6-0 (commit 83c02765, 2024-01-12) changed it to
# (Q - tr(PV)) / tr(P), "when this converges, same as PM" (rma.uni.r). With an older metafor a
# DLIT job is fitted as PM and says so in `fitted_method`, unless the job has `as_is: true`
# (tests/test_metafor_features.py then checks which update the installed metafor iterates).
# Needs the Debian packages r-base-core r-cran-metafor r-cran-jsonlite.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) != 2) stop("usage: Rscript metafor_features.R JOBS.json OUTPUT.json")

CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
NEW_DLIT <- packageVersion("metafor") >= "4.6.0"

num <- function(x) if (is.null(x)) NULL else as.numeric(unlist(x))

fit_job <- function(job) {
  if (job$measure == "GEN") {
    yi <- num(job$yi)
    vi <- num(job$vi)
  } else {
    es <- escalc(measure = job$measure, xi = num(job$events), ni = num(job$totals))
    yi <- as.numeric(es$yi)
    vi <- as.numeric(es$vi)
  }
  method <- job$method
  if (method == "DLIT" && !NEW_DLIT && !isTRUE(job$as_is)) method <- "PM"
  w <- num(job$weights)
  args <- list(yi = yi, vi = vi, method = method, test = job$test, control = CONTROL)
  if (!is.null(w)) args$weights <- w
  fit <- suppressWarnings(do.call(rma, args))
  pred <- predict(fit)
  # an FE fit has no prediction interval: metafor's predict() gives the CI's bounds only
  pi_t <- if (is.null(pred$pi.lb)) c(pred$ci.lb, pred$ci.ub) else c(pred$pi.lb, pred$pi.ub)
  ni <- num(job$totals)
  # back-transformation to a proportion (PFT at the harmonic mean of the totals)
  back <- function(x) {
    switch(job$measure,
      PR = , GEN = x,
      PLN = exp(x),
      PLO = transf.ilogit(x),
      PAS = transf.iarcsin(x),
      PFT = transf.ipft.hm(x, targs = list(ni = ni)))
  }
  out <- list(
    id = job$id, fitted_method = method, yi = yi, vi = vi, k = fit$k,
    estimate_t = as.numeric(fit$beta), se_t = fit$se, ci_t = c(fit$ci.lb, fit$ci.ub),
    stat = fit$zval, pval = fit$pval, tau2 = fit$tau2,
    se_tau2 = if (is.null(fit$se.tau2) || is.na(fit$se.tau2)) NA else fit$se.tau2,
    I2 = fit$I2, H2 = fit$H2, QE = fit$QE, QEp = fit$QEp,
    weights = as.numeric(weights(fit)),
    pi_t = pi_t,
    estimate = back(as.numeric(fit$beta)), ci = back(c(fit$ci.lb, fit$ci.ub)),
    pi = back(pi_t)
  )
  if (isTRUE(job$regtest)) {
    # Egger's test with the fitted method (meta-regression on the standard errors)
    rt <- suppressWarnings(regtest(fit))
    out$regtest <- list(zval = rt$zval, pval = rt$pval, est = as.numeric(rt$est))
  }
  if (!is.null(job$trimfill)) {
    tf <- tryCatch(suppressWarnings(trimfill(fit, estimator = job$trimfill)),
                   error = function(e) conditionMessage(e))
    if (is.character(tf)) {
      out$trimfill_error <- tf
    } else {
      out$k0 <- tf$k0
      out$side <- tf$side
    }
  }
  out
}

jobs <- fromJSON(argv[1], simplifyVector = FALSE)$jobs
results <- lapply(jobs, function(job) {
  tryCatch(fit_job(job), error = function(e) list(id = job$id, error = conditionMessage(e)))
})

script <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
out <- list(
  source = list(
    generator = "scripts/metafor_features.R",
    script_md5 = unname(tools::md5sum(script)),
    r_version = R.version.string,
    metafor_version = as.character(packageVersion("metafor")),
    dlit = if (NEW_DLIT) "metafor DLIT" else "metafor < 4.6-0: DLIT jobs fitted as PM",
    control = CONTROL
  ),
  results = results
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null", pretty = TRUE),
           argv[2])
