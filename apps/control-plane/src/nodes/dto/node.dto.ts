import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';
import type { Labels } from '../label-selector.js';
import { type EdgeNode, type HardwareProfile, NODE_STATUSES, type NodeStatus } from '../node.entity.js';
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
  @ApiProperty({ type: Object, example: { tier: 'canary', obsolete: null }, description: 'Merge patch: null removes a label' })
  @IsLabelMap({ allowNull: true })
  labels!: Record<string, string | null>;
}

/** What anyone with read access sees. Never the node key: it is half of what re-enrols a node. */
export class NodeDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: Object }) labels!: Labels;
  @ApiProperty({ type: Object }) hardware!: HardwareProfile;
  @ApiProperty({ enum: NODE_STATUSES }) status!: NodeStatus;
  @ApiProperty({ nullable: true, type: String }) currentModelVersionId!: string | null;
  @ApiProperty() enrolledAt!: string;
  @ApiProperty({ nullable: true, type: String }) lastSeenAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) decommissionedAt!: string | null;

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
    };
  }
}

export class NodePageDto {
  @ApiProperty({ type: [NodeDto] }) items!: NodeDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `cursor` for the next page' }) nextCursor!: string | null;
}
