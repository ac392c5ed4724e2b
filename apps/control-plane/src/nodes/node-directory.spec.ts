import { describe, expect, it } from '@jest/globals';
import { type NodeActivityLookup, NodeDirectory } from './node-directory.js';

/** A repository whose answers the test scripts: rows for a node (it is active), or a failure. */
function scriptedDb() {
  const state: { rows: unknown[]; failWith?: Error; queries: number } = { rows: [{}], queries: 0 };
  const db: NodeActivityLookup = {
    isActive: async () => {
      state.queries++;
      if (state.failWith) throw state.failWith;
      return state.rows.length > 0;
    },
  };
  return { state, db };
}

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('NodeDirectory', () => {
  it('keeps the last answer, however old, while the database is unreachable', async () => {
    const { state, db } = scriptedDb();
    const directory = new NodeDirectory(db);
    const realNow = Date.now;
    try {
      expect(await directory.isActive('n1')).toBe(true);
      state.rows = [];
      expect(await directory.isActive('n2')).toBe(false);
      // Both entries expire; then the database goes away.
      Date.now = () => realNow() + 60_000;
      state.failWith = refused();
      expect(await directory.isActive('n1')).toBe(true);
      expect(await directory.isActive('n2')).toBe(false);
    } finally {
      Date.now = realNow;
    }
  });

  it('lets a node it never asked about through while the database is unreachable, and asks again once it is back', async () => {
    const { state, db } = scriptedDb();
    const directory = new NodeDirectory(db);
    state.failWith = refused();
    expect(await directory.isActive('n3')).toBe(true);
    state.failWith = undefined;
    state.rows = [];
    expect(await directory.isActive('n3')).toBe(false);
    expect(state.queries).toBe(2);
  });

  it('still fails on any other database error', async () => {
    const { state, db } = scriptedDb();
    state.failWith = Object.assign(new Error('syntax error'), { code: '42601' });
    await expect(new NodeDirectory(db).isActive('n4')).rejects.toThrow('syntax error');
  });
});
