#!/usr/bin/env bash
# `npm test`: dependencies and services checked, a fresh build (the agent and replica suites run dist/),
# then Jest; arguments go to Jest (`npm test -- test/e2e/agent-update.e2e.test.ts`).
# EDGEFLEET_TEST_BUILT=1 skips the build: .ci/run sets it because it has just built (and linted,
# type-checked and migrated against that build); building again cost it a minute on the 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
bash scripts/services.sh ensure
if [ "${EDGEFLEET_TEST_BUILT:-}" != 1 ]; then npm run -s build; fi
exec node --experimental-vm-modules node_modules/jest/bin/jest.js "$@"
