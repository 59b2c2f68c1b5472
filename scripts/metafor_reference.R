# Extended metafor reference for metaprop (issue 12, item 8).
#
#   Rscript scripts/metafor_reference.R scripts/reference_inputs.json \
#       tests/fixtures/metafor_extended.json
#
# Covers the grid of the shared reference (every measure x tau^2 estimator x test, with
# Q-profile intervals, leave-one-out, small-study tests, trim-and-fill, subgroups,
# cumulative fits and the GLMM) and adds:
#   * test = "adhoc" (Knapp-Hartung with the variance factor floored at 1),
#   * generic input rma(yi, vi) built from reported percentages with CIs (or the number
#     analysed only) on the cloglog and logit scales,
#   * regtest() with every predictor (sei, vi, ni, ninv, sqrtni, sqrtninv) in both models,
#   * per-study confidence intervals (Clopper-Pearson, Wilson, Wald) and model weights,
#   * a dataset with a single study.
# Needs the Debian packages r-base-core r-cran-metafor r-cran-lme4 r-cran-jsonlite.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) != 2) stop("usage: Rscript metafor_reference.R INPUTS.json OUTPUT.json")
inputs_path <- argv[1]
output_path <- argv[2]
inputs <- fromJSON(inputs_path, simplifyVector = FALSE)

# Tight stopping rules, so that iterative estimators report the optimum rather than the
# point where metafor's defaults (threshold 1e-5, uniroot tol ~1.2e-4) stop.
CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
CONFINT_CONTROL <- list(tol = 1e-12, maxiter = 10000)

BINOMIAL_MEASURES <- c("PR", "PLO", "PAS", "PFT")
METHODS <- c("FE", "DL", "REML", "PM", "ML", "HE", "SJ", "HS", "EB")
TESTS <- c("z", "knha", "adhoc")
PREDICTORS <- c("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")
MODELS <- c("rma", "lm")

# ---- small utilities -------------------------------------------------------------------

# A JSON list (possibly holding nulls) as a numeric vector with NA for null.
as_vec <- function(x) {
  if (is.null(x)) return(NULL)
  vapply(x, function(v) if (is.null(v)) NA_real_ else as.numeric(v), numeric(1))
}

# A metafor value as a plain number (NA when absent).
val <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else unname(as.numeric(x))

# A per-study vector, written as a JSON array even when it has 0 or 1 elements.
per_study <- function(x) if (is.null(x)) NULL else I(unname(x))

# Evaluate expr, keeping its value, its error message (if any) and its warnings.
attempt <- function(expr) {
  warns <- character(0)
  value <- withCallingHandlers(
    tryCatch(expr, error = function(e) structure(conditionMessage(e), class = "failure")),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    })
  list(value = if (inherits(value, "failure")) NULL else value,
       error = if (inherits(value, "failure")) as.character(value) else NULL,
       warnings = unique(warns))
}

# Back-transformation to the proportion scale for a measure (binomial data) or an analysis
# scale (generic data). Returns function(x, ni); ni matters for PFT only (harmonic mean).
back_transform <- function(scale) {
  switch(scale,
    PR = , identity = function(x, ni) x,
    PLO = , logit = function(x, ni) transf.ilogit(x),
    PAS = , arcsine = function(x, ni) transf.iarcsin(x),
    PFT = function(x, ni) transf.ipft.hm(x, targs = list(ni = ni)),
    cloglog = function(x, ni) exp(-exp(x)),
    stop("unknown scale ", scale))
}

# Interval on the proportion scale; a decreasing back-transformation (cloglog) swaps ends.
back_interval <- function(bt, lo, hi, ni) sort(c(bt(lo, ni), bt(hi, ni)), na.last = TRUE)

# ---- generic effect sizes from reported estimates --------------------------------------

# Transformation g and its derivative for the analysis scales of reported proportions.
scale_functions <- list(
  logit = list(g = function(p) log(p / (1 - p)), dg = function(p) 1 / (p * (1 - p))),
  cloglog = list(g = function(p) log(-log(p)), dg = function(p) 1 / (p * log(p))),
  arcsine = list(g = function(p) asin(sqrt(p)), dg = function(p) 1 / (2 * sqrt(p * (1 - p)))),
  identity = list(g = function(p) p, dg = function(p) 1))

