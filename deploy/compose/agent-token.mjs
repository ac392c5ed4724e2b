// Compose profile `replicas`, one-shot: creates the demo agents' enrolment token (3 uses, 1 hour) through
// the admin API and leaves it in /data/tokens/token for the agents. Runs once: an existing token file is kept
// (an agent already enrolled never needs it again). The admin key stays in this container.
/* global fetch -- Node 20 has it built in */
import { existsSync, writeFileSync } from 'node:fs';

const out = '/data/tokens/token';
const url = process.env.CONTROL_PLANE_URL;
const key = process.env.ADMIN_API_KEY;
if (existsSync(out)) process.exit(0);
if (!key) {
  console.error('ADMIN_API_KEY is not set: start the profile as `ADMIN_API_KEY=<32+ characters> docker compose --profile replicas up -d`');
  process.exit(78);
}
const res = await fetch(`${url}/v1/enrollment-tokens`, {
  method: 'POST',
  headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'compose-demo-agents', maxUses: 3, expiresInSeconds: 3600, labels: { fleet: 'compose' } }),
});
const body = await res.json().catch(() => ({}));
if (!res.ok || typeof body.token !== 'string') {
  console.error(`creating the enrolment token failed: ${res.status} ${body.title ?? ''} ${body.detail ?? ''}`);
  process.exit(1);
}
writeFileSync(out, body.token, { mode: 0o600 });
console.log('enrolment token for the demo agents written to the agent-token volume');
