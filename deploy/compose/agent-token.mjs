// Compose profile `replicas`, one-shot at every `up`: creates the demo agents' enrolment token (3 uses, 1 hour)
// through the admin API and leaves it in /data/tokens/token for the agents, after revoking the one the last
// `up` made (its id is kept beside it). A new one each time: an agent already enrolled ignores it, and one
// whose volume was lost (or a new one) can enrol again; a kept token ran out of uses or expired and left such
// an agent refused for good. The admin key stays in this container.
/* global fetch -- Node 20 has it built in */
import { readFileSync, writeFileSync } from 'node:fs';

const out = '/data/tokens/token';
const idFile = '/data/tokens/token.id';
const url = process.env.CONTROL_PLANE_URL;
const key = process.env.ADMIN_API_KEY;
if (!key) {
  console.error('ADMIN_API_KEY is not set: start the profile as `ADMIN_API_KEY=<32+ characters> docker compose --profile replicas up -d`');
  process.exit(78);
}
const auth = { authorization: `Bearer ${key}` };
let previous = '';
try {
  previous = readFileSync(idFile, 'utf8').trim();
} catch {
  // the first `up`: nothing to revoke
}
if (previous) {
  // 404: it expired and was cleaned up, or the database is new; either way it no longer enrols anyone.
  const revoked = await fetch(`${url}/v1/enrollment-tokens/${encodeURIComponent(previous)}`, { method: 'DELETE', headers: auth });
  if (!revoked.ok && revoked.status !== 404) console.error(`revoking the previous enrolment token failed: ${revoked.status}`);
}
const res = await fetch(`${url}/v1/enrollment-tokens`, {
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json' },
  body: JSON.stringify({ name: 'compose-demo-agents', maxUses: 3, expiresInSeconds: 3600, labels: { fleet: 'compose' } }),
});
const body = await res.json().catch(() => ({}));
if (!res.ok || typeof body.token !== 'string' || typeof body.id !== 'string') {
  console.error(`creating the enrolment token failed: ${res.status} ${body.title ?? ''} ${body.detail ?? ''}`);
  process.exit(1);
}
writeFileSync(out, body.token, { mode: 0o600 });
writeFileSync(idFile, body.id, { mode: 0o600 });
console.log('enrolment token for the demo agents written to the agent-token volume');
