const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'];

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${UNITS[unit]}`;
}

export function formatAgo(iso: string | null, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

export const formatTime = (iso: string): string => new Date(iso).toLocaleString();

export const formatNumber = (n: number | null | undefined, digits = 2): string => (n === null || n === undefined ? '—' : Number.isInteger(n) ? String(n) : n.toFixed(digits));

/** Detail objects are shown as `key=value` pairs: readable, and bounded so one event cannot flood the page. */
export function formatDetail(detail: Record<string, unknown>, max = 400): string {
  const text = Object.entries(detail)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
