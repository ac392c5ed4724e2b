/**
 * Which newly read events a feed may deliver, in id order, without ever losing one that commits later.
 *
 * Ids come from an identity sequence, taken at INSERT but visible only at COMMIT, so id 11 can be seen
 * before id 10 (or 10 may never exist: its transaction rolled back). A feed delivers ids one after another;
 * at a gap it waits. The gap is settled once every transaction that was running when it was seen has ended:
 * the missing id was drawn by one of them (a larger id was already committed, so it was drawn before), and
 * PostgreSQL's snapshot says when they are all gone (`xmin` of a later snapshot passes the `xmax` of the
 * one the gap was seen in). Then the row is either visible (delivered) or never will be (skipped). A gap
 * older than `maxWaitMs` is skipped too: a session idle in a transaction holds `xmin` back for everyone,
 * and the stream must not stop for it (logged; docs/events.md).
 */
export interface Snapshot {
  readonly xmin: bigint;
  readonly xmax: bigint;
}

export interface Gap {
  /** The id the feed is waiting for. */
  readonly expected: bigint;
  /** `xmax` of the snapshot the gap was first seen in. */
  readonly xmax: bigint;
  readonly since: number;
}

export interface DeliveryPlan {
  /** How many of the ids (a prefix) to deliver now. */
  readonly deliver: number;
  readonly cursor: bigint;
  readonly gap: Gap | null;
  /** Gaps given up on (rolled back, or past maxWaitMs). */
  readonly skipped: readonly { readonly from: bigint; readonly to: bigint; readonly timedOut: boolean }[];
}

/** `ids`: ascending ids above `cursor`, read in `snapshot` (the same statement). */
export function planDelivery(cursor: bigint, ids: readonly bigint[], gap: Gap | null, snapshot: Snapshot, now: number, maxWaitMs: number): DeliveryPlan {
  let deliver = 0;
  let current = cursor;
  let pending = gap;
  const skipped: { from: bigint; to: bigint; timedOut: boolean }[] = [];
  for (const id of ids) {
    const expected = current + 1n;
    if (id !== expected) {
      const seen = pending && pending.expected === expected ? pending : { expected, xmax: snapshot.xmax, since: now };
      const settled = snapshot.xmin >= seen.xmax;
      const timedOut = now - seen.since >= maxWaitMs;
      if (!settled && !timedOut) return { deliver, cursor: current, gap: seen, skipped };
      skipped.push({ from: expected, to: id - 1n, timedOut: !settled });
    }
    deliver += 1;
    current = id;
    pending = null;
  }
  return { deliver, cursor: current, gap: pending, skipped };
}
