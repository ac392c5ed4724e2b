import type { Schemas } from '#api-client';
import { useEffect } from 'preact/hooks';
import { formatNumber, formatTime } from '../../lib/format.js';

type Wave = Schemas['RolloutWaveDto'];

/** How often the page re-reads a rollout whose shadow evaluation is still collecting samples. */
const SHADOW_REFRESH_MS = 5_000;

const percent = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)}%`);
const ratio = (v: number | null) => (v === null ? '—' : `${v.toFixed(2)}×`);

/**
 * Shadow reports reach the control plane without a rollout event (one per node per heartbeat would
 * flood the stream), so the live stream does not bring new figures: while a running rollout's wave
 * waits on its shadow gate, the page re-reads the rollout every few seconds instead.
 */
export function useShadowRefresh(waves: readonly Wave[] | undefined, state: string | undefined, reload: () => void): void {
  const waiting = state === 'running' && (waves ?? []).some((w) => w.shadow?.verdict === 'wait');
  useEffect(() => {
    if (!waiting) return undefined;
    const timer = setInterval(reload, SHADOW_REFRESH_MS);
    return () => clearInterval(timer);
  }, [waiting, reload]);
}

/** Each reached wave's shadow figures (GET /v1/rollouts/:id `waves[].shadow`) and what the gate says about them. */
export function ShadowFigures({ waves }: { waves: readonly Wave[] }) {
  const shadowed = waves.filter((w) => w.shadow);
  if (shadowed.length === 0) return <p class="empty">No wave has shadow figures yet.</p>;
  return (
    <table class="grid" data-testid="shadow-figures">
      <thead>
        <tr>
          <th>Wave</th>
          <th>Verdict</th>
          <th>Nodes</th>
          <th>Samples</th>
          <th>Top-class agreement</th>
          <th>Divergence (JS)</th>
          <th>Latency ratio</th>
          <th>Errors</th>
          <th>Skipped</th>
          <th>Since</th>
        </tr>
      </thead>
      <tbody>
        {shadowed.map(({ wave, shadow: s }) =>
          s ? (
            <tr key={wave} class={s.verdict === 'fail' ? 'failed' : ''} data-testid={`shadow-wave-${wave}`}>
              <td>{wave}</td>
              <td>
                <strong class={`verdict verdict-${s.verdict}`}>{s.verdict}</strong>
                {s.reason && <span class="detail"> {s.reason}</span>}
              </td>
              <td>{s.nodes}</td>
              <td data-testid="shadow-samples">{s.samples}</td>
              <td data-testid="shadow-agreement">{percent(s.agreement)}</td>
              <td data-testid="shadow-divergence">{formatNumber(s.meanDivergence, 4)}</td>
              <td data-testid="shadow-latency-ratio">{ratio(s.latencyRatio)}</td>
              <td data-testid="shadow-errors">{s.errors}</td>
              <td>{s.skipped}</td>
              <td>{s.since ? formatTime(s.since) : '—'}</td>
            </tr>
          ) : null,
        )}
      </tbody>
    </table>
  );
}
