import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsNumber,
  Min,
  ValidateNested,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  MaxLength,
} from 'class-validator';
import type { Model } from '../model.entity.js';
import { ARTIFACT_ENCODINGS, type ArtifactEncodingName, modelManifestSchema, SEND_ALL_RESULTS } from '#protocol';
import { ResultsPolicyDto } from '../../results-policy/dto/results-policy.dto.js';
import { IsReleaseVersion } from './release-version.js';
import { INFERENCE_ENGINES, type InferenceEngine, MODEL_FORMATS, type ModelFormat, type ModelVersion } from '../model-version.entity.js';

export const MODEL_NAME = /^[a-z0-9][a-z0-9-]{0,99}$/;
const VARIANT = /^[a-z0-9][a-z0-9_-]{0,31}$/;

export class CreateModelDto {
  @ApiProperty({ example: 'digits-cnn' }) @Matches(MODEL_NAME, { message: 'name must be lowercase letters, digits and dashes' }) name!: string;
  @ApiProperty({ example: 'image-classification' }) @IsString() @Length(1, 50) task!: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @MaxLength(2000) description?: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { name: 'input', shape: [1, 28, 28, 1], dtype: 'float32' } }) @IsObject() inputSpec!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { name: 'probabilities', shape: [1, 10], dtype: 'float32' } }) @IsObject() outputSpec!: Record<string, unknown>;

  @ApiPropertyOptional({ example: ['0', '1', '2'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100_000)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  classLabels?: string[];

  @ApiPropertyOptional({ type: ResultsPolicyDto, description: 'What its nodes send of their inference results (default `all`); set later with PUT /v1/models/{name}/results-policy' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ResultsPolicyDto)
  resultsPolicy?: ResultsPolicyDto;
}

export class ModelDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() task!: string;
  @ApiProperty() description!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) inputSpec!: Record<string, unknown>;
  @ApiProperty({ type: 'object', additionalProperties: true }) outputSpec!: Record<string, unknown>;
  @ApiProperty({ type: [String] }) classLabels!: string[];
  @ApiProperty({ type: ResultsPolicyDto, description: 'What its nodes send of their inference results (a rollout may override it); `all` when none was set' }) resultsPolicy!: ResultsPolicyDto;
  @ApiProperty() createdAt!: string;

  static from(m: Model): ModelDto {
    return {
      id: m.id,
      name: m.name,
      task: m.task,
      description: m.description,
      inputSpec: m.inputSpec,
      outputSpec: m.outputSpec,
      classLabels: m.classLabels,
      resultsPolicy: ResultsPolicyDto.from(m.resultsPolicy ?? SEND_ALL_RESULTS),
      createdAt: m.createdAt.toISOString(),
    };
  }
}

/** Multipart fields that carry JSON; the controller decodes them before validation. */
export const JSON_UPLOAD_FIELDS = ['metrics', 'preprocessing', 'selfTest', 'skipSelfTest', 'referenceStats'] as const;

export class SelfTestDto {
  @ApiProperty({ type: [Number], description: 'Golden input, before the preprocessing (as clients send it)' })
  @IsArray()
  @ArrayMaxSize(1_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true })
  input!: number[];

  @ApiPropertyOptional({ type: [Number], description: 'Expected output; computed by running the artifact at upload when absent' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(1_000_000)
  @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true })
  expectedOutput?: number[];

  @ApiPropertyOptional({ default: 1e-4, description: 'Largest absolute difference allowed per output value' })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(0)
  @Max(1e6)
  tolerance?: number;
}

/** The text fields of the multipart upload that accompanies an artifact. */
export class UploadVersionFieldsDto {
  @ApiProperty({ example: '1.0.0', maxLength: 64 }) @IsReleaseVersion() version!: string;
  @ApiProperty({ example: 'fp32' }) @Matches(VARIANT, { message: 'variant must be lowercase letters, digits, - or _' }) variant!: string;
  @ApiProperty({ enum: MODEL_FORMATS }) @IsIn(MODEL_FORMATS) format!: ModelFormat;
  @ApiProperty({ enum: INFERENCE_ENGINES }) @IsIn(INFERENCE_ENGINES) engine!: InferenceEngine;

  @ApiPropertyOptional({ description: 'JSON object, e.g. {"accuracy":0.984}' })
  @IsOptional()
  @IsObject({ message: 'metrics must be a JSON object' })
  metrics?: Record<string, unknown>;

  @ApiPropertyOptional({ description: 'JSON object the agent applies before inference, e.g. {"scale":0.00392156862745098,"layout":"NHWC"}' })
  @IsOptional()
  @IsObject({ message: 'preprocessing must be a JSON object' })
  preprocessing?: Record<string, unknown>;

  @ApiPropertyOptional({
    type: SelfTestDto,
    description:
      'JSON {"input":[...],"expectedOutput":[...],"tolerance":1e-4}: the golden self-test signed into the manifest. The artifact is run on the input at upload: it must reproduce expectedOutput, or gives it when absent. Required unless skipSelfTest is true.',
  })
  @IsOptional()
  @ValidateNested()
  @Type(() => SelfTestDto)
  selfTest?: SelfTestDto;

