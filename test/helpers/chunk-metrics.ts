import type { TestApp } from './test-app.js';

export interface ChunkPublishes {
  readonly broadcast: number;
  readonly repair: number;
}

/** The control plane's `edgefleet_artifact_chunk_publishes_total`, by mode, read from `GET /metrics`. */
export async function chunkPublishes(t: TestApp): Promise<ChunkPublishes> {
  const text = (await t.http().get('/metrics').expect(200)).text;
  const count = (mode: string) => Number(new RegExp(`^edgefleet_artifact_chunk_publishes_total\\{[^}]*mode="${mode}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { broadcast: count('broadcast'), repair: count('repair') };
}

/** Expands inclusive index ranges (`[[0, 2], [5, 5]]`) to the indices they name. */
export const expandRanges = (ranges: readonly (readonly [number, number])[]): number[] => ranges.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));

/** The control plane's `edgefleet_artifact_repair_requests_total`, by outcome (answered, duplicate, rate-limited, …). */
export async function repairOutcomes(t: TestApp): Promise<Record<string, number>> {
  const text = (await t.http().get('/metrics').expect(200)).text;
  const outcomes: Record<string, number> = {};
  for (const m of text.matchAll(/^edgefleet_artifact_repair_requests_total\{[^}]*outcome="([^"]+)"[^}]*\} (\d+)/gm)) outcomes[m[1] as string] = Number(m[2]);
  return outcomes;
}
