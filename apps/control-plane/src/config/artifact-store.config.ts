import { z } from 'zod';

/**
 * The artifact store's settings (docs/configuration.md#artifact-store): `fs`, the default, keeps blobs in
 * ARTIFACT_DIR on one replica's disk; `s3` in a bucket of any S3-compatible store that every replica shares.
 */
export type ArtifactStoreConfig =
  | { readonly driver: 'fs' }
  | {
      readonly driver: 's3';
      readonly bucket: string;
      /** Empty, or ending in `/`: every key of this installation starts with it. */
      readonly prefix: string;
      /** Unset for AWS S3; MinIO, R2 and other S3-compatible stores need theirs. */
      readonly endpoint?: string;
      readonly region: string;
      /** `bucket.host/key` (virtual-hosted, AWS and R2) or `host/bucket/key` (MinIO, most self-hosted stores). */
      readonly forcePathStyle: boolean;
      /** Unset: the AWS SDK's default chain (AWS_* variables, shared files, instance or task roles). */
      readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
      readonly partSizeBytes: number;
      /** Bound of the chunk-read block cache (broadcasts and repairs). */
      readonly readCacheBytes: number;
    };

/** S3's CopyObject copies at most 5 GiB in one request, and `commit` copies the staged upload once. */
export const S3_MAX_OBJECT_BYTES = 5 * 1024 ** 3;

const booleanFlag = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

const artifactStoreEnv = {
  ARTIFACT_STORE: z.enum(['fs', 's3']).default('fs'),
  /** S3's bucket naming rules (lowercase, 3-63 characters); R2 and MinIO follow them. */
  S3_BUCKET: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, '3-63 lowercase letters, digits, . or -, starting and ending with a letter or digit').optional(),
  S3_PREFIX: z
    .string()
    .max(256)
    .regex(/^(?!\/)[A-Za-z0-9!_.*'()/-]*$/, "letters, digits and !_.*'()/- only, not starting with /")
    .refine((p) => !p.split('/').includes('..'), 'no .. segments')
    .default(''),
  S3_ENDPOINT: z
    .string()
    .max(2048)
    .refine((v) => /^https?:$/.test(safeProtocol(v)), 'must be an http:// or https:// URL')
    .optional(),
  /** `auto` for Cloudflare R2; any region name for MinIO (it ignores it unless configured). */
  S3_REGION: z.string().regex(/^[a-z0-9-]{1,32}$/, 'a region name such as us-east-1, or auto').default('us-east-1'),
  S3_FORCE_PATH_STYLE: booleanFlag.default(false),
  S3_ACCESS_KEY_ID: z.string().min(1).max(256).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).max(256).optional(),
  S3_SESSION_TOKEN: z.string().min(1).max(8192).optional(),
  /** S3 refuses parts under 5 MiB (but the last); lib-storage holds two parts per upload in memory. */
  S3_PART_SIZE_MB: z.coerce.number().int().min(5).max(512).default(8),
  S3_READ_CACHE_MB: z.coerce.number().int().min(1).max(4096).default(32),
};

/** Spread into the control plane's env schema (`.shape`). */
export const artifactStoreSchema = z.object(artifactStoreEnv);
type Env = z.output<typeof artifactStoreSchema> & { ARTIFACT_MAX_BYTES: number };

/** The store's settings, or the problems with them (each naming its variable). */
export function artifactStoreConfig(e: Env): { config: ArtifactStoreConfig; problems: string[] } {
  const problems: string[] = [];
  const s3Set = (['S3_BUCKET', 'S3_ENDPOINT', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'S3_SESSION_TOKEN'] as const).filter((k) => e[k] !== undefined);
  if (e.ARTIFACT_STORE === 'fs') {
    // An operator who set these believes artifacts go to the bucket: say they do not.
    if (s3Set.length > 0) problems.push(`ARTIFACT_STORE: is fs (the default) but ${s3Set.join(', ')} ${s3Set.length > 1 ? 'are' : 'is'} set; set ARTIFACT_STORE=s3 to use the bucket`);
    return { config: { driver: 'fs' }, problems };
  }
  if (e.S3_BUCKET === undefined) problems.push('S3_BUCKET: required when ARTIFACT_STORE=s3');
  if ((e.S3_ACCESS_KEY_ID === undefined) !== (e.S3_SECRET_ACCESS_KEY === undefined)) problems.push('S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both, or neither to use the AWS default credential chain');
  if (e.S3_SESSION_TOKEN !== undefined && e.S3_ACCESS_KEY_ID === undefined) problems.push('S3_SESSION_TOKEN: only with S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY');
  if (e.ARTIFACT_MAX_BYTES > S3_MAX_OBJECT_BYTES) problems.push(`ARTIFACT_MAX_BYTES: at most ${S3_MAX_OBJECT_BYTES} (5 GiB) with ARTIFACT_STORE=s3 (one CopyObject per upload)`);
  const credentials =
    e.S3_ACCESS_KEY_ID !== undefined && e.S3_SECRET_ACCESS_KEY !== undefined
      ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY, ...(e.S3_SESSION_TOKEN ? { sessionToken: e.S3_SESSION_TOKEN } : {}) }
      : undefined;
  return {
    config: {
      driver: 's3',
      bucket: e.S3_BUCKET ?? '',
      prefix: e.S3_PREFIX === '' || e.S3_PREFIX.endsWith('/') ? e.S3_PREFIX : `${e.S3_PREFIX}/`,
      endpoint: e.S3_ENDPOINT,
      region: e.S3_REGION,
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      credentials,
      partSizeBytes: e.S3_PART_SIZE_MB * 1024 * 1024,
      readCacheBytes: e.S3_READ_CACHE_MB * 1024 * 1024,
    },
    problems,
  };
}

function safeProtocol(value: string): string {
  try {
    return new URL(value).protocol;
  } catch {
    return '';
  }
}
