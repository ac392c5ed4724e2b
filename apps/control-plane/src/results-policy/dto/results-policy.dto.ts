import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsIn, IsISO8601, IsNumber, IsOptional, IsString, Length, Max } from 'class-validator';
import { MAX_REQUESTED_RESULTS, RESULTS_POLICY_MODES, type ResultsPolicy, type ResultsPolicyMode } from '#protocol';

export class ResultsPolicyDto {
  @ApiProperty({
    enum: RESULTS_POLICY_MODES,
    description: '`all`: every inference result is sent and stored. `sample`: results whose inputRef hashes below `rate` (deterministic). `aggregates`: none; heartbeats still carry counts and latency histograms',
    example: 'sample',
  })
  @IsIn(RESULTS_POLICY_MODES)
  mode!: ResultsPolicyMode;

  @ApiPropertyOptional({ description: 'With `sample` only: the fraction of results sent, 0 < rate ≤ 1', example: 0.1, minimum: 0, exclusiveMinimum: true, maximum: 1 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Max(1)
  rate?: number;

  static from(policy: ResultsPolicy): ResultsPolicyDto {
    return { mode: policy.mode, ...(policy.rate === undefined ? {} : { rate: policy.rate }) };
  }
}

export class ModelResultsPolicyDto {
  @ApiProperty() model!: string;
  @ApiProperty({ type: ResultsPolicyDto }) resultsPolicy!: ResultsPolicyDto;
  @ApiProperty({ description: 'Nodes whose retained desired state (a version of this model) was re-signed with the new policy' }) republishedNodes!: number;
}

export class RolloutResultsPolicyDto {
  @ApiProperty({ format: 'uuid' }) rolloutId!: string;
  @ApiProperty({ type: ResultsPolicyDto }) resultsPolicy!: ResultsPolicyDto;
  @ApiProperty({ description: 'Nodes whose retained desired state (delivered by this rollout) was re-signed with the new policy' }) republishedNodes!: number;
}

export class ResultsRequestDto {
  @ApiPropertyOptional({ type: [String], description: `The inputRefs whose kept results the node sends (1–${MAX_REQUESTED_RESULTS}); or give from and to`, example: ['img-000123'] })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_REQUESTED_RESULTS)
  @IsString({ each: true })
  @Length(1, 200, { each: true })
  inputRefs?: string[];

  @ApiPropertyOptional({ description: 'Inference time range start (ISO 8601), with `to`', example: '2026-12-01T10:00:00Z' }) @IsOptional() @IsISO8601({ strict: true }) @Length(1, 40) from?: string;
  @ApiPropertyOptional({ description: 'Inference time range end (ISO 8601), with `from`', example: '2026-12-01T11:00:00Z' }) @IsOptional() @IsISO8601({ strict: true }) @Length(1, 40) to?: string;
}

export class ResultsRequestAcceptedDto {
  @ApiProperty({ description: 'The id of the MQTT request (the node logs it with its answer)' }) requestId!: string;
  @ApiProperty() nodeId!: string;
}
