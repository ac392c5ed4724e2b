import { type Schemas, unwrap } from '#api-client';
import { useState } from 'preact/hooks';
import { Link } from '../../components/link.js';
import { ProblemNote } from '../../components/problem.js';
import { formatBytes, formatTime } from '../../lib/format.js';
import { canMutate } from '../../lib/session.js';
import { useSession } from '../../lib/session-context.js';
import { useLoad } from '../../lib/use-load.js';
import { UploadForm } from './upload-form.js';
import { VersionStats, WINDOWS } from './version-stats.js';

/** The signed manifest, readable: the signed fields as a list, the signatures by key id. */
function Manifest({ manifest }: { manifest: Record<string, unknown> }) {
  const signed = (manifest['signed'] ?? {}) as Record<string, unknown>;
  const signatures = Array.isArray(manifest['signatures']) ? (manifest['signatures'] as { keyId?: string }[]) : [];
  return (
    <details class="manifest">
      <summary>Signed manifest (sequence {String(signed['sequence'] ?? '—')}, {signatures.length} signature(s))</summary>
      <dl class="pairs">
        {Object.entries(signed).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>
              <code>{typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v).slice(0, 500)}</code>
            </dd>
          </div>
        ))}
      </dl>
      <p>Signed by: {signatures.map((s) => <code key={s.keyId}>{(s.keyId ?? '?').slice(0, 16)}… </code>)}</p>
    </details>
  );
}

function VersionsTable({ versions, selected, onSelect }: { versions: Schemas['ModelVersionDto'][]; selected?: string; onSelect: (v: string) => void }) {
  return (
    <table class="grid" aria-label="Versions">
      <thead>
        <tr>
          <th scope="col">Version</th>
          <th scope="col">Variant</th>
          <th scope="col">Format</th>
          <th scope="col">Engine</th>
          <th scope="col">Size</th>
          <th scope="col">sha256</th>
          <th scope="col">Uploaded</th>
          <th scope="col">Stats</th>
        </tr>
      </thead>
      <tbody>
        {versions.map((v) => (
          <tr key={v.id} data-testid="version-row" class={v.version === selected ? 'selected' : ''}>
            <td>{v.version}</td>
            <td>{v.variant}</td>
            <td>{v.format}</td>
            <td>{v.engine}</td>
            <td>{formatBytes(v.sizeBytes)}</td>
            <td>
              <code title={v.sha256}>{v.sha256.slice(0, 12)}…</code>
            </td>
            <td>{formatTime(v.createdAt)}</td>
            <td>
              <button type="button" class="quiet" aria-pressed={v.version === selected} onClick={() => onSelect(v.version)}>
                Show
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ModelPage({ name }: { name: string }) {
  const { api, role } = useSession();
  const path = { params: { path: { name } } };
  const model = useLoad(async () => unwrap(await api.GET('/v1/models/{name}', path)), [api, name]);
  const versions = useLoad(async () => unwrap(await api.GET('/v1/models/{name}/versions', path)), [api, name]);
  const [selected, setSelected] = useState<string>();
  const [window, setWindow] = useState<(typeof WINDOWS)[number]>('24h');
  const chosen = versions.data?.filter((v) => v.version === selected) ?? [];
  return (
    <section aria-labelledby="model-title">
      <p>
        <Link href="/models">← Models</Link>
      </p>
      <h1 id="model-title">{name}</h1>
      <ProblemNote error={model.error ?? versions.error} />
      {model.data && (
        <p>
          {model.data.task} · input <code>{JSON.stringify(model.data.inputSpec['shape'] ?? '?')}</code> · output <code>{JSON.stringify(model.data.outputSpec['shape'] ?? '?')}</code>
        </p>
      )}
      {versions.data && <VersionsTable versions={versions.data} selected={selected} onSelect={setSelected} />}
      {selected && (
        <section aria-labelledby="version-title">
          <h2 id="version-title">Version {selected}</h2>
          {chosen.map((v) => (
            <Manifest key={v.id} manifest={v.manifest} />
          ))}
          <label for="window">Window</label>{' '}
          <select id="window" value={window} onChange={(e) => setWindow(e.currentTarget.value as (typeof WINDOWS)[number])}>
            {WINDOWS.map((w) => (
              <option key={w}>{w}</option>
            ))}
          </select>
          <VersionStats model={name} version={selected} window={window} />
        </section>
      )}
      {canMutate(role) && model.data && <UploadForm model={model.data} onUploaded={versions.reload} />}
    </section>
  );
}
