import { describe, expect, it } from '@jest/globals';
import { planDelivery } from './delivery-plan.js';

const snap = (xmin: number, xmax: number) => ({ xmin: BigInt(xmin), xmax: BigInt(xmax) });
const ids = (...n: number[]) => n.map(BigInt);

describe('planDelivery', () => {
  it('delivers contiguous ids and moves the cursor to the last', () => {
    const plan = planDelivery(4n, ids(5, 6, 7), null, snap(100, 101), 0, 1000);
    expect(plan).toMatchObject({ deliver: 3, cursor: 7n, gap: null, skipped: [] });
  });

  it('holds at a gap while a transaction that was running when it was seen may still commit the missing id', () => {
    // Id 6 is committed, id 5 is not visible: its transaction (xid 100) may still be running.
    const first = planDelivery(4n, ids(6), null, snap(100, 105), 0, 10_000);
    expect(first).toMatchObject({ deliver: 0, cursor: 4n, gap: { expected: 5n, xmax: 105n } });
    // Later, still xmin 100: keep holding, the gap keeps its first snapshot.
    const second = planDelivery(4n, ids(6), first.gap, snap(100, 110), 50, 10_000);
    expect(second).toMatchObject({ deliver: 0, gap: { expected: 5n, xmax: 105n, since: 0 } });
    // The transaction committed id 5: delivered in order.
    const third = planDelivery(4n, ids(5, 6), second.gap, snap(110, 111), 80, 10_000);
    expect(third).toMatchObject({ deliver: 2, cursor: 6n, gap: null, skipped: [] });
  });

  it('skips a gap once every transaction running when it was seen has ended (a rollback)', () => {
    const first = planDelivery(4n, ids(6, 7), null, snap(100, 105), 0, 10_000);
    const settled = planDelivery(4n, ids(6, 7), first.gap, snap(105, 106), 10, 10_000);
    expect(settled).toMatchObject({ deliver: 2, cursor: 7n, gap: null, skipped: [{ from: 5n, to: 5n, timedOut: false }] });
  });

  it('skips a gap held longer than maxWaitMs (a session idle in transaction holds xmin back)', () => {
    const first = planDelivery(4n, ids(6), null, snap(100, 105), 0, 1000);
    const late = planDelivery(4n, ids(6), first.gap, snap(100, 200), 1000, 1000);
    expect(late).toMatchObject({ deliver: 1, cursor: 6n, skipped: [{ from: 5n, to: 5n, timedOut: true }] });
  });

  it('never delivers past an unsettled gap even when later ids follow it', () => {
    const plan = planDelivery(1n, ids(2, 4, 5), null, snap(50, 60), 0, 1000);
    expect(plan).toMatchObject({ deliver: 1, cursor: 2n, gap: { expected: 3n } });
  });
});
