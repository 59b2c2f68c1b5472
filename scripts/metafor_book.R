# The book's pooled fits, fitted again with R metafor (issue 13, part 5).
#
#   .venv/bin/python -m review.pipeline.crosscheck tests/fixtures/data_small \
#       tests/fixtures/metafor_book_input.json
#   Rscript scripts/metafor_book.R tests/fixtures/metafor_book_input.json \
#       tests/fixtures/metafor_book.json
#
# The input (written by lib/review/pipeline/crosscheck.py, layout in its docstring) holds, for each
# outcome page and population, the rows the book selected and the model it chose. Row
# selection is the review's; from those rows onward every number is computed here, with
# metafor, without metaprop:
#   * GLMM: rma.glmm(measure = "PLO", xi, ni, method = "ML"), metafor's defaults otherwise
#     (lme4::glmer with nAGQ = 7 and glmerControl() as rma.glmm calls it); Q is the Wald
#     test of the saturated model (QE.Wld), as the book reports it;
#   * inverse-variance logit (the plan's fallback, and the source of the Q-profile CI of I2
#     beside the GLMM): rma(measure = "PLO", xi, ni, method = "REML", test = "adhoc"),
#     escalc's add = 1/2 to = "only0";
#   * survival landmarks: yi = log(-log(S)), vi from the printed CI,
#     ((g(lower) - g(upper)) / (2 qnorm(1 - (1 - level) / 2)))^2, or without a CI from the
#     number analysed by the delta method, g'(S)^2 S (1 - S) / n with g'(S) = 1 / (S log S);
#     then rma(yi, vi, method = "REML", test = "adhoc");
#   * one binary study: its proportion with the Clopper-Pearson interval,
#     binom.test(x, n)$conf.int; one survival estimate: rma(yi, vi, method = "FE"), k = 1;
#   * prediction interval: t with k - 1 df from the plan's minimum k (3) on, NA below it:
#     predict(res, pi.type = "t") (metafor 3.8 takes pi.type through `...`; later
#     versions name it predtype and keep pi.type as an alias), which is
#     beta +/- qt(1 - (1 - level) / 2, k - 1) * sqrt(se^2 + tau2); the script computes
#     that formula too and stops if the two differ;
#   * I2 CI: confint(res)$random["I^2(%)", ] (Q-profile) of the inverse-variance fit.
# Iterative fits use control = list(threshold = 1e-12, tol = 1e-12, maxiter = 10000) and
# confint() tol = 1e-12, so that they hold the optimum rather than metafor's early stop.
# Needs the Debian packages r-base-core r-cran-metafor r-cran-lme4 r-cran-jsonlite.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) != 2) stop("usage: Rscript metafor_book.R INPUT.json OUTPUT.json")
input_path <- argv[1]
output_path <- argv[2]
input <- fromJSON(input_path, simplifyVector = FALSE)
if (!identical(as.integer(input$format), 1L)) stop("input format ", input$format, " is not 1")

CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
CONFINT_CONTROL <- list(tol = 1e-12, maxiter = 10000)
LEVEL <- as.numeric(input$source$level)
PI_RULE <- input$source$prediction_interval
if (!identical(PI_RULE$dist, "t(k-1)")) stop("only the t(k-1) prediction interval is implemented")
PI_MIN_K <- as.integer(PI_RULE$min_k)
Z <- qnorm(1 - (1 - LEVEL) / 2)

FIELDS <- c("estimate", "ci_low", "ci_high", "pi_low", "pi_high", "tau2", "i2", "i2_ci_low",
            "i2_ci_high", "q", "q_pvalue", "estimate_t", "se_t")

# ---- small utilities -------------------------------------------------------------------

val <- function(x) if (is.null(x) || length(x) == 0) NA_real_ else unname(as.numeric(x))
column <- function(studies, name) vapply(studies, function(s) val(s[[name]]), numeric(1))

# Evaluate expr, collecting its warnings (kept in the output) instead of printing them.
WARNINGS <- character(0)
quietly <- function(expr) {
  withCallingHandlers(expr, warning = function(w) {
    WARNINGS <<- c(WARNINGS, conditionMessage(w))
    invokeRestart("muffleWarning")
  })
}