# yi = g(p); with a CI, sei = |g(upper) - g(lower)| / (2 z_{1 - alpha/2}); with the number
# analysed only, the delta method on the binomial variance: vi = g'(p)^2 p (1 - p) / n.
generic_effects <- function(ds) {
  f <- scale_functions[[ds$scale]]
  p <- as_vec(ds$estimate) / 100
  lo <- as_vec(ds$ci_low) / 100
  hi <- as_vec(ds$ci_high) / 100
  n <- as_vec(ds$n)
  z <- qnorm(1 - (1 - ds$level) / 2)
  approximate <- is.na(lo) | is.na(hi)
  yi <- f$g(p)
  sei <- abs(f$g(hi) - f$g(lo)) / (2 * z)
  sei[approximate] <- sqrt(f$dg(p[approximate])^2 * p[approximate] * (1 - p[approximate]) /
                             n[approximate])
  list(yi = yi, vi = sei^2, approximate = approximate, ni = n)
}

# ---- records of one fit ----------------------------------------------------------------

fit_record <- function(res, bt, ni) {
  k <- res$k
  pr <- predict(res)
  rec <- list(
    k = k, estimate_t = val(res$beta), se_t = val(res$se),
    ci_t = c(val(res$ci.lb), val(res$ci.ub)), stat = val(res$zval), pval = val(res$pval),
    df = val(res$ddf), tau2 = val(res$tau2), se_tau2 = val(res$se.tau2),
    I2 = val(res$I2), H2 = val(res$H2), QE = val(res$QE), QEp = val(res$QEp),
    weights = per_study(as.numeric(weights(res))),
    estimate = bt(val(pr$pred), ni),
    ci = back_interval(bt, val(pr$ci.lb), val(pr$ci.ub), ni))
  # predict() gives no prediction interval for a fixed-effect model.
  if (!is.null(pr$pi.lb)) {
    rec$pi_t_default <- c(val(pr$pi.lb), val(pr$pi.ub))
    rec$pi_default <- back_interval(bt, val(pr$pi.lb), val(pr$pi.ub), ni)
  }
  # Higgins, Thompson & Spiegelhalter (2009) interval with a t(k-2) quantile, as Stata's
  # metaprop prints it: beta +/- t_{k-2} sqrt(tau^2 + SE^2).
  if (k >= 3) {
    half <- qt(0.975, df = k - 2) * sqrt(val(res$tau2) + val(res$se)^2)
    rec$pi_t_k2 <- val(res$beta) + c(-half, half)
    rec$pi_k2 <- back_interval(bt, rec$pi_t_k2[1], rec$pi_t_k2[2], ni)
  }
  rec
}

regtest_records <- function(res) {
  out <- list()
  for (pred in PREDICTORS) {
    out[[pred]] <- list()
    for (model in MODELS) {
      r <- attempt(regtest(res, model = model, predictor = pred))
      if (is.null(r$value)) {
        out[[pred]][[model]] <- list(error = r$error)
        next
      }
      rt <- r$value
      out[[pred]][[model]] <- list(
        stat = val(rt$zval), pval = val(rt$pval), df = val(rt$dfs),
        limit_estimate = val(rt$est), slope = val(coef(rt$fit)[2]))
    }
  }
  out
}

leave1out_record <- function(res, bt, ni) {
  l1 <- leave1out(res)
  list(estimate_t = val(l1$estimate), se_t = val(l1$se), ci_t_lb = val(l1$ci.lb),
       ci_t_ub = val(l1$ci.ub), tau2 = val(l1$tau2), I2 = val(l1$I2), Q = val(l1$Q),
       estimate = vapply(seq_along(l1$estimate),
                         function(i) bt(val(l1$estimate[i]), ni[-i]), numeric(1)))
}

trimfill_record <- function(res, estimator, bt, ni) {
  tf <- trimfill(res, estimator = estimator, control = CONTROL)
  list(k0 = val(tf$k0), side = tf$side, estimate_t = val(tf$beta), se_t = val(tf$se),
       ci_t = c(val(tf$ci.lb), val(tf$ci.ub)), tau2 = val(tf$tau2),
       filled_yi = per_study(as.numeric(tf$yi[tf$fill])), estimate = bt(val(tf$beta), ni))
}

subgroup_record <- function(dat, groups, method, test, bt, ni) {
  g <- factor(groups)
  fits <- list()
  est <- numeric(0)
  se <- numeric(0)
  for (lev in levels(g)) {
    rows <- which(g == lev)
    m <- if (length(rows) == 1) "FE" else method
    r <- attempt(rma(yi, vi, data = dat[rows, ], method = m, test = test, control = CONTROL))
    if (is.null(r$value)) next
    fits[[lev]] <- fit_record(r$value, bt, ni[rows])
    est <- c(est, val(r$value$beta))
    se <- c(se, val(r$value$se))
  }
  # Q between: the fixed-effect heterogeneity statistic of the subgroup estimates.
  w <- 1 / se^2
  qb <- sum(w * (est - sum(w * est) / sum(w))^2)
  rec <- list(subgroups = fits,
              q_between = list(Q = qb, df = length(est) - 1,
                               pval = pchisq(qb, df = length(est) - 1, lower.tail = FALSE)))
  mr <- attempt(rma(yi, vi, mods = ~ g, data = dat, method = method, test = test,
                    control = CONTROL))
  if (!is.null(mr$value)) {
    rec$moderator_test <- list(QM = val(mr$value$QM), QMp = val(mr$value$QMp),
                               tau2 = val(mr$value$tau2))
  }
  rec
}

