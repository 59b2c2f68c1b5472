# metafor's leave1out() Q and its p-value, and rma(mods = ~ group)'s residual heterogeneity
# test (QE, its df and p), pinned for tests/test_metaprop_api.py (issue 26, item 3).
#
#   Rscript scripts/metafor_api_reference.R tests/fixtures/metafor_proportions.json \
#       tests/fixtures/metafor_api.json
#
# Reads the effect sizes (yi, vi) of every case of the vendored reference, so both files
# describe the same fits, and refits them with the same tight stopping rules. For each case:
# leave1out(rma(yi, vi, method, test)) -> Q, Qp, stat (zval, or tval for knha), pval, H2
# per omitted study; for the datasets with groups, rma(yi, vi, mods = ~ g, method, test)
# -> QE, QEp, k - p (and QM, QMp).
# Needs the Debian packages r-base-core r-cran-metafor r-cran-jsonlite.

suppressMessages({
  library(metafor)
  library(jsonlite)
})

argv <- commandArgs(trailingOnly = TRUE)
if (length(argv) != 2) stop("usage: Rscript metafor_api_reference.R REFERENCE.json OUTPUT.json")

ctrl <- list(threshold = 1e-12, tol = 1e-12, maxiter = 10000)
num <- function(x) unname(as.numeric(x))
ref <- fromJSON(argv[1], simplifyVector = FALSE)

cases <- list()
for (ds in ref$datasets) {
  groups <- if (is.null(ds$groups)) NULL else unlist(ds$groups)
  for (case in ds$cases) {
    yi <- unlist(case$yi)
    vi <- unlist(case$vi)
    res <- rma(yi, vi, method = case$method, test = case$test, control = ctrl)
    out <- list(dataset = ds$name, measure = case$measure, method = case$method,
                test = case$test)
    l1 <- leave1out(res)
    stat <- if (case$test == "z") l1$zval else l1$tval
    out$leave1out <- list(Q = num(l1$Q), Qp = num(l1$Qp), stat = num(stat),
                          pval = num(l1$pval), H2 = num(l1$H2))
    if (!is.null(groups)) {
      g <- factor(groups)
      mr <- tryCatch(rma(yi, vi, mods = ~ g, method = case$method, test = case$test,
                         control = ctrl), error = function(e) NULL)
      if (!is.null(mr)) {
        out$moderator <- list(QE = num(mr$QE), QEp = num(mr$QEp), QE_df = mr$k - mr$p,
                              QM = num(mr$QM), QMp = num(mr$QMp))
      }
    }
    cases[[length(cases) + 1]] <- out
  }
}

result <- list(
  source = list(
    generator = "scripts/metafor_api_reference.R",
    input = "tests/fixtures/metafor_proportions.json (yi, vi, method, test of every case)",
    call = paste("leave1out(rma(yi, vi, method, test, control));",
                 "rma(yi, vi, mods = ~ factor(groups), method, test, control)"),
    control = ctrl,
    R = as.character(getRversion()),
    metafor = as.character(packageVersion("metafor")),
    date = format(Sys.time(), "%Y-%m-%d", tz = "UTC")
  ),
  cases = cases
)
writeLines(toJSON(result, auto_unbox = TRUE, digits = NA, na = "null"), argv[2])
