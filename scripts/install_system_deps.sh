#!/usr/bin/env bash
# Installs the system tools that cross-checks and browser tests need, from Debian:
# R with metafor, lme4 and jsonlite (metafor cross-checks, benchmarks), Chromium
# with its driver (browser tests), and the fonts that draw study labels in any script in
# the plots and in the browser: Noto Sans CJK (Chinese, Japanese, Korean) and Unifont
# (emoji and other symbols; review.book.FONTS lists the fonts the plots use).
# Skips what is already there.
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
[ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || need+=(fonts-noto-cjk)
[ -f /usr/share/fonts/opentype/unifont/unifont_upper.otf ] || need+=(fonts-unifont)
if [ ${#need[@]} -eq 0 ]; then
  echo "system deps: R, metafor, lme4, jsonlite, chromium, chromedriver, fonts already present"
  exit 0
fi
echo "system deps: installing ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "system deps: done"
