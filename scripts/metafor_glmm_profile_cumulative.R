# metafor features for proportions beyond the base reference (issue 26, item 4):
# the GLMM heterogeneity tests, moderators in the GLMM, profile-likelihood intervals for
# tau^2 and cumulative meta-analysis with studies of the same order value pooled together.
#
#   Rscript scripts/metafor_glmm_profile_cumulative.R scripts/reference_inputs.json \
#       tests/fixtures/metafor_glmm_profile_cumulative.json
#
# Reads the binomial datasets of scripts/reference_inputs.json (those of the shared
# reference) and writes, per dataset:
#   glmm_het   rma.glmm(measure = "PLO", method = "ML"): QE.Wld, QEp.Wld, QE.LRT, QEp.LRT
#   glmm_mods  rma.glmm(measure = "PLO", mods = ..., method = "ML", test = z or t) with the
#              design matrix X (model.matrix, intercept first) it was given
#   tau2_pl    confint(rma(yi, vi, method = ML or REML), type = "PL") at levels 95% and 90%
#   cumul_collapse
#              metafor 3.8 has no cumul(collapse = TRUE) (it came with metafor 4.8-0), so each
#              row is rma() refitted to the studies whose year is <= the row's year: what
#              cumul(collapse = TRUE) computes (metafor's R/cumul.rma.uni.r: for the i-th
#              distinct order value, incl <- is.element(orvar, uorvar[1:i])).
# Needs the Debian packages r-base-core r-cran-metafor r-cran-jsonlite (lme4 for rma.glmm).

suppressMessages({
  library(metafor)
  library(jsonlite)
})

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) != 2) stop("usage: Rscript metafor_glmm_profile_cumulative.R INPUTS.json OUTPUT.json")
inputs <- fromJSON(argv[1], simplifyVector = TRUE)$binomial

CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
LEVELS <- c(0.95, 0.90)

num <- function(x) if (is.null(x)) NULL else as.numeric(x)

glmm_het <- function(d) {
  fit <- rma.glmm(measure = "PLO", xi = d$events, ni = d$totals, method = "ML")
  list(QE_wald = fit$QE.Wld, QEp_wald = fit$QEp.Wld, QE_lrt = fit$QE.LRT,
       QEp_lrt = fit$QEp.LRT, QE_df = fit$QE.df)
}

glmm_mods <- function(d, name, X, test) {
  fit <- rma.glmm(measure = "PLO", xi = d$events, ni = d$totals, mods = X[, -1, drop = FALSE],
                  method = "ML", test = test)
  list(name = name, test = test, X = unname(X), colnames = colnames(X),
       beta = as.numeric(fit$beta), se = as.numeric(fit$se), zval = as.numeric(fit$zval),
       pval = as.numeric(fit$pval), ci_lb = as.numeric(fit$ci.lb),
       ci_ub = as.numeric(fit$ci.ub), vb = unname(fit$vb), tau2 = fit$tau2,
       QM = fit$QM, QMdf = num(fit$QMdf), QMp = fit$QMp, QE_wald = fit$QE.Wld,
       QEp_wald = fit$QEp.Wld, QE_lrt = fit$QE.LRT, QEp_lrt = fit$QEp.LRT,
       QE_df = fit$QE.df, I2 = fit$I2, H2 = fit$H2,
       loglik = as.numeric(fit$fit.stats["ll", "ML"]))
}

tau2_pl <- function(d) {
  out <- list()
  for (measure in c("PR", "PLO", "PAS", "PFT")) {
    es <- escalc(measure = measure, xi = d$events, ni = d$totals)
    for (method in c("ML", "REML")) {
      fit <- rma(yi, vi, data = es, method = method, control = CONTROL)
      for (level in LEVELS) {
        ci <- confint(fit, type = "PL", level = level, control = list(tol = 1e-12))
        out[[length(out) + 1]] <- list(
          measure = measure, method = method, level = level, tau2 = fit$tau2,
          ci_lb = ci$random["tau^2", "ci.lb"], ci_ub = ci$random["tau^2", "ci.ub"])
      }
    }
  }
  out
}

cumul_collapse <- function(d) {
  out <- list()
  for (measure in c("PLO", "PFT")) {
    es <- escalc(measure = measure, xi = d$events, ni = d$totals)
    for (method in c("DL", "REML")) {
      years <- sort(unique(d$year))
      rows <- lapply(years, function(u) {
        fit <- rma(yi, vi, data = es, subset = d$year <= u, method = method,
                   control = CONTROL)
        list(order = u, k = fit$k, estimate = as.numeric(fit$beta), se = fit$se,
             ci_lb = fit$ci.lb, ci_ub = fit$ci.ub, pval = fit$pval, Q = fit$QE,
             tau2 = fit$tau2, I2 = fit$I2, H2 = fit$H2)
      })
      plain <- cumul(rma(yi, vi, data = es, method = method, control = CONTROL),
                     order = d$year)
      # without collapse (one row per study, ties in input order), for comparison
      out[[length(out) + 1]] <- list(measure = measure, method = method, rows = rows,
                                     plain_estimate = as.numeric(plain$estimate))
    }
  }
  out
}

datasets <- list()
for (i in seq_len(nrow(inputs))) {
  d <- list(name = inputs$name[i], events = inputs$events[[i]], totals = inputs$totals[[i]],
            groups = inputs$groups[[i]], year = inputs$year[[i]])
  if (length(d$events) < 2) next
  rec <- list(name = d$name, events = d$events, totals = d$totals)
  rec$glmm_het <- glmm_het(d)
  mods <- list()
  # moderators from the data themselves: log study size everywhere, and the dataset's
  # year and group where it has them
  X <- cbind(intrcpt = 1, log_totals = log(d$totals))
  if (length(d$events) >= 3) {
    mods[[length(mods) + 1]] <- glmm_mods(d, "log_totals", X, "z")
  }
  if (!is.null(d$year)) {
    X <- cbind(intrcpt = 1, year = d$year)
    for (test in c("z", "t")) mods[[length(mods) + 1]] <- glmm_mods(d, "year", X, test)
    grp <- factor(d$groups)
    X <- model.matrix(~ grp + d$year)
    colnames(X) <- c("intrcpt", paste0("group_", levels(grp)[2]), "year")
    mods[[length(mods) + 1]] <- glmm_mods(d, "group_year", X, "z")
  }
  rec$glmm_mods <- mods
  rec$tau2_pl <- tau2_pl(d)
  if (!is.null(d$year)) {
    rec$year <- d$year
    rec$cumul_collapse <- cumul_collapse(d)
  }
  datasets[[length(datasets) + 1]] <- rec
}

out <- list(
  source = list(
    generator = "scripts/metafor_glmm_profile_cumulative.R",
    inputs = "scripts/reference_inputs.json (binomial datasets with k >= 2)",
    R = as.character(getRversion()),
    metafor = as.character(packageVersion("metafor")),
    lme4 = as.character(packageVersion("lme4")),
    control = CONTROL,
    date = format(Sys.time(), "%Y-%m-%d", tz = "UTC")
  ),
  datasets = datasets
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null", matrix = "rowmajor"),
           argv[2])