# ---- one case: a dataset analysed with one measure/scale, method and test --------------

run_case <- function(dat, ni, measure, scale, method, test, groups, year) {
  bt <- back_transform(scale)
  case <- list(measure = measure, method = method, test = test,
               yi = per_study(val(dat$yi)), vi = per_study(val(dat$vi)))
  fit <- attempt(rma(yi, vi, ni = ni, data = dat, method = method, test = test,
                     control = CONTROL))
  if (length(fit$warnings)) case$warnings <- per_study(fit$warnings)
  if (is.null(fit$value)) {
    case$error <- fit$error
    return(case)
  }
  res <- fit$value
  case$fit <- fit_record(res, bt, ni)
  if (method != "FE" && res$k >= 3) {
    ci <- attempt(confint(res, control = CONFINT_CONTROL))
    if (!is.null(ci$value)) {
      case$tau2_ci_qprofile <- val(ci$value$random["tau^2", c("ci.lb", "ci.ub")])
      case$I2_ci_qprofile <- val(ci$value$random["I^2(%)", c("ci.lb", "ci.ub")])
    } else {
      case$confint_error <- ci$error
    }
  }
  if (res$k >= 2) case$leave1out <- leave1out_record(res, bt, ni)
  if (res$k >= 3) {
    case$regtest <- regtest_records(res)
    eg <- case$regtest$sei
    case$egger_rma <- list(stat = eg$rma$stat, pval = eg$rma$pval)
    case$egger_lm <- list(stat = eg$lm$stat, pval = eg$lm$pval, df = eg$lm$df,
                          limit_estimate = eg$lm$limit_estimate, slope_sei = eg$lm$slope)
    # ranktest() warns that ties preclude the exact p-value; it then uses the normal one.
    rk <- suppressWarnings(ranktest(res))
    case$begg <- list(tau = val(rk$tau), pval = val(rk$pval))
    for (estimator in c("L0", "R0")) {
      tf <- attempt(trimfill_record(res, estimator, bt, ni))
      key <- paste0("trimfill_", estimator)
      if (!is.null(tf$value)) case[[key]] <- tf$value else case[[paste0(key, "_error")]] <- tf$error
    }
  }
  if (!is.null(groups) && method %in% c("DL", "REML") && test == "z") {
    case <- c(case, subgroup_record(dat, groups, method, test, bt, ni))
  }
  if (!is.null(year) && method == "REML" && test == "z") {
    # cumul(order = year): studies enter by ascending year, ties in input order.
    cu <- cumul(res, order = year)
    case$cumulative <- list(order_by = year, order = order(year),
                            estimate_t = val(cu$estimate), ci_t_lb = val(cu$ci.lb),
                            ci_t_ub = val(cu$ci.ub), tau2 = val(cu$tau2), I2 = val(cu$I2))
  }
  case
}

method_test_grid <- function() {
  grid <- list()
  for (method in METHODS) for (test in TESTS) {
    if (method == "FE" && test != "z") next
    grid[[length(grid) + 1]] <- c(method = method, test = test)
  }
  grid
}

# ---- per-study confidence intervals ----------------------------------------------------

study_ci_record <- function(xi, ni, level) {
  exact <- t(vapply(seq_along(xi), function(i)
    as.numeric(binom.test(xi[i], ni[i], conf.level = level)$conf.int), numeric(2)))
  # prop.test without continuity correction gives the Wilson score interval.
  wilson <- t(vapply(seq_along(xi), function(i)
    as.numeric(suppressWarnings(prop.test(xi[i], ni[i], conf.level = level,
                                          correct = FALSE))$conf.int), numeric(2)))
  # Wald: p +/- z sqrt(p (1 - p) / n), no continuity correction, not truncated.
  raw <- escalc(measure = "PR", xi = xi, ni = ni, add = 0, to = "none")
  wald <- summary(raw, level = 100 * level)
  list(level = level,
       proportion = per_study(val(raw$yi)),
       exact = list(low = per_study(exact[, 1]), high = per_study(exact[, 2])),
       wilson = list(low = per_study(wilson[, 1]), high = per_study(wilson[, 2])),
       wald = list(low = per_study(val(wald$ci.lb)), high = per_study(val(wald$ci.ub))))
}

