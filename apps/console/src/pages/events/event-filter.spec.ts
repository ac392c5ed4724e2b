import { describe, expect, it } from '@jest/globals';
import { eventFilterQuery, readEventFilter } from './event-filter.js';

const KNOWN = ['node.online', 'node.failed', 'rollout.halted'];
const NODE = '0b5c3f2a-1111-4222-8333-944455556666';
const ROLLOUT = '7d9e0c1b-aaaa-4bbb-8ccc-ddddeeeeffff';

describe('the events filter in the URL', () => {
  it('reads types, node and rollout, and writes them back the same', () => {
    const filter = readEventFilter(new URLSearchParams(`type=node.failed,node.online&node=${NODE}&rollout=${ROLLOUT}`), KNOWN);
    expect(filter).toEqual({ types: ['node.failed', 'node.online'], node: NODE, rollout: ROLLOUT });
    expect(readEventFilter(new URLSearchParams(eventFilterQuery(filter)), KNOWN)).toEqual({ types: ['node.failed', 'node.online'], node: NODE, rollout: ROLLOUT });
  });

  it('drops what the API would refuse: unknown types, ids that are not UUIDs, repeats', () => {
    expect(readEventFilter(new URLSearchParams('type=node.online,nope,node.online&node=abc&rollout='), KNOWN)).toEqual({ types: ['node.online'] });
  });

  it('writes an empty filter as no query at all, and sorts types so equal filters give equal URLs', () => {
    expect(eventFilterQuery({ types: [] })).toBe('');
    expect(eventFilterQuery({ types: ['rollout.halted', 'node.failed'] })).toBe('?type=node.failed%2Crollout.halted');
  });
});
