#!/bin/sh
# Compose profile `replicas`: one demo agent. Writes its agent.json (the control plane it enrols with, the
# broker as compose names it, the shared one-time token) and runs the agent. The state directory is the
# agent's own volume, so a restarted container keeps its identity and never needs the token again.
set -eu
cat > /data/agent/agent.json <<JSON
{
  "controlPlaneUrl": "${CONTROL_PLANE_URL}",
  "stateDir": "/data/agent",
  "enrollmentToken": "$(cat /data/tokens/token)",
  "name": "${AGENT_NAME}",
  "brokerUrl": "mqtt://mosquitto:1883"
}
JSON
exec node dist/agent/main.js run --config /data/agent/agent.json
