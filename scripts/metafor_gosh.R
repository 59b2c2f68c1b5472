# metafor's gosh() on small datasets, pinned for tests/test_gosh.py (issue 14).
#
#   Rscript scripts/metafor_gosh.R tests/fixtures/metafor_gosh.json
#
# For each dataset (k = 8, so all 255 subsets), measure and method, records every subset's
# membership and gosh()'s k, QE, I2, H2, tau2 and estimate (analysis scale). FE and DL are
# closed forms; REML uses tight stopping rules so that each subset holds the optimum.
# Needs the Debian packages r-base-core r-cran-metafor r-cran-jsonlite.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) != 1) stop("usage: Rscript metafor_gosh.R OUTPUT.json")

CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)

# rare_events is the shared reference dataset (zero-event studies: PLO adds 1/2);
# debruin8 is the first 8 studies of debruin2009 from the same reference.
DATASETS <- list(
  list(name = "rare_events", events = c(0, 1, 3, 0, 2, 5, 1, 0),
       totals = c(25, 40, 60, 18, 33, 120, 45, 30)),
  list(name = "debruin8", events = c(11, 24, 179, 82, 60, 11, 99, 9),
       totals = c(29, 33, 326, 240, 110, 29, 244, 17))
)
MEASURES <- c("PLO", "PFT")
METHODS <- c("FE", "DL", "REML")

cases <- list()
for (d in DATASETS) {
  for (measure in MEASURES) {
    es <- escalc(measure = measure, xi = d$events, ni = d$totals)
    for (method in METHODS) {
      fit <- rma(yi, vi, data = es, method = method, control = CONTROL)
      g <- gosh(fit, progbar = FALSE)
      cases[[length(cases) + 1]] <- list(
        dataset = d$name, events = d$events, totals = d$totals, measure = measure,
        method = method, yi = as.numeric(es$yi), vi = as.numeric(es$vi),
        incl = unname(g$incl * 1L),
        k = g$res$k, QE = g$res$QE, I2 = g$res$I2, H2 = g$res$H2, tau2 = g$res$tau2,
        estimate = g$res$estimate
      )
    }
  }
}

out <- list(
  source = list(
    generator = "scripts/metafor_gosh.R",
    call = "gosh(rma(yi, vi, data = escalc(measure, xi, ni), method, control), progbar = FALSE)",
    control = CONTROL,
    R = as.character(getRversion()),
    metafor = as.character(packageVersion("metafor")),
    date = format(Sys.time(), "%Y-%m-%d", tz = "UTC")
  ),
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA, na = "null"), argv[1])