# Back-transformation of an analysis-scale interval to proportions; cloglog decreases, so
# its bounds swap.
back <- function(x, scale) switch(scale, logit = transf.ilogit(x), cloglog = exp(-exp(x)))
back_interval <- function(lo, hi, scale) sort(back(c(lo, hi), scale))

# The prediction interval the book shows: t(k - 1), NA below the plan's minimum k.
prediction <- function(res, scale) {
  if (res$k < PI_MIN_K) return(c(NA_real_, NA_real_))
  pr <- predict(res, level = 100 * LEVEL, pi.type = "t")
  half <- qt(1 - (1 - LEVEL) / 2, df = res$k - 1) * sqrt(val(res$se)^2 + val(res$tau2))
  by_hand <- val(res$beta) + c(-1, 1) * half
  if (!isTRUE(all.equal(c(val(pr$pi.lb), val(pr$pi.ub)), by_hand, tolerance = 1e-12)))
    stop("predict(pi.type = 't') differs from beta +/- qt(k - 1) sqrt(se^2 + tau2)")
  back_interval(val(pr$pi.lb), val(pr$pi.ub), scale)
}

# Q-profile CI of I2 (percent) of an inverse-variance fit.
i2_interval <- function(res) {
  ci <- quietly(confint(res, level = 100 * LEVEL, control = CONFINT_CONTROL))
  val(ci$random["I^2(%)", c("ci.lb", "ci.ub")])
}

# The common fields of a pooled fit: estimate and CI from predict(), heterogeneity.
pooled <- function(res, scale, q, q_pvalue, iv) {
  pr <- predict(res, level = 100 * LEVEL)
  ci <- back_interval(val(pr$ci.lb), val(pr$ci.ub), scale)
  pi <- prediction(res, scale)
  i2ci <- i2_interval(iv)
  list(estimate = back(val(pr$pred), scale), ci_low = ci[1], ci_high = ci[2],
       pi_low = pi[1], pi_high = pi[2], tau2 = val(res$tau2), i2 = val(res$I2),
       i2_ci_low = i2ci[1], i2_ci_high = i2ci[2], q = val(q), q_pvalue = val(q_pvalue),
       estimate_t = val(res$beta), se_t = val(res$se))
}

check_model <- function(model, measure, method, test) {
  if (!identical(c(model$measure, model$method, model$test), c(measure, method, test)))
    stop("unexpected model ", model$measure, "/", model$method, "/", model$test)
}

# ---- the fits --------------------------------------------------------------------------

inverse_variance_logit <- function(xi, ni, model) {
  check_model(model, "PLO", "REML", "adhoc")
  quietly(rma(measure = "PLO", xi = xi, ni = ni, method = "REML", test = "adhoc",
              level = 100 * LEVEL, control = CONTROL))
}

binary_fit <- function(case) {
  xi <- column(case$studies, "events")
  ni <- column(case$studies, "total")
  if (!is.null(case$single)) {
    if (!identical(case$single, "exact")) stop("single-study CI ", case$single, " unknown")
    ci <- binom.test(xi, ni, conf.level = LEVEL)$conf.int
    return(list(fit = list(estimate = xi / ni, ci_low = ci[1], ci_high = ci[2]),
                calls = "binom.test(x, n, conf.level)$conf.int (Clopper-Pearson)"))
  }
  iv <- inverse_variance_logit(xi, ni, case$i2_ci_model)
  if (case$model$method == "GLMM") {
    # the plan's interval for k studies: a Wald (z) or a t(k-1) interval
    test <- case$model$test
    check_model(case$model, "PLO", "GLMM", if (identical(test, "t")) "t" else "z")
    res <- quietly(rma.glmm(measure = "PLO", xi = xi, ni = ni, method = "ML", test = test,
                            level = 100 * LEVEL))
    fit <- pooled(res, "logit", res$QE.Wld, res$QEp.Wld, iv)
    calls <- c(sprintf("rma.glmm(measure = 'PLO', xi, ni, method = 'ML', test = '%s')", test),
               "Q = QE.Wld, p = QEp.Wld",
               "I2 CI: confint(rma(measure = 'PLO', xi, ni, method = 'REML', test = 'adhoc'))")
  } else {
    fit <- pooled(iv, "logit", iv$QE, iv$QEp, iv)
    calls <- c("rma(measure = 'PLO', xi, ni, method = 'REML', test = 'adhoc')",
               "I2 CI: confint(res)")
  }
  list(fit = fit, calls = c(calls, "predict(res, pi.type = 't')"))
}

