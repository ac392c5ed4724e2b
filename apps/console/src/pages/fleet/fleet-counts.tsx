import type { Schemas } from '#api-client';

const TILES: { key: keyof Schemas['FleetSummaryDto']; label: string }[] = [
  { key: 'online', label: 'Online' },
  { key: 'offline', label: 'Offline' },
  { key: 'updating', label: 'Updating' },
  { key: 'failed', label: 'Failed' },
  { key: 'total', label: 'Total' },
];

export function FleetCounts({ summary }: { summary: Schemas['FleetSummaryDto'] | undefined }) {
  return (
    <dl class="tiles" aria-label="Fleet counts">
      {TILES.map((t) => (
        <div class={`tile tile-${t.key}`} key={t.key}>
          <dt>{t.label}</dt>
          <dd data-testid={`count-${t.key}`}>{summary ? summary[t.key] : '…'}</dd>
        </div>
      ))}
    </dl>
  );
}
