import { Body, Controller, Get, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { Type } from 'class-transformer';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiRead, ApiWrite } from '../common/openapi.js';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min } from 'class-validator';
import { DEPLOYMENT_STATES, type DeploymentState } from '#protocol';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { DeploymentsService } from './deployments.service.js';

export class CreateDeploymentDto {
  @ApiProperty() @IsUUID() modelVersionId!: string;

  @ApiPropertyOptional({ type: [String], description: 'Explicit nodes (or use selector)' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(100_000)
  @IsUUID('all', { each: true })
  nodeIds?: string[];

  @ApiPropertyOptional({ description: 'Label selector over active nodes (or use nodeIds)' })
  @IsOptional()
  @IsString()
  @Length(0, 2000)
  selector?: string;
}

export class DeploymentDto {
  @ApiProperty() id!: string;
  @ApiProperty() modelVersionId!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty() nodeCount!: number;
  @ApiProperty() chunkCount!: number;
  @ApiProperty({ description: 'Chunk publishes the broadcast makes, one per chunk for the whole batch (it starts once every node has opened its download, or after BROADCAST_WAIT_MS)' })
  chunkPublishes!: number;
}

export class DeploymentTargetDto {
  @ApiProperty() nodeId!: string;
  @ApiProperty({ enum: DEPLOYMENT_STATES, nullable: true }) state!: DeploymentState | null;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Download progress of the latest status, 0..1' }) progress!: number | null;
  @ApiProperty({ nullable: true, type: String, description: "The node's detail text of its latest status (why it failed, what it waits for)" }) detail!: string | null;
  @ApiProperty() updatedAt!: string;
}

export class DeploymentDetailDto {
  @ApiProperty() id!: string;
  @ApiProperty() modelVersionId!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ type: [DeploymentTargetDto] }) targets!: DeploymentTargetDto[];
}

@ApiTags('deployments')
@ApiBearerAuth()
@Controller('v1/deployments')
export class DeploymentsController {
  constructor(private readonly deployments: DeploymentsService) {}

  @Post()
  @ApiDoc('Deploy a version directly', 'Sends one model version to the nodes named by `nodeIds` or matched by `selector`, all at once (no waves, no gates: use a rollout for that).')
  @ApiCreatedResponse({ type: DeploymentDto })
  @ApiWrite(404, 409)
  async create(@CurrentPrincipal() by: Principal, @Body() body: CreateDeploymentDto): Promise<DeploymentDto> {
    const s = await this.deployments.create(by, body);
    return {
      id: s.deployment.id,
      modelVersionId: s.deployment.modelVersionId,
      createdAt: s.deployment.createdAt.toISOString(),
      nodeCount: s.nodeIds.length,
      chunkCount: s.chunkCount,
      chunkPublishes: s.chunkPublishes,
    };
  }

  @Get(':id')
  @ApiDoc('Get a deployment', 'Each target node with the state, progress and detail it last reported.')
  @ApiOkResponse({ type: DeploymentDetailDto })
  @ApiRead(404)
  async get(@Param('id', ParseUUIDPipe) id: string): Promise<DeploymentDetailDto> {
    const { deployment, targets } = await this.deployments.get(id);
    return {
      id: deployment.id,
      modelVersionId: deployment.modelVersionId,
      createdAt: deployment.createdAt.toISOString(),
      targets: targets.map((t) => ({ nodeId: t.nodeId, state: t.state, reason: t.reason, progress: t.progress, detail: t.detail, updatedAt: t.updatedAt.toISOString() })),
    };
  }
}

export class NodeHistoryQuery {
  @ApiPropertyOptional({ default: 50, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;
}

export class NodeDeploymentDto {
  @ApiProperty() deploymentId!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty() model!: string;
  @ApiProperty() version!: string;
  @ApiProperty() variant!: string;
  @ApiProperty() modelVersionId!: string;
  @ApiProperty({ nullable: true, type: String }) rolloutId!: string | null;
  @ApiProperty({ nullable: true, type: String }) rolloutName!: string | null;
  @ApiProperty({ enum: DEPLOYMENT_STATES, nullable: true, description: 'The phase the node last reported' }) state!: DeploymentState | null;
  @ApiProperty({ nullable: true, type: String }) reason!: string | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Download progress, 0..1' }) progress!: number | null;
  @ApiProperty({ nullable: true, type: String, description: "The node's detail text (why it failed, what it waits for)" }) detail!: string | null;
  @ApiProperty() updatedAt!: string;
}

/** A node's deployment history (direct deployments and rollouts alike). */
@ApiTags('nodes')
@ApiBearerAuth()
@Controller('v1/nodes')
export class NodeDeploymentsController {
  constructor(private readonly deployments: DeploymentsService) {}

  @Get(':id/deployments')
  @ApiDoc("A node's deployment history", 'Direct deployments and rollouts alike, newest first, with the phase the node last reported for each.')
  @ApiOkResponse({ type: [NodeDeploymentDto] })
  @ApiRead(404)
  async history(@Param('id', ParseUUIDPipe) id: string, @Query() query: NodeHistoryQuery): Promise<NodeDeploymentDto[]> {
    const rows = await this.deployments.history(id, query.limit ?? 50);
    return rows.map((r) => ({ ...r, state: r.state as DeploymentState | null, createdAt: r.createdAt.toISOString(), updatedAt: r.updatedAt.toISOString() }));
  }
}
