#!/usr/bin/env bash
# Installs the system tools that cross-checks and browser tests need, from Debian:
# R with metafor, lme4 and jsonlite (metafor cross-checks, benchmarks) and Chromium
# with its driver (browser tests). Skips what is already there.
set -euo pipefail
need=()
command -v Rscript >/dev/null || need+=(r-base-core)
for pkg in metafor jsonlite lme4; do
  if ! Rscript -e "quit(status = !requireNamespace('$pkg', quietly = TRUE))" >/dev/null 2>&1; then
    need+=("r-cran-$pkg")
  fi
done
command -v chromium >/dev/null || need+=(chromium)
command -v chromedriver >/dev/null || need+=(chromium-driver)
if [ ${#need[@]} -eq 0 ]; then
  echo "system deps: R, metafor, lme4, jsonlite, chromium, chromedriver already present"
  exit 0
fi
echo "system deps: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "system deps: done"
