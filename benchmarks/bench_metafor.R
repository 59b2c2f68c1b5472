# metafor's side of the benchmark (issue 14): called by `python -m benchmarks.run` as
#   Rscript benchmarks/bench_metafor.R INPUTS.json OUTPUT.json REPEATS N_MANY FULL
# Times each row inside this R process (proc.time: elapsed and CPU time) after one warm-up
# call, the median over REPEATS repeats; fast calls are looped so that a repeat lasts
# >= 0.2 s.
# N_MANY: how many of the 10,000 datasets to fit in the "many" row (the time is scaled to
# 10,000 and marked extrapolated when fewer). FULL = 1 also runs GOSH REML on all subsets
# (about 4 minutes); otherwise that row is extrapolated from the 3,000-subset row.
suppressPackageStartupMessages({
  library(metafor)
  library(jsonlite)
})

args <- commandArgs(trailingOnly = TRUE)
inputs <- fromJSON(args[1])
out_path <- args[2]
repeats <- as.integer(args[3])
n_many <- as.integer(args[4])
full <- identical(args[5], "1")

# CPU time of this process (user + system), which other programs on a busy machine
# inflate much less than elapsed time
cpu_now <- function() {
  t <- proc.time()
  t[["user.self"]] + t[["sys.self"]]
}

measure <- function(fn, repeats, warmup = TRUE) {
  inner <- 1L
  if (warmup) {
    start <- proc.time()[["elapsed"]]
    fn()
    once <- proc.time()[["elapsed"]] - start
    inner <- as.integer(min(5000, max(1, floor(0.2 / max(once, 1e-9)))))
  }
  wall <- numeric(repeats)
  cpu <- numeric(repeats)
  for (r in seq_len(repeats)) {
    start_wall <- proc.time()[["elapsed"]]
    start_cpu <- cpu_now()
    for (i in seq_len(inner)) fn()
    cpu[r] <- (cpu_now() - start_cpu) / inner
    wall[r] <- (proc.time()[["elapsed"]] - start_wall) / inner
  }
  list(wall = median(wall), cpu = median(cpu), times_wall = I(wall), times_cpu = I(cpu),
       inner = inner)
}

# a row measured on a fraction of its work, scaled up to the whole
scaled <- function(res, factor, from) {
  for (name in c("wall", "cpu", "times_wall", "times_cpu")) res[[name]] <- res[[name]] * factor
  res$extrapolated_from <- from
  res
}

rows <- list()
report <- function(id, res) {
  rows[[id]] <<- res
  message(sprintf("  metafor   %-18s cpu %.6g s, wall %.6g s", id, res$cpu, res$wall))
}

base <- inputs$base
yi <- base$yi
vi <- base$vi
fit_reml <- rma(yi, vi, method = "REML")
fit_fe <- rma(yi, vi, method = "FE")
fit_dl <- rma(yi, vi, method = "DL")

report("single_reml", measure(function() rma(yi, vi, method = "REML"), repeats))
report("loo_reml", measure(function() leave1out(fit_reml), repeats))

many_yi <- inputs$many$yi
many_vi <- inputs$many$vi
n_total <- nrow(many_yi)
n_many <- min(n_many, n_total)
many <- measure(function() {
  for (j in seq_len(n_many)) rma(many_yi[j, ], many_vi[j, ], method = "REML")
}, repeats, warmup = FALSE)
if (n_many < n_total) many <- scaled(many, n_total / n_many, n_many)
report("many_reml", many)

report("gosh_fe", measure(function() gosh(fit_fe, progbar = FALSE), repeats))
report("gosh_dl", measure(function() gosh(fit_dl, progbar = FALSE), repeats))
gosh3000 <- measure(function() gosh(fit_reml, subsets = 3000, progbar = FALSE, seed = 1), repeats)
report("gosh_reml_3000", gosh3000)
n_all <- 2^length(yi) - 1
if (full) {
  report("gosh_reml_all", measure(function() gosh(fit_reml, progbar = FALSE), 1, warmup = FALSE))
} else {
  report("gosh_reml_all", scaled(gosh3000, n_all / 3000, 3000))
}

events <- base$events
totals <- base$totals
report("glmm", measure(function() {
  rma.glmm(measure = "PLO", xi = events, ni = totals, method = "ML")
}, repeats))
# issue 21: the Bayesian row of metaprop is compared with the same rma.glmm fit
report("bayes", rows[["glmm"]])

version <- sprintf("metafor %s (R %s)", packageVersion("metafor"), getRversion())
writeLines(
  toJSON(list(tool = "metafor", version = version, rows = rows, skipped = list()),
    auto_unbox = TRUE, digits = NA, pretty = TRUE
  ),
  out_path
)
