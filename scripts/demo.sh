#!/usr/bin/env bash
# The whole product in one go: starts the services when they are down (scripts/services.sh ensure),
# installs and builds, then runs the seed pipeline (offline checks, a control plane and three agents, a
# rollout, inference, results in PostgreSQL). When it ends it clears the retained messages it left.
# `npm run demo -- --tls` (or DEMO_TLS=1 npm run demo): the same over MQTT with TLS on a private broker.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/services.sh ensure || { echo "then run npm run demo again" >&2; exit 1; }
npm run --silent build
exec node dist/pipeline/src/demo.js "$@"
