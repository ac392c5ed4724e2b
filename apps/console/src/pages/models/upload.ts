import { ApiProblemError, type Schemas, toProblem } from '#api-client';

export type ArtifactFormat = Schemas['UploadVersionBodyDto']['format'];
export type ArtifactEngine = Schemas['UploadVersionBodyDto']['engine'];
export const ENGINE_FOR_FORMAT: Record<ArtifactFormat, ArtifactEngine> = { onnx: 'onnxruntime', tflite: 'litert', tfjs: 'tfjs' };

/** The format from the first bytes, as the CLI detects it (docs/cli.md, models push). */
export async function detectFormat(file: Blob): Promise<ArtifactFormat | undefined> {
  const head = new Uint8Array(await file.slice(0, 256).arrayBuffer());
  if (head.length >= 8 && String.fromCharCode(...head.subarray(4, 8)) === 'TFL3') return 'tflite';
  const text = new TextDecoder().decode(head).trimStart();
  if (text.startsWith('{') && text.includes('"edgefleet-tfjs-v1"')) return 'tfjs';
  if (head[0] === 0x08) return 'onnx';
  return undefined;
}

/** `--self-test auto`'s input: deterministic, in [0, 1), of the model's declared input size. */
export function autoSelfTestInput(inputSpec: Record<string, unknown>): number[] {
  const shape = inputSpec['shape'];
  const size = Array.isArray(shape) && shape.every((d) => Number.isSafeInteger(d) && (d as number) > 0) ? (shape as number[]).reduce((a, d) => a * d, 1) : 0;
  if (size <= 0 || size > 1_000_000) throw new Error("the model's inputSpec.shape does not give an input size for the self-test");
  return Array.from({ length: size }, (_, i) => ((i * 37) % 101) / 101);
}

export interface UploadRequest {
  readonly apiKey: string;
  readonly model: string;
  readonly file: File;
  readonly version: string;
  readonly variant: string;
  readonly format: ArtifactFormat;
  /** The self-test input (the server computes the expected output), or null to ship without one. */
  readonly selfTestInput: number[] | null;
  readonly onProgress: (sent: number, total: number) => void;
}

/**
 * fetch() reports no upload progress, XMLHttpRequest does: the bar follows the bytes the browser sent.
 * The answer is the signed version, or an ApiProblemError with the server's problem+json.
 */
export function uploadVersion(req: UploadRequest): Promise<Schemas['ModelVersionDto']> {
  const body = new FormData();
  body.set('version', req.version);
  body.set('variant', req.variant);
  body.set('format', req.format);
  body.set('engine', ENGINE_FOR_FORMAT[req.format]);
  if (req.selfTestInput) body.set('selfTest', JSON.stringify({ input: req.selfTestInput }));
  else body.set('skipSelfTest', 'true');
  // The file part comes last: the server reads the fields before it streams the artifact.
  body.set('artifact', req.file, req.file.name);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/v1/models/${encodeURIComponent(req.model)}/versions`);
    xhr.setRequestHeader('Authorization', `Bearer ${req.apiKey}`);
    xhr.responseType = 'json';
    xhr.upload.onprogress = (e) => e.lengthComputable && req.onProgress(e.loaded, e.total);
    xhr.onerror = () => reject(new Error('the upload failed (network)'));
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr.response as Schemas['ModelVersionDto']);
      else reject(new ApiProblemError(xhr.status, toProblem(xhr.status, xhr.response)));
    };
    xhr.send(body);
  });
}
