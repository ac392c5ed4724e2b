import type { Schemas } from '#api-client';
import { formatBytes } from '../../lib/format.js';
import { waveLoads } from './wave-load.js';

type Plan = Schemas['RolloutPlanDto'];

/** Bytes in words, the exact count kept in `data-bytes` (and the tooltip) for whoever needs it. */
const Bytes = ({ n }: { n: number }) => (
  <td data-bytes={n} title={`${n} bytes`}>
    {formatBytes(n)}
  </td>
);

function WavesTable({ plan }: { plan: Plan }) {
  const names = new Map(plan.variants.map((v) => [v.modelVersionId, `${v.version} (${v.variant})`]));
  return (
    <table class="grid" aria-label="Waves">
      <thead>
        <tr>
          <th scope="col">Wave</th>
          <th scope="col">Nodes</th>
          <th scope="col">Variants</th>
          <th scope="col">Bytes to nodes</th>
        </tr>
      </thead>
      <tbody>
        {waveLoads(plan).map((w) => (
          <tr key={w.wave} data-testid={`plan-wave-${w.wave}`}>
            <td>{w.wave}</td>
            <td>{w.nodes}</td>
            <td>{w.variants.map((v) => `${names.get(v.modelVersionId) ?? v.modelVersionId.slice(0, 8)} × ${v.nodes}`).join(', ') || '—'}</td>
            <Bytes n={w.bytes} />
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** What a rollout would do: targets per wave, the variant each node class gets, the bytes sent per wave. */
export function DryRunView({ plan }: { plan: Plan }) {
  const total = plan.variants.reduce((sum, v) => sum + v.bytesToNodes, 0);
  return (
    <section class="dry-run" aria-labelledby="dry-run-title" data-testid="dry-run">
      <h2 id="dry-run-title">Dry run</h2>
      <p>
        {plan.nodes.length} nodes in {plan.waveSizes.length} waves ({plan.waveSizes.join(' / ')}); {formatBytes(total)} to send.
        {plan.unmatched > 0 && <strong> {plan.unmatched} matching nodes get no variant.</strong>}
      </p>
      <table class="grid" aria-label="Variants">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Variant</th>
            <th scope="col">Engine</th>
            <th scope="col">Nodes</th>
            <th scope="col">Artifact</th>
            <th scope="col">Bytes to nodes</th>
          </tr>
        </thead>
        <tbody>
          {plan.variants.map((v) => (
            <tr key={v.modelVersionId} data-testid={`plan-variant-${v.variant}`}>
              <td>{v.version}</td>
              <td>{v.variant}</td>
              <td>{v.engine}</td>
              <td>{v.nodes}</td>
              <Bytes n={v.artifactBytes} />
              <Bytes n={v.bytesToNodes} />
            </tr>
          ))}
        </tbody>
      </table>
      <WavesTable plan={plan} />
    </section>
  );
}
