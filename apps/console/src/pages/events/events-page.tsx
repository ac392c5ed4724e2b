import { unwrap } from '#api-client';
import { useEffect, useState } from 'preact/hooks';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { type FleetEvent, followEvents } from '../../lib/event-stream.js';
import { formatDetail, formatTime } from '../../lib/format.js';
import { navigate, useLocation } from '../../lib/router.js';
import { useSession } from '../../lib/session-context.js';
import { LiveBadge } from '../../lib/use-live.js';
import { asError, useLoad } from '../../lib/use-load.js';
import { type EventFilterState, eventFilterQuery, isUuid, readEventFilter } from './event-filter.js';

// The page keeps the newest events only: an open tab must not grow without bound.
const KEEP = 500;

/** A subject id field: it filters once it holds a whole UUID (or nothing), and says so when it does not. */
function IdField({ name, label, value, onApply }: { name: 'node' | 'rollout'; label: string; value: string | undefined; onApply: (id: string | undefined) => void }) {
  const [draft, setDraft] = useState(value ?? '');
  // Back/forward moves the URL under the field: show what the page filters by.
  useEffect(() => setDraft(value ?? ''), [value]);
  const text = draft.trim().toLowerCase();
  const invalid = text !== '' && !isUuid(text);
  return (
    <div class="field">
      <label for={`ev-${name}`}>{label}</label>
      <input
        id={`ev-${name}`}
        maxLength={36}
        value={draft}
        placeholder="uuid"
        aria-invalid={invalid || undefined}
        aria-describedby={invalid ? `ev-${name}-error` : undefined}
        onInput={(e) => {
          const next = e.currentTarget.value;
          setDraft(next);
          const id = next.trim().toLowerCase();
          if (id === '' || isUuid(id)) onApply(id || undefined);
        }}
      />
      {invalid && (
        <small class="field-error" id={`ev-${name}-error`}>
          not a {name} id yet (a UUID)
        </small>
      )}
    </div>
  );
}

/**
 * The type filter lists the control plane's own catalogue (GET /v1/events/types): a new event type shows up
 * here without a console change. The feed waits for it, so a URL's types are read against the real list.
 */
export function EventsPage() {
  const { api } = useSession();
  const catalogue = useLoad(async () => unwrap(await api.GET('/v1/events/types')).types, [api]);
  if (!catalogue.data) return catalogue.error ? <ProblemNote error={catalogue.error} /> : <p class="loading">Loading the event types…</p>;
  return <EventsFeed types={catalogue.data} />;
}

/** The last hour from GET /v1/events, then live from the stream, with the same filters; the filters live in the URL. */
function EventsFeed({ types }: { types: readonly string[] }) {
  const { api, apiKey } = useSession();
  const { query } = useLocation();
  const filter = readEventFilter(query, types);
  const [events, setEvents] = useState<FleetEvent[]>([]);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<Error>();
  const filterKey = eventFilterQuery(filter);
  useEffect(() => {
    setEvents([]);
    setError(undefined);
    setLive(false);
    const since = new Date(Date.now() - 3600_000).toISOString();
    const subjects = { ...(filter.rollout ? { rollout: filter.rollout } : {}), ...(filter.node ? { node: filter.node } : {}) };
    let stop: (() => void) | undefined;
    let cancelled = false;
    const add = (e: FleetEvent) => setEvents((list) => (list.some((x) => x.id === e.id) ? list : [e, ...list].slice(0, KEEP)));
    api.GET('/v1/events', { params: { query: { since, limit: 1000, ...(filter.types.length ? { type: [...filter.types] } : {}), ...subjects } } }).then(
      (result) => {
        if (cancelled) return;
        const page = unwrap(result);
        setEvents([...page.items].reverse().slice(0, KEEP));
        stop = followEvents(apiKey, { types: filter.types, ...subjects, ...(page.items.length ? { after: page.items.at(-1)?.id } : {}) }, { onEvent: add, onStatus: setLive });
      },
      (e: unknown) => !cancelled && setError(asError(e)),
    );
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [api, apiKey, filterKey]);
  const apply = (next: EventFilterState) => navigate(`/events${eventFilterQuery(next)}`);
  const toggle = (type: string) => apply({ ...filter, types: filter.types.includes(type) ? filter.types.filter((t) => t !== type) : [...filter.types, type] });
  const withId = (name: 'node' | 'rollout', id: string | undefined) => {
    const rest = { types: filter.types, ...(name === 'node' ? { rollout: filter.rollout } : { node: filter.node }) };
    apply(id ? { ...rest, [name]: id } : rest);
  };
  return (
    <section aria-labelledby="events-title">
      <h1 id="events-title">
        Events <LiveBadge live={live} />
      </h1>
      <fieldset class="filters">
        <legend>Types (none checked: all)</legend>
        {types.map((t) => (
          <label key={t} class="chip">
            <input type="checkbox" checked={filter.types.includes(t)} onChange={() => toggle(t)} /> {t}
          </label>
        ))}
      </fieldset>
      <div class="subject-filters">
        <IdField name="node" label="Node id" value={filter.node} onApply={(id) => withId('node', id)} />
        <IdField name="rollout" label="Rollout id" value={filter.rollout} onApply={(id) => withId('rollout', id)} />
      </div>
      <ProblemNote error={error} />
      <ol class="feed" aria-live="polite" data-testid="event-feed">
        {events.map((e) => (
          <li key={e.id} data-testid="event">
            <time dateTime={e.createdAt}>{formatTime(e.createdAt)}</time> <strong>{e.type}</strong>{' '}
            {e.rolloutId && <Link href={`/rollouts/${e.rolloutId}`}>rollout</Link>} {e.nodeId && <Link href={`/nodes/${e.nodeId}`}>node</Link>}{' '}
            {e.nodeId && e.nodeId !== filter.node && (
              <button type="button" class="link" onClick={() => withId('node', e.nodeId ?? undefined)}>
                only this node
              </button>
            )}{' '}
            <span class="detail">{formatDetail(e.payload)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
