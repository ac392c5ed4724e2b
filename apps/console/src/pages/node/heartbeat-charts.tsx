import { unwrap } from '#api-client';
import { LineChart } from '../../components/line-chart.js';
import { ProblemNote } from '../../components/problem.js';
import { useSession } from '../../lib/session-context.js';
import { useLoad } from '../../lib/use-load.js';

/** CPU, memory, latency and inferences from the node's latest heartbeats (reloaded on its events). */
export function HeartbeatCharts({ nodeId, version }: { nodeId: string; version: number }) {
  const { api } = useSession();
  const beats = useLoad(async () => unwrap(await api.GET('/v1/nodes/{id}/heartbeats', { params: { path: { id: nodeId }, query: { limit: 240 } } })), [api, nodeId, version]);
  if (!beats.data) return <ProblemNote error={beats.error} />;
  if (beats.data.length < 2) return <p class="empty">Charts appear after two heartbeats.</p>;
  const x = beats.data.map((b) => Date.parse(b.sentAt) / 1000);
  return (
    <div class="charts" data-testid="heartbeat-charts">
      <LineChart title="CPU" x={x} series={[{ label: 'cpu', color: '#1f4e8c', values: beats.data.map((b) => b.cpu) }]} />
      <LineChart title="Memory (MB)" x={x} series={[{ label: 'MB', color: '#6b3c1a', values: beats.data.map((b) => b.memMb) }]} />
      <LineChart
        title="Latency (ms)"
        x={x}
        series={[
          { label: 'p50', color: '#1a6b3c', values: beats.data.map((b) => b.latencyP50Ms) },
          { label: 'p99', color: '#8c1f3c', values: beats.data.map((b) => b.latencyP99Ms) },
        ]}
      />
      <LineChart
        title="Inferences per heartbeat"
        x={x}
        series={[
          { label: 'inferences', color: '#1f4e8c', values: beats.data.map((b) => b.inferences) },
          { label: 'errors', color: '#8c1f3c', values: beats.data.map((b) => b.errors) },
        ]}
      />
    </div>
  );
}