glmm_record <- function(xi, ni) {
  r <- attempt(rma.glmm(measure = "PLO", xi = xi, ni = ni, method = "ML"))
  if (is.null(r$value)) return(list(error = r$error))
  res <- r$value
  pr <- predict(res)
  list(estimate_t = val(res$beta), se_t = val(res$se), tau2 = val(res$tau2),
       estimate = transf.ilogit(val(pr$pred)),
       ci = transf.ilogit(c(val(pr$ci.lb), val(pr$ci.ub))),
       pi = transf.ilogit(c(val(pr$pi.lb), val(pr$pi.ub))),
       QE_wald = val(res$QE.Wld), QE_lrt = val(res$QE.LRT), I2 = val(res$I2))
}

# ---- datasets --------------------------------------------------------------------------

binomial_dataset <- function(ds, levels) {
  xi <- as_vec(ds$events)
  ni <- as_vec(ds$totals)
  groups <- if (is.null(ds$groups)) NULL else unlist(ds$groups)
  year <- if (is.null(ds$year)) NULL else as_vec(ds$year)
  cases <- list()
  for (measure in BINOMIAL_MEASURES) {
    dat <- escalc(measure = measure, xi = xi, ni = ni)
    for (mt in method_test_grid()) {
      cases[[length(cases) + 1]] <- run_case(dat, ni, measure, measure, mt[["method"]],
                                             mt[["test"]], groups, year)
    }
  }
  list(name = ds$name, kind = "binomial", events = per_study(xi), totals = per_study(ni),
       groups = per_study(groups), year = per_study(year), cases = cases, glmm = glmm_record(xi, ni),
       study_ci = lapply(levels, function(lv) study_ci_record(xi, ni, lv)))
}

generic_dataset <- function(ds) {
  eff <- generic_effects(ds)
  dat <- data.frame(yi = eff$yi, vi = eff$vi)
  cases <- lapply(method_test_grid(), function(mt)
    run_case(dat, eff$ni, "GEN", ds$scale, mt[["method"]], mt[["test"]], NULL, NULL))
  list(name = ds$name, kind = "generic", scale = ds$scale, level = ds$level,
       labels = per_study(unlist(ds$labels)), estimate = per_study(as_vec(ds$estimate)),
       ci_low = per_study(as_vec(ds$ci_low)), ci_high = per_study(as_vec(ds$ci_high)),
       n = per_study(eff$ni), yi = per_study(eff$yi), vi = per_study(eff$vi),
       approximate = per_study(eff$approximate), cases = cases)
}

# ---- provenance and output -------------------------------------------------------------

script_path <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE),
                                                      value = TRUE)))
levels <- as_vec(inputs$levels)
datasets <- c(lapply(inputs$binomial, binomial_dataset, levels = levels),
              lapply(inputs$generic, generic_dataset))

out <- list(
  source = list(
    generator = "scripts/metafor_reference.R",
    r_version = as.character(getRversion()),
    metafor_version = as.character(packageVersion("metafor")),
    lme4_version = as.character(packageVersion("lme4")),
    jsonlite_version = as.character(packageVersion("jsonlite")),
    date = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
    script_md5 = unname(tools::md5sum(script_path)),
    inputs = basename(inputs_path),
    inputs_md5 = unname(tools::md5sum(inputs_path)),
    control = CONTROL,
    confint_control = CONFINT_CONTROL,
    grid = list(measures = BINOMIAL_MEASURES, methods = METHODS, tests = TESTS,
                fe_tests = "z", predictors = PREDICTORS, models = MODELS),
    calls = list(
      effects = "escalc(measure, xi, ni)  (add = 1/2, to = 'only0')",
      generic = paste("yi = g(p); vi = ((g(upper) - g(lower)) / (2 qnorm(1 - (1 - level)/2)))^2,",
                      "or g'(p)^2 p (1 - p) / n without a CI; g = log(-log(p)) or qlogis(p)"),
      fit = "rma(yi, vi, ni = ni, method, test, control = control)",
      predict = "predict(res)",
      weights = "weights(res)",
      confint = "confint(res, control = list(tol = 1e-12, maxiter = 10000))",
      leave1out = "leave1out(res)",
      regtest = "regtest(res, model, predictor)",
      ranktest = "ranktest(res)",
      trimfill = "trimfill(res, estimator, control = control)",
      subgroups = "rma(yi, vi, subset of a level; FE for a single study); rma(yi, vi, mods = ~ factor(group))",
      cumul = "cumul(res, order = year)",
      glmm = "rma.glmm(measure = 'PLO', xi, ni, method = 'ML')",
      study_ci = paste("binom.test(x, n, conf.level)$conf.int;",
                       "prop.test(x, n, conf.level, correct = FALSE)$conf.int;",
                       "summary(escalc('PR', xi, ni, add = 0, to = 'none'), level)"))),
  datasets = datasets)

writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null"),
           output_path)
