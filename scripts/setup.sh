#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine (run as root): Debian packages, the Python venv
# with pinned packages, npm packages for web/. Each step is skipped when already satisfied, so a
# second run takes a few seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

install_debian_packages() {
    local wanted missing=()
    mapfile -t wanted < <(grep -v -E '^\s*(#|$)' scripts/debian-packages.txt)
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' \
            || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        return
    fi
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

python_bin() {
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
            command -v "$candidate"
            return
        fi
    done
    log "Python 3.11 or newer is required"
    exit 1
}

install_python_packages() {
    local stamp digest
    digest=$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -c1-16)
    stamp=".venv/.installed-$digest"
    if [[ -f $stamp ]]; then
        return
    fi
    if [[ ! -x .venv/bin/python ]]; then
        log "creating .venv"
        "$(python_bin)" -m venv .venv
    fi
    log "installing Python packages (pinned)"
    # (This machine's pip config names extra local indexes that may be absent: hide that noise.)
    .venv/bin/python -m pip install -q --disable-pip-version-check \
        -c requirements/constraints.txt -e '.[dev]' \
        2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
    rm -f .venv/.installed-*
    touch "$stamp"
}

install_npm_packages() {
    [[ -f web/package.json ]] || return 0
    local stamp="web/node_modules/.installed-$(sha256sum web/package-lock.json | cut -c1-16)"
    [[ -f $stamp ]] && return
    log "installing npm packages for web/"
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    touch "$stamp"
}

install_debian_packages
install_python_packages
install_npm_packages
