# Batch of metafor fits for the live cross-check (tests/test_live_metafor.py).
#
#   Rscript scripts/metafor_crosscheck.R JOBS.json RESULTS.json
#
# JOBS.json: {"jobs": [{"id": ..., "measure": "PR"|"PLO"|"PAS"|"PFT", "events": [...],
#                       "totals": [...], "method": ..., "test": ...},
#                      {"id": ..., "measure": "GEN", "scale": "identity"|"logit"|..., "yi": [...],
#                       "vi": [...], "method": ..., "test": ...}, ...]}
# Every job is fitted with rma(yi, vi, method, test) under tight control; one R process
# runs the whole batch because R's start-up dominates the cost of a single fit.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) != 2) stop("usage: Rscript metafor_crosscheck.R JOBS.json RESULTS.json")
jobs <- fromJSON(argv[1], simplifyVector = FALSE)$jobs

CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)

num <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else unname(as.numeric(x))
nums <- function(x) vapply(x, as.numeric, numeric(1))

# Back-transformation to the proportion scale; PFT uses the harmonic mean of the totals.
to_proportion <- function(x, scale, ni) {
  switch(scale,
    PR = , identity = x,
    PLO = , logit = transf.ilogit(x),
    PAS = , arcsine = transf.iarcsin(x),
    PFT = transf.ipft.hm(x, targs = list(ni = ni)),
    cloglog = exp(-exp(x)))
}
interval <- function(lo, hi, scale, ni) sort(to_proportion(c(lo, hi), scale, ni), na.last = TRUE)

run_job <- function(job) {
  out <- list(id = job$id)
  if (job$measure == "GEN") {
    yi <- nums(job$yi)
    vi <- nums(job$vi)
    ni <- NULL
    scale <- job$scale
  } else {
    ni <- nums(job$totals)
    es <- escalc(measure = job$measure, xi = nums(job$events), ni = ni)
    yi <- as.numeric(es$yi)
    vi <- as.numeric(es$vi)
    scale <- job$measure
  }
  out$yi <- I(yi)
  out$vi <- I(vi)
  warns <- character(0)
  res <- withCallingHandlers(
    tryCatch(rma(yi, vi, method = job$method, test = job$test, control = CONTROL),
             error = function(e) conditionMessage(e)),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  if (length(warns)) out$warnings <- I(unique(warns))
  if (is.character(res)) {
    out$error <- res
    return(out)
  }
  pr <- predict(res)
  # A fixed-effect model has no prediction interval in predict(); it is the CI (tau^2 = 0).
  pi_lb <- if (is.null(pr$pi.lb)) num(pr$ci.lb) else num(pr$pi.lb)
  pi_ub <- if (is.null(pr$pi.ub)) num(pr$ci.ub) else num(pr$pi.ub)
  c(out, list(
    k = res$k, estimate_t = num(res$beta), se_t = num(res$se),
    ci_t = c(num(res$ci.lb), num(res$ci.ub)), stat = num(res$zval), pval = num(res$pval),
    tau2 = num(res$tau2), I2 = num(res$I2), H2 = num(res$H2), QE = num(res$QE),
    QEp = num(res$QEp), pi_t = c(pi_lb, pi_ub),
    estimate = to_proportion(num(pr$pred), scale, ni),
    ci = interval(num(pr$ci.lb), num(pr$ci.ub), scale, ni),
    pi = interval(pi_lb, pi_ub, scale, ni)))
}

out <- list(
  source = list(r_version = as.character(getRversion()),
                metafor_version = as.character(packageVersion("metafor")),
                control = CONTROL),
  results = lapply(jobs, run_job))
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"), argv[2])
