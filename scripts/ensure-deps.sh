#!/usr/bin/env bash
# Installs dependencies from the lockfile when node_modules is missing or older than the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -L node_modules ]; then
  # A shared install (a symlink, as git worktrees use): `npm ci` starts by emptying node_modules, which
  # here would empty the target under every checkout that shares it. Never install through it.
  if [ ! -e node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "warning: node_modules is a link to $(readlink node_modules) and may be older than package-lock.json;" >&2
    echo "         not installing through it (run npm ci in the checkout that owns it)" >&2
  fi
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi
