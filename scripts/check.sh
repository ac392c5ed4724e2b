#!/usr/bin/env bash
# Fast pre-commit check: type-check and lint (the tests are `npm test`).
set -euo pipefail
cd "$(dirname "$0")/.."
npx tsc -p tsconfig.json --noEmit
npx tsc -p apps/console/tsconfig.json   # the console: DOM and JSX, excluded from the root config
npx eslint .
