import { nodePhase, type Schemas } from '#api-client';
import { ProgressBar } from '../../components/progress-bar.js';

const DONE = ['succeeded', 'reverted'];
const BAD = ['failed', 'revert-failed'];
const count = (states: Record<string, number>, names: string[]) => names.reduce((n, s) => n + (states[s] ?? 0), 0);

/** One bar per wave: succeeded of planned, with the node count per state beside it. */
export function WaveBars({ waves, current }: { waves: readonly Schemas['RolloutWaveDto'][]; current: number }) {
  return (
    <ol class="waves" aria-label="Waves">
      {waves.map((w) => {
        const done = count(w.states, DONE);
        const failed = count(w.states, BAD);
        return (
          <li key={w.wave} class={w.wave === current ? 'current' : ''} data-testid={`wave-${w.wave}`}>
            <span class="wave-name">Wave {w.wave}</span>
            <ProgressBar label={`Wave ${w.wave}`} value={done} failed={failed} max={w.planned} tone={done < w.planned ? 'busy' : 'ok'} />
            <span class="wave-count">
              {done}/{w.planned}
            </span>
            <span class="wave-states">
              {Object.entries(w.states)
                .filter(([, n]) => n > 0)
                .map(([s, n]) => `${s} ${n}`)
                .join(' · ')}
            </span>
          </li>
        );
      })}
    </ol>
  );
}

/** How many nodes last reported each deployment phase (downloading, verified, committed, …; shadowing while a shadow evaluation runs). */
export function PhaseCounts({ nodes }: { nodes: readonly Schemas['RolloutNodeDto'][] }) {
  const phases = new Map<string, number>();
  for (const n of nodes) {
    const phase = nodePhase(n) ?? 'not reported';
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
  }
  return (
    <dl class="phases" aria-label="Nodes per phase">
      {[...phases].map(([phase, n]) => (
        <div key={phase}>
          <dt>{phase}</dt>
          <dd>{n}</dd>
        </div>
      ))}
    </dl>
  );
}
