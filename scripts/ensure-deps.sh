#!/usr/bin/env bash
# Installs dependencies from the lockfile when node_modules is missing or older than the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

# The console's browser tests drive Debian's chromium (playwright-core with executablePath; Playwright's
# own browser download does not work on these machines). Installed as root with apt-get when missing.
ensure_chromium() {
  local path="${CHROMIUM_PATH:-/usr/bin/chromium}"
  [ -x "$path" ] && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing chromium for the console's browser tests (apt-get)..." >&2
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } >&2
  else
    echo "error: $path is missing; the console's browser tests need it. Run:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium" >&2
    echo "  (or set CHROMIUM_PATH to a Chromium binary)" >&2
    return 1
  fi
}
ensure_chromium
if [ -L node_modules ]; then
  # A shared install (a symlink, as git worktrees use): `npm ci` starts by emptying node_modules, which
  # here would empty the target under every checkout that shares it. Never install through it.
  # Only a missing install record is reported: comparing times would warn after every fresh checkout (the
  # lockfile is then newer than any install, whatever its content).
  if [ ! -e node_modules/.package-lock.json ]; then
    echo "warning: node_modules is a link to $(readlink node_modules) that holds no install (no .package-lock.json);" >&2
    echo "         not installing through it (run npm ci in the checkout that owns it)" >&2
  fi
  exit 0
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "installing dependencies (npm ci)..." >&2
  npm ci --no-audit --no-fund >&2
fi
