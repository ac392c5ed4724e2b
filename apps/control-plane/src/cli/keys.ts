/**
 * Operator key management (keys live in files, never in the database):
 *   node dist/apps/control-plane/src/cli/keys.js init   [--dir D] [--root-keys 3 --root-threshold 2 --release-keys 2 --release-threshold 1] [--expires-days 365]
 *   node dist/apps/control-plane/src/cli/keys.js rotate --role root|release [--dir D]
 *   node dist/apps/control-plane/src/cli/keys.js revoke --key KEY_ID [--dir D]
 * The default directory is .edgefleet/keys. Prints the resulting root (public keys only).
 */
import { parseArgs } from 'node:util';
import { KeyStore } from '../keys/key-store.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string', default: '.edgefleet/keys' },
    role: { type: 'string' },
    key: { type: 'string' },
    'root-keys': { type: 'string', default: '3' },
    'root-threshold': { type: 'string', default: '2' },
    'release-keys': { type: 'string', default: '2' },
    'release-threshold': { type: 'string', default: '1' },
    'expires-days': { type: 'string', default: '365' },
  },
});

const store = new KeyStore(values.dir);
const expiresDays = Number(values['expires-days']);
const usage = 'usage: keys.js init | rotate --role root|release | revoke --key KEY_ID   [--dir DIR]';

try {
  const command = positionals[0];
  const root =
    command === 'init'
      ? await store.init({
          rootKeys: Number(values['root-keys']),
          rootThreshold: Number(values['root-threshold']),
          releaseKeys: Number(values['release-keys']),
          releaseThreshold: Number(values['release-threshold']),
          expiresDays,
        })
      : command === 'rotate' && (values.role === 'root' || values.role === 'release')
        ? await store.rotate(values.role, expiresDays)
        : command === 'revoke' && values.key
          ? await store.revoke(values.key, expiresDays)
          : undefined;
  if (!root) {
    console.error(usage);
    process.exit(64);
  }
  console.log(JSON.stringify(root, null, 2));
} catch (error) {
  console.error(`keys: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
