/** The events page's filter, as it lives in the URL: `?type=a,b&node=<uuid>&rollout=<uuid>`. */
export interface EventFilterState {
  readonly types: readonly string[];
  readonly node?: string;
  readonly rollout?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// The catalogue has a few dozen types at most; a longer list in a URL is not one the console wrote.
const MAX_TYPES = 50;

export const isUuid = (text: string): boolean => UUID.test(text);

/**
 * Reads the filter from the query, keeping only what the API would take: types from `known` (the
 * catalogue), ids that are UUIDs. A hand-edited or stale URL shows the events it can, not an error.
 */
export function readEventFilter(query: URLSearchParams, known: readonly string[]): EventFilterState {
  const types = (query.get('type') ?? '')
    .split(',')
    .filter((t) => known.includes(t))
    .slice(0, MAX_TYPES);
  const id = (name: string) => {
    const value = query.get(name)?.trim().toLowerCase();
    return value && isUuid(value) ? value : undefined;
  };
  const node = id('node');
  const rollout = id('rollout');
  return { types: [...new Set(types)], ...(node ? { node } : {}), ...(rollout ? { rollout } : {}) };
}

/** The query string for a filter (empty fields left out), in a stable order so equal filters give equal URLs. */
export function eventFilterQuery(filter: EventFilterState): string {
  const params = new URLSearchParams();
  if (filter.types.length) params.set('type', [...filter.types].sort().join(','));
  if (filter.node) params.set('node', filter.node);
  if (filter.rollout) params.set('rollout', filter.rollout);
  const query = params.toString();
  return query ? `?${query}` : '';
}
