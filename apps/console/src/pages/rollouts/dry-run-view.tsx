import type { Schemas } from '#api-client';
import { formatBytes } from '../../lib/format.js';

/** What a rollout would do: targets per wave, the variant each node class gets, the bytes sent. */
export function DryRunView({ plan }: { plan: Schemas['RolloutPlanDto'] }) {
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
            <tr key={v.modelVersionId}>
              <td>{v.version}</td>
              <td>{v.variant}</td>
              <td>{v.engine}</td>
              <td>{v.nodes}</td>
              <td>{formatBytes(v.artifactBytes)}</td>
              <td>{formatBytes(v.bytesToNodes)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