  @ApiPropertyOptional({ description: 'true: ship without a golden self-test (nodes then only check that an all-zero input gives finite outputs)' })
  @IsOptional()
  @IsBoolean({ message: 'skipSelfTest must be true or false' })
  skipSelfTest?: boolean;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description:
      'JSON: reference statistics from training, signed into the manifest for drift (docs/drift.md): {"samples":n,"input":{"mean","std","bins":{"edges":[...],"fractions":[...]}},"confidence":{"edges":[...],"fractions":[...]}}; at most 63 edges per distribution, strictly increasing, fractions summing to 1.',
  })
  @IsOptional()
  @IsObject({ message: 'referenceStats must be a JSON object' })
  referenceStats?: Record<string, unknown>;

  @ApiPropertyOptional({
    enum: ARTIFACT_ENCODINGS,
    description:
      'Ship the artifact compressed: the control plane stores its gzip form beside it, signs both digests into the manifest, and chunks and serves the gzip form; nodes verify it, decode it (bounded to the signed size) and verify the model. Agents older than this field refuse such a deployment (rejected, hash-mismatch) before downloading anything: use it only for fleets of current agents.',
  })
  @IsOptional()
  @IsIn(ARTIFACT_ENCODINGS)
  encoding?: ArtifactEncodingName;
}

export class UploadVersionBodyDto extends UploadVersionFieldsDto {
  @ApiProperty({ type: 'string', format: 'binary' }) artifact!: unknown;
}

/** The bytes that travel for a version stored with a content encoding. */
export class WireArtifactDto {
  @ApiProperty({ enum: ARTIFACT_ENCODINGS }) encoding!: string;
  @ApiProperty() sha256!: string;
  @ApiProperty() sizeBytes!: number;
  @ApiProperty({ example: '/v1/artifacts/2c26b4…' }) downloadUrl!: string;
}

export class ModelVersionDto {
  @ApiProperty() id!: string;
  @ApiProperty() model!: string;
  @ApiProperty() version!: string;
  @ApiProperty() variant!: string;
  @ApiProperty({ enum: MODEL_FORMATS }) format!: ModelFormat;
  @ApiProperty({ enum: INFERENCE_ENGINES }) engine!: InferenceEngine;
  @ApiProperty() sha256!: string;
  @ApiProperty() sizeBytes!: number;
  @ApiProperty({ type: 'object', additionalProperties: true }) metrics!: Record<string, unknown>;
  @ApiProperty() createdBy!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ example: '/v1/artifacts/9f86d0…' }) downloadUrl!: string;
  @ApiProperty({ description: 'Release order within the model, signed into the manifest (nodes refuse one not above what they run); 0 until the version is first deployed, then re-issued above every other decision each time it is deployed again after one' }) sequence!: number;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The manifest signed by the release keys' }) manifest!: Record<string, unknown>;
  @ApiPropertyOptional({ type: WireArtifactDto, description: 'Present when the artifact travels encoded: the encoded bytes nodes receive (sha256 and sizeBytes above are the decoded model)' }) wire?: WireArtifactDto;

  static from(v: ModelVersion, modelName: string): ModelVersionDto {
    return {
      id: v.id,
      model: modelName,
      version: v.version,
      variant: v.variant,
      format: v.format,
      engine: v.engine,
      sha256: v.artifactSha256,
      sizeBytes: v.artifact.sizeBytes,
      metrics: v.metrics,
      createdBy: v.createdBy,
      createdAt: v.createdAt.toISOString(),
      downloadUrl: `/v1/artifacts/${v.artifactSha256}`,
      sequence: v.sequence,
      manifest: v.manifest,
      ...wireOf(v),
    };
  }
}

/** The encoded form as the signed manifest names it (the size is the manifest's: the same bytes). */
function wireOf(v: ModelVersion): { wire?: WireArtifactDto } {
  const encoding = modelManifestSchema.shape.encoding.safeParse((v.manifest as { signed?: { encoding?: unknown } }).signed?.encoding).data;
  if (!v.wireSha256 || !encoding) return {};
  return { wire: { encoding: encoding.name, sha256: v.wireSha256, sizeBytes: encoding.size, downloadUrl: `/v1/artifacts/${v.wireSha256}` } };
}

export class DeleteVersionQuery {
  @ApiPropertyOptional({ description: 'Delete only this variant' }) @IsOptional() @Matches(VARIANT) variant?: string;
}

/** Publisher-signed releases: the version's manifest as its publishers signed it (`keys sign-release`). */
export class ReleaseVersionDto {
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The signed manifest envelope {signed, signatures}: the uploaded manifest with the publisher\'s sequence and lifetime, signed by the release threshold' })
  @IsObject()
  manifest!: Record<string, unknown>;
}
