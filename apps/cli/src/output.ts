import Table from 'cli-table3';

export interface OutputOptions {
  readonly json: boolean;
}

/** One JSON document on stdout, for scripts. */
export const printJson = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

export interface Column<T> {
  readonly header: string;
  readonly value: (row: T) => unknown;
}

const cell = (v: unknown): string => (v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A table for people, or the rows as JSON with --json. */
export function printRows<T>(rows: readonly T[], columns: readonly Column<T>[], options: OutputOptions): void {
  if (options.json) return printJson(rows);
  const table = new Table({ head: columns.map((c) => c.header), style: { head: [], border: [] } });
  for (const row of rows) table.push(columns.map((c) => cell(c.value(row))));
  process.stdout.write(`${table.toString()}\n`);
}

/** One record as a two-column table, or as JSON. */
export function printRecord(record: Record<string, unknown>, options: OutputOptions): void {
  if (options.json) return printJson(record);
  const table = new Table({ style: { head: [], border: [] } });
  for (const [key, value] of Object.entries(record)) table.push({ [key]: cell(value) });
  process.stdout.write(`${table.toString()}\n`);
}

export const labelsText = (labels: Record<string, string>): string =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
