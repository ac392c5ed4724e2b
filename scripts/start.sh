#!/usr/bin/env bash
# Runs the product locally: starts the services when they are down, installs and builds, migrates, starts the control plane.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/services.sh ensure || { echo "then run npm start again" >&2; exit 1; }
npm run --silent build
mkdir -p .edgefleet
if [ -z "${ADMIN_API_KEY:-}" ]; then
  # A local admin key, generated once and kept out of the repo (.edgefleet/ is git-ignored).
  [ -s .edgefleet/admin-key ] || (umask 077 && node -e "console.log('efk_' + require('crypto').randomBytes(32).toString('base64url'))" > .edgefleet/admin-key)
  ADMIN_API_KEY=$(cat .edgefleet/admin-key)
  export ADMIN_API_KEY
fi
keys_dir=${KEYS_DIR:-.edgefleet/keys}
# Operator signing keys, created once (0600 files, outside the database and the repo).
[ -s "$keys_dir/root.json" ] || npm run --silent keys -- init --dir "$keys_dir" > /dev/null
npm run --silent migrate
port=${PORT:-3000}
cat <<MSG

  EdgeFleet control plane on http://127.0.0.1:${port}
    web console  http://127.0.0.1:${port}/   (sign in with the admin key below; docs/console.md)
    API docs     http://127.0.0.1:${port}/docs   (OpenAPI JSON at /docs-json)
    health       http://127.0.0.1:${port}/health
    metrics      http://127.0.0.1:${port}/metrics
    admin key    in .edgefleet/admin-key, e.g.
                 curl -H "Authorization: Bearer \$(cat .edgefleet/admin-key)" http://127.0.0.1:${port}/v1/nodes
  Ctrl-C stops it.

MSG
exec node dist/apps/control-plane/src/main.js
