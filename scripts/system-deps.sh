#!/usr/bin/env bash
# Debian packages the full test suite uses: R with pROC (reference statistics) and
# Chromium (browser tests of the app) and PostgreSQL (the store tests start a throwaway
# server on loopback).
# Installs only what is missing, and only when running as root with apt-get; otherwise it
# says what is missing and the tests that need it are skipped with that reason.
set -euo pipefail
packages=(r-base-core r-cran-proc chromium chromium-driver postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "system-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "system-deps: not installed (tests needing them will be skipped): ${missing[*]}" >&2
fi
