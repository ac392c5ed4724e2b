/**
 * A labelled meter: `value` of `max`, read out by screen readers as "label: value of max". `failed`
 * (optional) is drawn after the value in red, so a halted wave shows what went wrong, not an empty bar.
 */
export function ProgressBar({ label, value, max, failed = 0, tone = 'ok' }: { label: string; value: number; max: number; failed?: number; tone?: 'ok' | 'busy' }) {
  const share = (n: number) => (max > 0 ? Math.min(100, Math.round((n / max) * 100)) : 0);
  return (
    <div class="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={max} aria-valuenow={value} aria-valuetext={`${value} of ${max}${failed ? `, ${failed} failed` : ''}`}>
      <div class={`progress-fill tone-${tone}`} style={{ width: `${share(value)}%` }} />
      {failed > 0 && <div class="progress-fill tone-bad" style={{ width: `${share(failed)}%` }} />}
    </div>
  );
}
