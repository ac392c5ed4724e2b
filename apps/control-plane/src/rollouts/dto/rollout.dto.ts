import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsArray, IsBoolean, IsIn, IsInt, IsISO8601, IsObject, IsOptional, IsString, IsUUID, Length, Max, Min, ValidateNested } from 'class-validator';
import { SHADOW_DECISIONS } from '#protocol';
import { ROLLOUT_NODE_STATES, type RolloutNodeState } from '../rollout-node.entity.js';
import type { NodeShadowStage } from '../rollout-views.repository.js';
import { ROLLOUT_STATES, type RolloutState } from '../rollout.entity.js';
import type { RolloutStrategy, VariantRule } from '../strategy.js';
import { RolloutShadowDto } from './rollout-shadow.dto.js';
import { ResultsPolicyDto } from '../../results-policy/dto/results-policy.dto.js';

const STRATEGY_EXAMPLE = {
  waves: { percentages: [5, 25, 100] },
  maxNodesPerMinute: 500,
  bakeSeconds: 600,
  successThreshold: 95,
  failureThreshold: { percent: 10, minExecuted: 20 },
  nodeTimeoutSeconds: 900,
  retries: { max: 2, backoffSeconds: 60 },
  maintenanceWindow: { cron: '0 2 * * *', durationMinutes: 240, timezone: 'Europe/Paris' },
  continuous: true,
  requireApproval: false,
  healthGates: { windowSeconds: 300, minSamples: 50, maxLatencyP99Ratio: 1.5, maxErrorRateIncrease: 0.01, maxConfidenceDrop: 0.05 },
  rollbackOnHalt: true,
};

export class VariantMatchDto {
  @ApiPropertyOptional({ description: 'Label selector the node must match', example: 'power=low' }) selector?: string;
  @ApiPropertyOptional({ description: 'The node has at most this much RAM', example: 1024 }) maxRamMb?: number;
}

export class VariantRuleDto {
  @ApiProperty({ format: 'uuid', description: 'The model version (one variant) these nodes get' }) modelVersionId!: string;
  @ApiPropertyOptional({ type: VariantMatchDto, description: 'Which nodes the rule accepts; absent = every node whose engines run it' }) match?: VariantMatchDto;
}

export class CreateRolloutDto {
  @ApiProperty({ example: 'digits 1.3 to the lyon line' }) @IsString() @Length(1, 200) name!: string;

  @ApiPropertyOptional({ description: 'One version for every node (or give variants)' })
  @IsOptional()
  @IsUUID()
  modelVersionId?: string;

  @ApiPropertyOptional({
    type: [VariantRuleDto],
    description: 'Variant per hardware: the first rule whose match accepts a node (labels, RAM) and whose engine the node runs gives its version',
    example: [{ modelVersionId: '…int8…', match: { maxRamMb: 1024 } }, { modelVersionId: '…int8…', match: { selector: 'power=low' } }, { modelVersionId: '…fp32…' }],
  })
  @IsOptional()
  @IsArray()
  variants?: unknown[];

  @ApiPropertyOptional({ description: "Label selector over active nodes; '' or absent = every node", example: 'site=lyon' })
  @IsOptional()
  @IsString()
  @Length(0, 2000)
  selector?: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true, description: 'Rollout strategy; every field is optional (see docs/rollouts.md)', example: STRATEGY_EXAMPLE })
  @IsOptional()
  @IsObject()
  strategy?: Record<string, unknown>;

  @ApiPropertyOptional({ type: ResultsPolicyDto, description: "What the rollout's nodes send of their inference results, overriding the model's policy for the rollout's versions" })
  @IsOptional()
  @ValidateNested()
  @Type(() => ResultsPolicyDto)
  resultsPolicy?: ResultsPolicyDto;
}

export class StartRolloutDto {
  @ApiPropertyOptional({ description: 'Start at this time instead of now (ISO 8601)' }) @IsOptional() @IsISO8601() at?: string;
}

export class AbortRolloutDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 500) reason?: string;
  @ApiPropertyOptional({ description: 'Return the nodes the rollout reached to their previous version' }) @IsOptional() @IsBoolean() rollback?: boolean;
}

export class ListRolloutsQuery {
  @ApiPropertyOptional({ enum: ROLLOUT_STATES }) @IsOptional() @IsIn(ROLLOUT_STATES) state?: RolloutState;

  @ApiPropertyOptional({ default: 200, minimum: 1, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ description: 'Id of the last rollout of the previous page (keyset pagination, newest first)' }) @IsOptional() @IsUUID() after?: string;
}

export class RolloutNodesQuery {
  @ApiPropertyOptional({ default: 100, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'Node id to continue after (keyset pagination)' }) @IsOptional() @IsUUID() after?: string;
}

