#!/usr/bin/env bash
# The whole product in one go: checks the services, installs and builds, then runs the seed pipeline
# (offline checks, a control plane and three agents, a rollout, inference, results in PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/services.sh check || { echo "start the services above (or: docker compose up -d), then run npm run demo again" >&2; exit 1; }
npm run --silent build
exec node dist/pipeline/src/demo.js
