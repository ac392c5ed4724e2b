import { unwrap } from '#api-client';
import { useState } from 'preact/hooks';
import { ProblemNote } from '../../components/problem.js';
import { navigate, useLocation } from '../../lib/router.js';
import { useSession } from '../../lib/session-context.js';
import { LiveBadge, useLiveReload } from '../../lib/use-live.js';
import { useLoad } from '../../lib/use-load.js';
import { loadVersionNames } from '../../lib/version-names.js';
import { FleetCounts } from './fleet-counts.js';
import { NodesTable } from './nodes-table.js';

const PAGE_SIZE = 50;
// The API takes up to 1000 per page; a table longer than 200 rows helps no one.
const pageSize = (text: string | null) => Math.min(200, Math.max(1, Number.parseInt(text ?? '', 10) || PAGE_SIZE));
const NODE_EVENTS = ['node.enrolled', 'node.online', 'node.offline', 'node.committed', 'node.failed'];

/** Counts, then one keyset page of nodes; the selector and cursor live in the URL (shareable, back works). */
export function FleetPage() {
  const { api } = useSession();
  const { query } = useLocation();
  const selector = query.get('selector') ?? '';
  const cursor = query.get('cursor') ?? undefined;
  const limit = pageSize(query.get('limit'));
  const [draft, setDraft] = useState(selector);
  // Cursors of the pages before this one, for "Previous" (keyset pages only know the next one).
  const [trail, setTrail] = useState<string[]>([]);
  const summary = useLoad(async () => unwrap(await api.GET('/v1/nodes/summary', { params: { query: { selector } } })), [api, selector]);
  const page = useLoad(async () => unwrap(await api.GET('/v1/nodes', { params: { query: { selector, cursor, limit } } })), [api, selector, cursor, limit]);
  const versions = useLoad(() => loadVersionNames(api), [api]);
  const live = useLiveReload({ types: NODE_EVENTS }, () => {
    summary.reload();
    page.reload();
  });
  const go = (next: { selector: string; cursor?: string }) => {
    const params = new URLSearchParams();
    if (next.selector) params.set('selector', next.selector);
    if (next.cursor) params.set('cursor', next.cursor);
    if (limit !== PAGE_SIZE) params.set('limit', String(limit));
    navigate(`/${params.size ? `?${params}` : ''}`);
  };
  return (
    <section aria-labelledby="fleet-title">
      <h1 id="fleet-title">
        Fleet <LiveBadge live={live} />
      </h1>
      <FleetCounts summary={summary.data} />
      <form
        class="search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setTrail([]);
          go({ selector: draft.trim() });
        }}
      >
        <label for="selector">Label selector</label>
        <input id="selector" placeholder="site=lyon,tier in (a,b),!gpu" maxLength={2000} value={draft} onInput={(e) => setDraft(e.currentTarget.value)} />
        <button type="submit">Search</button>
      </form>
      <ProblemNote error={page.error ?? summary.error} />
      {page.data && <NodesTable nodes={page.data.items} versions={versions.data} />}
      <nav class="pager" aria-label="Pages">
        <button type="button" disabled={!cursor} onClick={() => (setTrail(trail.slice(0, -1)), go({ selector, cursor: trail.at(-1) }))}>
          Previous
        </button>
        <button type="button" disabled={!page.data?.nextCursor} onClick={() => (setTrail([...trail, cursor ?? '']), go({ selector, cursor: page.data?.nextCursor ?? undefined }))}>
          Next
        </button>
      </nav>
    </section>
  );
}
