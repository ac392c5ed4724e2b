import type { Schemas } from '#api-client';
import { useState } from 'preact/hooks';
import { ProblemNote } from '../../components/problem.js';
import { ProgressBar } from '../../components/progress-bar.js';
import { formatBytes } from '../../lib/format.js';
import { useSession } from '../../lib/session-context.js';
import { asError } from '../../lib/use-load.js';
import { type ArtifactFormat, autoSelfTestInput, detectFormat, uploadVersion } from './upload.js';

/** Drag a model file onto the zone (or pick it), name the version, upload with a progress bar. */
export function UploadForm({ model, onUploaded }: { model: Schemas['ModelDto']; onUploaded: () => void }) {
  const { apiKey } = useSession();
  const [file, setFile] = useState<File>();
  const [format, setFormat] = useState<ArtifactFormat | ''>('');
  const [version, setVersion] = useState('');
  const [variant, setVariant] = useState('fp32');
  const [selfTest, setSelfTest] = useState(true);
  const [progress, setProgress] = useState<{ sent: number; total: number }>();
  const [dragging, setDragging] = useState(false);
  const [error, setError] = useState<Error>();
  const [done, setDone] = useState<string>();
  const choose = async (picked: File | undefined) => {
    setFile(picked);
    setDone(undefined);
    setFormat(picked ? ((await detectFormat(picked)) ?? '') : '');
  };
  const submit = async (event: Event) => {
    event.preventDefault();
    if (!file || !format) return;
    setError(undefined);
    setProgress({ sent: 0, total: file.size });
    try {
      const input = selfTest ? autoSelfTestInput(model.inputSpec) : null;
      const uploaded = await uploadVersion({ apiKey, model: model.name, file, version: version.trim(), variant: variant.trim(), format, selfTestInput: input, onProgress: (sent, total) => setProgress({ sent, total }) });
      setDone(`Uploaded ${uploaded.version} (${uploaded.variant}), sha256 ${uploaded.sha256.slice(0, 12)}…`);
      onUploaded();
    } catch (e) {
      setError(asError(e));
    } finally {
      setProgress(undefined);
    }
  };
  return (
    <form class="form upload" onSubmit={submit} aria-labelledby="upload-title">
      <h2 id="upload-title">Upload a version</h2>
      <label
        class={`drop ${dragging ? 'over' : ''}`}
        data-testid="drop-zone"
        onDragOver={(e) => (e.preventDefault(), setDragging(true))}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          void choose(e.dataTransfer?.files[0]);
        }}
      >
        <span>{file ? `${file.name} · ${formatBytes(file.size)} · ${format || 'unknown format'}` : 'Drop a model file here, or choose one'}</span>
        <input type="file" aria-label="Model file" onChange={(e) => void choose(e.currentTarget.files?.[0])} />
      </label>
      <div class="field">
        <label for="u-format">Format</label>
        <select id="u-format" value={format} onChange={(e) => setFormat(e.currentTarget.value as ArtifactFormat)}>
          <option value="">Unknown</option>
          <option value="onnx">ONNX</option>
          <option value="tflite">TFLite</option>
          <option value="tfjs">TF.js</option>
        </select>
      </div>
      <div class="field">
        <label for="u-version">Version (semver)</label>
        <input id="u-version" required maxLength={100} placeholder="1.0.0" value={version} onInput={(e) => setVersion(e.currentTarget.value)} />
      </div>
      <div class="field">
        <label for="u-variant">Variant</label>
        <input id="u-variant" required maxLength={50} value={variant} onInput={(e) => setVariant(e.currentTarget.value)} />
      </div>
      <div class="field check">
        <input id="u-selftest" type="checkbox" checked={selfTest} onChange={(e) => setSelfTest(e.currentTarget.checked)} />
        <label for="u-selftest">Self-test auto (the control plane computes the expected output)</label>
      </div>
      <button type="submit" disabled={!file || !format || !version.trim() || progress !== undefined}>
        Upload
      </button>
      {progress && <ProgressBar label="Upload" value={progress.sent} max={progress.total} tone="busy" />}
      {done && (
        <p role="status" data-testid="upload-done">
          {done}
        </p>
      )}
      <ProblemNote error={error} />
    </form>
  );
}
