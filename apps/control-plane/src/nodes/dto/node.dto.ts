import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';
import type { Labels } from '../label-selector.js';
import { ATTESTATION_VERDICTS, type AttestationVerdict, type EdgeNode, type HardwareProfile, NODE_STATUSES, type NodeStatus } from '../node.entity.js';
import { IsLabelMap } from './labels.validator.js';

export class ListNodesQuery {
  @ApiPropertyOptional({ description: "Label selector, e.g. `site=lyon,tier in (a,b),!gpu`" })
  @IsOptional()
  @IsString()
  @Length(0, 2000)
  selector?: string;

  @ApiPropertyOptional({ enum: NODE_STATUSES }) @IsOptional() @IsIn(NODE_STATUSES) status?: NodeStatus;
  @ApiPropertyOptional() @IsOptional() @IsUUID() modelVersionId?: string;

  @ApiPropertyOptional({ default: 100, maximum: 1000 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;

  @ApiPropertyOptional({ description: 'nextCursor of the previous page' }) @IsOptional() @IsUUID() cursor?: string;
}

export class UpdateNodeDto {
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string', nullable: true }, example: { tier: 'canary', obsolete: null }, description: 'Merge patch: null removes a label' })
  @IsLabelMap({ allowNull: true })
  labels!: Record<string, string | null>;
}

export class AttestationDto {
  @ApiProperty({ enum: ATTESTATION_VERDICTS, description: 'verified: the loaded bytes are the assigned release; mismatch: signed, but other bytes; invalid: the signature does not verify; stale: no report judged for two nonce epochs' })
  verdict!: AttestationVerdict;
  @ApiProperty({ nullable: true, type: String, description: 'sha256 of the model bytes the engine loaded, as reported' }) sha256!: string | null;
  @ApiProperty() at!: string;
}

/** What anyone with read access sees. Never the node key: it is half of what re-enrols a node. */
export class NodeDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Labels;
  @ApiProperty({ type: 'object', additionalProperties: true }) hardware!: HardwareProfile;
  @ApiProperty({ enum: NODE_STATUSES }) status!: NodeStatus;
  @ApiProperty({ nullable: true, type: String }) currentModelVersionId!: string | null;
  @ApiProperty() enrolledAt!: string;
  @ApiProperty({ nullable: true, type: String }) lastSeenAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) decommissionedAt!: string | null;
  @ApiProperty({ nullable: true, type: AttestationDto, description: 'The latest attestation report judged (docs/security.md#attestation); null before the first' })
  attestation!: AttestationDto | null;

  static from(n: EdgeNode): NodeDto {
    return {
      id: n.id,
      name: n.name,
      labels: n.labels,
      hardware: n.hardware,
      status: n.status,
      currentModelVersionId: n.currentModelVersionId,
      enrolledAt: n.enrolledAt.toISOString(),
      lastSeenAt: n.lastSeenAt?.toISOString() ?? null,
      decommissionedAt: n.decommissionedAt?.toISOString() ?? null,
      attestation: n.attestation && n.attestedAt ? { verdict: n.attestation, sha256: n.attestedSha256, at: n.attestedAt.toISOString() } : null,
    };
  }
}

export class NodePageDto {
  @ApiProperty({ type: [NodeDto] }) items!: NodeDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page' }) nextCursor!: string | null;
}

export class FleetSummaryQuery {
  @ApiPropertyOptional({ description: 'Label selector, as for GET /v1/nodes' })
  @IsOptional()
  @IsString()
  @Length(0, 2000)
  selector?: string;
}

export class FleetSummaryDto {
  @ApiProperty({ example: 120 }) total!: number;
  @ApiProperty({ example: 110 }) online!: number;
  @ApiProperty({ example: 8 }) offline!: number;
  @ApiProperty({ example: 2 }) decommissioned!: number;
  @ApiProperty({ example: 5, description: 'Active nodes whose latest deployment has no outcome yet' }) updating!: number;
  @ApiProperty({ example: 1, description: 'Active nodes whose latest deployment failed, was rolled back or rejected' }) failed!: number;
}

export class HeartbeatsQuery {
  @ApiPropertyOptional({ default: 120, maximum: 1000, description: 'How many of the latest heartbeats' })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit?: number;
}

export class HeartbeatPointDto {
  @ApiProperty({ format: 'date-time' }) sentAt!: string;
  @ApiProperty({ example: 0.37, description: 'CPU load as the node reported it' }) cpu!: number;
  @ApiProperty({ example: 212 }) memMb!: number;
  @ApiProperty({ example: 1200, description: 'Inferences since the previous heartbeat' }) inferences!: number;
  @ApiProperty({ example: 0 }) errors!: number;
  @ApiProperty({ nullable: true, type: Number }) latencyP50Ms!: number | null;
  @ApiProperty({ nullable: true, type: Number }) latencyP99Ms!: number | null;
}
