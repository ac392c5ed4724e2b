/** A labelled meter: `value` of `max`, read out by screen readers as "label: value of max". */
export function ProgressBar({ label, value, max, tone = 'ok' }: { label: string; value: number; max: number; tone?: 'ok' | 'bad' | 'busy' }) {
  const percent = max > 0 ? Math.min(100, Math.round((value / max) * 100)) : 0;
  return (
    <div class="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={max} aria-valuenow={value}>
      <div class={`progress-fill tone-${tone}`} style={{ width: `${percent}%` }} />
    </div>
  );
}
