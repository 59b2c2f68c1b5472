# metafor's fits of parametric-bootstrap datasets, pinned for tests/test_bootstrap.py
# (issue 14).
#
#   Rscript scripts/metafor_bootstrap.R tests/fixtures/metafor_bootstrap.json
#
# From the REML fit of pritz1997 (measure PLO), draws 40 datasets y*_i ~ N(mu, tau2 + v_i)
# with R's own generator (set.seed(14)) and refits each with every tau^2 estimator
# (test = "z", tight stopping rules). Records the draws, each refit's estimate, tau2, I2,
# H2, QE, and the type-7 quantiles of tau2 and I2 at level 0.95.
# Needs the Debian packages r-base-core r-cran-metafor r-cran-jsonlite.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) != 1) stop("usage: Rscript metafor_bootstrap.R OUTPUT.json")

CONTROL <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
METHODS <- c("FE", "DL", "REML", "ML", "PM", "EB", "HE", "SJ", "HS")
N_BOOT <- 40
LEVEL <- 0.95

# pritz1997, from the shared reference datasets
events <- c(16, 10, 4, 43, 10, 25, 13, 12, 22, 4, 5, 18, 58, 6)
totals <- c(17, 12, 8, 58, 10, 42, 14, 12, 41, 5, 6, 23, 68, 10)
es <- escalc(measure = "PLO", xi = events, ni = totals)
base <- rma(yi, vi, data = es, method = "REML", control = CONTROL)
mu <- as.numeric(base$beta)
set.seed(14)
ystar <- t(replicate(N_BOOT, rnorm(length(es$vi), mu, sqrt(base$tau2 + es$vi))))

probs <- c((1 - LEVEL) / 2, (1 + LEVEL) / 2)
refits <- list()
for (method in METHODS) {
  fits <- lapply(seq_len(N_BOOT), function(b) {
    rma(ystar[b, ], es$vi, method = method, control = CONTROL)
  })
  pick <- function(name) vapply(fits, function(f) as.numeric(f[[name]]), numeric(1))
  tau2 <- pick("tau2")
  i2 <- pick("I2")
  refits[[method]] <- list(
    estimate = pick("beta"), se = pick("se"), tau2 = tau2, I2 = i2, H2 = pick("H2"),
    QE = pick("QE"), tau2_quantiles = unname(quantile(tau2, probs, type = 7)),
    I2_quantiles = unname(quantile(i2, probs, type = 7))
  )
}

out <- list(
  source = list(
    generator = "scripts/metafor_bootstrap.R",
    call = "rma(ystar[b, ], vi, method, control); ystar from rnorm(k, mu, sqrt(tau2 + vi))",
    control = CONTROL,
    seed = 14,
    R = as.character(getRversion()),
    metafor = as.character(packageVersion("metafor")),
    date = format(Sys.time(), "%Y-%m-%d", tz = "UTC")
  ),
  events = events, totals = totals, measure = "PLO", level = LEVEL,
  base = list(method = "REML", estimate = mu, tau2 = base$tau2),
  yi = as.numeric(es$yi), vi = as.numeric(es$vi),
  ystar = unname(ystar),
  refits = refits
)
writeLines(toJSON(out, auto_unbox = TRUE, digits = NA), argv[1])
