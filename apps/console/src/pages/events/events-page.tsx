import { unwrap } from '#api-client';
import { useEffect, useState } from 'preact/hooks';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { type FleetEvent, followEvents } from '../../lib/event-stream.js';
import { formatDetail, formatTime } from '../../lib/format.js';
import { useSession } from '../../lib/session-context.js';
import { LiveBadge } from '../../lib/use-live.js';
import { asError } from '../../lib/use-load.js';

const TYPES = [
  'rollout.started',
  'rollout.wave-advanced',
  'rollout.gate-verdict',
  'rollout.halted',
  'rollout.aborted',
  'rollout.completed',
  'rollout.rolled-back',
  'node.enrolled',
  'node.online',
  'node.offline',
  'node.committed',
  'node.failed',
  'node.attestation-mismatch',
  'model.drift-detected',
  'key.rotated',
];
// The page keeps the newest events only: an open tab must not grow without bound.
const KEEP = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The last hour from GET /v1/events, then live from the stream, with the same filters. */
export function EventsPage() {
  const { api, apiKey } = useSession();
  const [types, setTypes] = useState<string[]>([]);
  const [subject, setSubject] = useState('');
  const [events, setEvents] = useState<FleetEvent[]>([]);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<Error>();
  const id = UUID.test(subject.trim()) ? subject.trim() : undefined;
  const filterKey = JSON.stringify([types, id]);
  useEffect(() => {
    setEvents([]);
    setError(undefined);
    const since = new Date(Date.now() - 3600_000).toISOString();
    let stop: (() => void) | undefined;
    let cancelled = false;
    const add = (e: FleetEvent) => setEvents((list) => (list.some((x) => x.id === e.id) ? list : [e, ...list].slice(0, KEEP)));
    api.GET('/v1/events', { params: { query: { since, limit: 1000, ...(types.length ? { type: types } : {}), ...(id ? { rollout: id } : {}) } } }).then(
      (result) => {
        if (cancelled) return;
        const page = unwrap(result);
        setEvents([...page.items].reverse().slice(0, KEEP));
        stop = followEvents(apiKey, { types, ...(id ? { rollout: id } : {}), ...(page.items.length ? { after: page.items.at(-1)?.id } : {}) }, { onEvent: add, onStatus: setLive });
      },
      (e: unknown) => setError(asError(e)),
    );
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [api, apiKey, filterKey]);
  const toggle = (type: string) => setTypes(types.includes(type) ? types.filter((t) => t !== type) : [...types, type]);
  
  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">
        Events <LiveBadge live={live} />
      </h1>
      <fieldset class="filters">
        <legend>Types (none checked: all)</legend>
        {TYPES.map((t) => (
          <label key={t} class="chip">
            <input type="checkbox" checked={types.includes(t)} onChange={() => toggle(t)} /> {t}
          </label>
        ))}
      </fieldset>
      <div class="field">
        <label for="subject">Rollout id</label>
        <input id="subject" maxLength={36} value={subject} onInput={(e) => setSubject(e.currentTarget.value)} placeholder="uuid" />
      </div>
      <ProblemNote error={error} />
      <ol class="feed" aria-live="polite" data-testid="event-feed">
        {events.map((e) => (
          <li key={e.id}>
            <time dateTime={e.createdAt}>{formatTime(e.createdAt)}</time> <strong>{e.type}</strong>{' '}
            {e.rolloutId && <Link href={`/rollouts/${e.rolloutId}`}>rollout</Link>} {e.nodeId && <Link href={`/nodes/${e.nodeId}`}>node</Link>} <span class="detail">{formatDetail(e.payload)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
