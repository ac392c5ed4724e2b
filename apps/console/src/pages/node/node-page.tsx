import { type Schemas, unwrap } from '#api-client';
import { useState } from 'preact/hooks';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { formatAgo, formatTime } from '../../lib/format.js';
import { canMutate } from '../../lib/session.js';
import { useSession } from '../../lib/session-context.js';
import { LiveBadge, useLiveReload } from '../../lib/use-live.js';
import { useLoad } from '../../lib/use-load.js';
import { loadVersionNames } from '../../lib/version-names.js';
import { DeploymentHistory } from './deployment-history.js';
import { HeartbeatCharts } from './heartbeat-charts.js';
import { LabelsEditor } from './labels-editor.js';
import { Pairs } from '../../components/pairs.js';

function Facts({ node, version }: { node: Schemas['NodeDto']; version: string }) {
  const hw = node.hardware;
  const rows: [string, string][] = [
    ['Status', node.status],
    ['Last seen', `${formatAgo(node.lastSeenAt)}${node.lastSeenAt ? ` (${formatTime(node.lastSeenAt)})` : ''}`],
    ['Model', version],
    ['Attestation', node.attestation ? `${node.attestation.verdict} at ${formatTime(node.attestation.at)}` : 'not judged yet'],
    ['Hardware', `${String(hw['arch'] ?? '?')}, ${String(hw['cpuCores'] ?? '?')} cores, ${String(hw['ramMb'] ?? '?')} MB RAM, ${String(hw['freeDiskMb'] ?? '?')} MB free disk`],
    ['Engines', Array.isArray(hw['engines']) ? hw['engines'].join(', ') : '—'],
    ['Accelerators', Array.isArray(hw['accelerators']) && hw['accelerators'].length ? hw['accelerators'].join(', ') : 'none'],
    ['Enrolled', formatTime(node.enrolledAt)],
  ];
  return <Pairs rows={rows} />;
}

export function NodePage({ id }: { id: string }) {
  const { api, role } = useSession();
  const path = { params: { path: { id } } };
  const node = useLoad(async () => unwrap(await api.GET('/v1/nodes/{id}', path)), [api, id]);
  const history = useLoad(async () => unwrap(await api.GET('/v1/nodes/{id}/deployments', path)), [api, id]);
  const versions = useLoad(() => loadVersionNames(api), [api]);
  const [tick, setTick] = useState(0);
  const live = useLiveReload({ node: id }, () => {
    node.reload();
    history.reload();
    setTick((t) => t + 1);
  });
  const n = node.data;
  if (!n) return <ProblemNote error={node.error} />;
  const version = n.currentModelVersionId ? (versions.data?.get(n.currentModelVersionId) ?? n.currentModelVersionId) : 'none';
  return (
    <section aria-labelledby="node-title">
      <p>
        <Link href="/">← Fleet</Link>
      </p>
      <h1 id="node-title">
        {n.name} <LiveBadge live={live} />
      </h1>
      <Facts node={n} version={version} />
      <p>
        <Link href={`/events?node=${id}`}>Events of this node</Link>
      </p>
      <h2>Labels</h2>
      <LabelsEditor key={JSON.stringify(n.labels)} api={api} nodeId={id} labels={n.labels} editable={canMutate(role)} onSaved={node.reload} />
      <h2>Heartbeats</h2>
      <HeartbeatCharts nodeId={id} version={tick} />
      <h2>Deployments</h2>
      <ProblemNote error={history.error} />
      {history.data && <DeploymentHistory deployments={history.data} />}
    </section>
  );
}
