#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs it.
# Real peers only: OpenSSH sshd, busybox-static chroots, dnsmasq, the govmomi
# vSphere simulator (built with Debian's Go), local HTTPS servers.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(openssh-server busybox-static dnsmasq-base tinyproxy-bin openssl golang-go golang-github-vmware-govmomi-dev sudo chromium)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -e ".[test]"

# Node tools of the tests (tests/package.json): tree-sitter's PowerShell grammar for test_ps_grammar.py.
# Prebuilt linux-x64 binaries ship inside the npm packages; nothing is fetched once installed.
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! tests/node_modules/.readiness-installed -nt tests/package-lock.json ]; then
  npm ci --prefix tests --no-audit --no-fund --loglevel=error >/dev/null
  touch tests/node_modules/.readiness-installed
fi
# Microsoft's SARIF Multitool for test_sarif.py (self-contained .NET build inside the npm package), in tests/.sarif.
if [ ! tests/.sarif/node_modules/.readiness-installed -nt tests/.sarif/package-lock.json ]; then
  npm ci --prefix tests/.sarif --no-audit --no-fund --loglevel=error >/dev/null
  touch tests/.sarif/node_modules/.readiness-installed
fi
.venv/bin/ruff check readiness checks rules tests bench
.venv/bin/pytest -q "$@"
