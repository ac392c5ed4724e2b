import { useEffect, useRef, useState } from 'preact/hooks';
import { type FleetEvent, followEvents, type StreamFilter } from './event-stream.js';
import { useSession } from './session-context.js';

// Events can come in bursts (a wave of 1,000 commits): reload at most this often.
const RELOAD_EVERY_MS = 500;

/**
 * Calls `onChange` after live events matching `filter` (coalesced to one call per RELOAD_EVERY_MS).
 * Returns whether the stream is connected, for the page to say so.
 */
export function useLiveReload(filter: StreamFilter, onChange: (event: FleetEvent) => void): boolean {
  const { apiKey } = useSession();
  const [live, setLive] = useState(false);
  const latest = useRef(onChange);
  latest.current = onChange;
  const key = JSON.stringify(filter);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let pending: FleetEvent | undefined;
    const stop = followEvents(apiKey, filter, {
      onStatus: setLive,
      onEvent: (event) => {
        pending = event;
        timer ??= setTimeout(() => {
          timer = undefined;
          if (pending) latest.current(pending);
        }, RELOAD_EVERY_MS);
      },
    });
    return () => {
      stop();
      if (timer) clearTimeout(timer);
    };
    // The filter is compared by value: a new object with the same fields keeps the stream.
  }, [apiKey, key]);
  return live;
}

export function LiveBadge({ live }: { live: boolean }) {
  return (
    <span class={`live ${live ? 'on' : 'off'}`} role="status" data-testid="live">
      {live ? 'live' : 'connecting…'}
    </span>
  );
}