export class RolloutDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty() modelId!: string;
  @ApiProperty({ type: [VariantRuleDto] }) variants!: VariantRule[];
  @ApiProperty() selector!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) strategy!: RolloutStrategy;
  @ApiProperty({ type: ResultsPolicyDto, nullable: true, description: "The rollout's results policy; null: the model's" }) resultsPolicy!: ResultsPolicyDto | null;
  @ApiProperty({ enum: ROLLOUT_STATES }) state!: RolloutState;
  @ApiProperty({ description: '1-based' }) currentWave!: number;
  @ApiProperty({ type: [Number] }) waveSizes!: number[];
  @ApiProperty({ nullable: true, type: String }) bakeUntil!: string | null;
  @ApiProperty({ nullable: true, type: String }) scheduledAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) approvedBy!: string | null;
  @ApiProperty({ nullable: true, type: String }) haltReason!: string | null;
  @ApiProperty() createdBy!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) startedAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) finishedAt!: string | null;
}

export class RolloutEventDto {
  @ApiProperty() id!: string;
  @ApiProperty() kind!: string;
  @ApiProperty() actor!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) detail!: Record<string, unknown>;
  @ApiProperty() at!: string;
}

export class RolloutWaveDto {
  @ApiProperty() wave!: number;
  @ApiProperty() planned!: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'number' }, description: 'nodes by state' }) states!: Record<string, number>;
  @ApiPropertyOptional({ type: RolloutShadowDto, description: 'Shadow evaluation figures of the wave (rollouts with strategy.shadow, waves reached so far)' })
  shadow?: RolloutShadowDto;
}

export class RolloutDetailDto extends RolloutDto {
  @ApiProperty({ type: [RolloutWaveDto] }) waves!: RolloutWaveDto[];
  @ApiProperty({ type: [RolloutEventDto] }) events!: RolloutEventDto[];
}

export class RollbackRolloutDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 500) reason?: string;
}

export class NodeFailureDto {
  @ApiProperty({ description: 'Machine-readable reason the node gave (self-test-failed, hash-mismatch, ...)', nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ description: "The node's own words (e.g. the engine's error, the self-test values)", nullable: true, type: String }) detail!: string | null;
}

export class RolloutNodeDto {
  @ApiProperty() nodeId!: string;
  @ApiProperty() nodeName!: string;
  @ApiProperty({ nullable: true, type: String, description: 'The deployment state the node last reported for its latest delivery' }) phase!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Download progress, 0..1' }) progress!: number | null;
  @ApiProperty({ nullable: true, type: NodeFailureDto, description: 'Set when the node reported a failure' }) failure!: NodeFailureDto | null;
  @ApiProperty({
    nullable: true,
    enum: ['shadowing', ...SHADOW_DECISIONS],
    description:
      "The node's shadow evaluation (rollouts with strategy.shadow): `shadowing` while it runs the candidate beside the serving model (its phase stays `self-tested`) and no decision is signed to it; then the decision signed to it, `activate` or `abandon`. Null without a shadow order, or before the node self-tested the candidate",
  })
  shadow!: NodeShadowStage | null;
  @ApiProperty() wave!: number;
  @ApiProperty() modelVersionId!: string;
  @ApiProperty({ nullable: true, type: String }) previousModelVersionId!: string | null;
  @ApiProperty({ enum: ROLLOUT_NODE_STATES }) state!: RolloutNodeState;
  @ApiProperty() attempts!: number;
  @ApiProperty({ nullable: true, type: String }) deploymentId!: string | null;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty() updatedAt!: string;
}

export class PlannedNodeDto {
  @ApiProperty() nodeId!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ description: '0-based wave index' }) wave!: number;
  @ApiProperty() modelVersionId!: string;
}

export class PlannedVariantDto {
  @ApiProperty() modelVersionId!: string;
  @ApiProperty({ example: '1.3.0' }) version!: string;
  @ApiProperty({ example: 'int8' }) variant!: string;
  @ApiProperty({ example: 'onnxruntime' }) engine!: string;
  @ApiProperty() artifactBytes!: number;
  @ApiProperty({ description: 'Nodes that get this variant' }) nodes!: number;
  @ApiProperty({ description: 'the bytes that travel per node (the encoded form when the version has one, else artifactBytes) × nodes: what the rollout sends' }) bytesToNodes!: number;
}

export class RolloutPlanDto {
  @ApiProperty({ type: [PlannedNodeDto] }) nodes!: PlannedNodeDto[];
  @ApiProperty({ type: [Number], example: [1, 4, 15] }) waveSizes!: number[];
  @ApiProperty({ description: 'Matching nodes no variant rule accepts (or whose engines cannot run the variant)' }) unmatched!: number;
  @ApiProperty({ type: [PlannedVariantDto] }) variants!: PlannedVariantDto[];
}
