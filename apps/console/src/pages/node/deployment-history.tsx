import type { Schemas } from '#api-client';
import { Link } from '../../components/link.js';
import { formatTime } from '../../lib/format.js';

const FAILED = new Set(['failed', 'rolled-back', 'rejected']);

export function DeploymentHistory({ deployments }: { deployments: readonly Schemas['NodeDeploymentDto'][] }) {
  if (deployments.length === 0) return <p class="empty">No deployment yet.</p>;
  return (
    <table class="grid" aria-label="Deployment history">
      <thead>
        <tr>
          <th scope="col">When</th>
          <th scope="col">Version</th>
          <th scope="col">Rollout</th>
          <th scope="col">State</th>
          <th scope="col">Failure</th>
        </tr>
      </thead>
      <tbody>
        {deployments.map((d) => (
          <tr key={d.deploymentId} class={d.state && FAILED.has(d.state) ? 'failed' : ''}>
            <td>{formatTime(d.createdAt)}</td>
            <td>{`${d.model} ${d.version} (${d.variant})`}</td>
            <td>{d.rolloutId ? <Link href={`/rollouts/${d.rolloutId}`}>{d.rolloutName ?? d.rolloutId.slice(0, 8)}</Link> : 'by hand'}</td>
            <td>{d.state ?? 'sent'}</td>
            <td>{d.state && FAILED.has(d.state) ? `${d.reason ?? ''} ${d.detail ?? ''}`.trim() : ''}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
