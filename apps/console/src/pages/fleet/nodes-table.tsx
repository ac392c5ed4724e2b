import type { Schemas } from '#api-client';
import { Link } from '../../components/link.js';
import { formatAgo } from '../../lib/format.js';

const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

export function NodesTable({ nodes, versions }: { nodes: readonly Schemas['NodeDto'][]; versions: Map<string, string> | undefined }) {
  if (nodes.length === 0) return <p class="empty">No node matches.</p>;
  return (
    <table class="grid" aria-label="Nodes">
      <thead>
        <tr>
          <th scope="col">Name</th>
          <th scope="col">Status</th>
          <th scope="col">Version</th>
          <th scope="col">Labels</th>
          <th scope="col">Last seen</th>
        </tr>
      </thead>
      <tbody>
        {nodes.map((n) => (
          <tr key={n.id} data-testid="node-row">
            <td>
              <Link href={`/nodes/${n.id}`}>{n.name}</Link>
            </td>
            <td>
              <span class={`status status-${n.status}`}>{n.status}</span>
            </td>
            <td>{n.currentModelVersionId ? (versions?.get(n.currentModelVersionId) ?? n.currentModelVersionId.slice(0, 8)) : '—'}</td>
            <td class="labels">{labelText(n.labels)}</td>
            <td title={n.lastSeenAt ?? ''}>{formatAgo(n.lastSeenAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