# Effect sizes of reported survival on the complementary log-log scale.
cloglog_effects <- function(studies) {
  s <- column(studies, "estimate")
  lo <- column(studies, "ci_low")
  hi <- column(studies, "ci_high")
  n <- column(studies, "n_analysed")
  g <- function(p) log(-log(p))
  dg <- function(p) 1 / (p * log(p))
  with_ci <- !is.na(lo) & !is.na(hi)
  vi <- ifelse(with_ci, ((g(lo) - g(hi)) / (2 * Z))^2, dg(s)^2 * s * (1 - s) / n)
  list(yi = g(s), vi = vi)
}

survival_fit <- function(case) {
  if (!identical(case$scale, "cloglog")) stop("survival scale ", case$scale, " unknown")
  eff <- cloglog_effects(case$studies)
  if (!is.null(case$single)) {
    res <- rma(eff$yi, eff$vi, method = "FE", level = 100 * LEVEL)
    ci <- back_interval(val(res$ci.lb), val(res$ci.ub), "cloglog")
    return(list(fit = list(estimate = back(val(res$beta), "cloglog"), ci_low = ci[1],
                           ci_high = ci[2]),
                calls = "rma(yi, vi, method = 'FE') with k = 1"))
  }
  check_model(case$model, "GEN", "REML", "adhoc")
  res <- quietly(rma(eff$yi, eff$vi, method = "REML", test = "adhoc", level = 100 * LEVEL,
                     control = CONTROL))
  list(fit = pooled(res, "cloglog", res$QE, res$QEp, res),
       calls = c("rma(yi, vi, method = 'REML', test = 'adhoc')", "I2 CI: confint(res)",
                 "predict(res, pi.type = 't')"))
}

run_case <- function(case) {
  WARNINGS <<- character(0)
  out <- list(id = case$id, outcome = case$outcome, population = case$population,
              page = case$page, csv = case$csv, k = length(case$studies),
              patients = if (case$kind == "binary") sum(column(case$studies, "total"))
                         else sum(column(case$studies, "n_analysed")),
              model = if (is.null(case$model)) "none" else case$model$label,
              model_id = if (is.null(case$model)) "none" else case$model$id,
              single = case$single,
              # the book reports another model's rate (the Bayesian headline): metafor
              # checks the GLMM beside it
              headline = case$headline)
  if (out$k != case$k) stop(case$id, ": k = ", case$k, " but ", out$k, " studies")
  empty <- setNames(as.list(rep(NA_real_, length(FIELDS))), FIELDS)
  if (out$k == 0) return(c(out, empty, list(calls = I(character(0)))))
  done <- if (case$kind == "binary") binary_fit(case) else survival_fit(case)
  fields <- modifyList(empty, done$fit)
  out <- c(out, fields[FIELDS], list(calls = I(done$calls)))
  if (length(WARNINGS)) out$warnings <- I(unique(WARNINGS))
  out
}

# ---- provenance and output -------------------------------------------------------------

script_path <- normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE),
                                                      value = TRUE)))
results <- lapply(input$cases, run_case)

out <- list(
  source = list(
    generator = "scripts/metafor_book.R",
    r_version = as.character(getRversion()),
    metafor_version = as.character(packageVersion("metafor")),
    lme4_version = as.character(packageVersion("lme4")),
    jsonlite_version = as.character(packageVersion("jsonlite")),
    date = format(Sys.time(), "%Y-%m-%dT%H:%M:%SZ", tz = "UTC"),
    script_md5 = unname(tools::md5sum(script_path)),
    input = basename(input_path),
    input_md5 = unname(tools::md5sum(input_path)),
    data_dir = input$source$data_dir,
    level = LEVEL,
    prediction_interval = PI_RULE,
    control = CONTROL,
    confint_control = CONFINT_CONTROL,
    glmm_control = "rma.glmm defaults: lme4::glmer(nAGQ = 7, control = glmerControl())"),
  results = results)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, null = "null", na = "null",
                  pretty = TRUE), output_path)
