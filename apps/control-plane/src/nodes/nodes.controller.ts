import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiRead, ApiWrite } from '../common/openapi.js';
import { CurrentPrincipal, type Principal, RequireRole } from '../auth/principal.js';
import { IdentityResetDto } from './dto/enrollment.dto.js';
import { EnrollmentService } from './enrollment.service.js';
import { FleetSummaryDto, FleetSummaryQuery, HeartbeatPointDto, HeartbeatsQuery, ListNodesQuery, NodeDto, NodePageDto, UpdateNodeDto } from './dto/node.dto.js';
import { FleetSummaryRepository } from './fleet-summary.repository.js';
import { NodeHeartbeatsRepository } from './node-heartbeats.repository.js';
import { NodesService } from './nodes.service.js';

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('v1/nodes')
export class NodesController {
  constructor(
    private readonly nodes: NodesService,
    private readonly enrollment: EnrollmentService,
    private readonly summaries: FleetSummaryRepository,
    private readonly heartbeats: NodeHeartbeatsRepository,
  ) {}

  @Get()
  @ApiDoc('List nodes', 'Nodes matching a label selector (Kubernetes syntax), a status and/or the model version they run; keyset pages: pass `nextCursor` back as `cursor`.')
  @ApiOkResponse({ type: NodePageDto })
  @ApiRead()
  async list(@Query() q: ListNodesQuery): Promise<NodePageDto> {
    const page = await this.nodes.list({ ...q, limit: q.limit ?? 100 });
    return { items: page.items.map((n) => NodeDto.from(n)), nextCursor: page.nextCursor };
  }

  // Declared before ':id', which would otherwise take 'summary' for an id.
  @Get('summary')
  @ApiDoc('Count the fleet', 'Nodes matching a label selector by status, and how many active ones are updating or failed (their latest deployment), in one query.')
  @ApiOkResponse({ type: FleetSummaryDto })
  @ApiRead()
  async summary(@Query() q: FleetSummaryQuery): Promise<FleetSummaryDto> {
    return this.summaries.summarize(q.selector ?? '');
  }

  @Get(':id')
  @ApiDoc('Get a node', 'Labels, hardware, status, the model version it runs and its latest attestation verdict.')
  @ApiOkResponse({ type: NodeDto })
  @ApiRead(404)
  async get(@Param('id', ParseUUIDPipe) id: string): Promise<NodeDto> {
    return NodeDto.from(await this.nodes.get(id));
  }

  @Get(':id/heartbeats')
  @ApiDoc("A node's latest heartbeats", 'Oldest first, at most `limit` (1000): CPU, memory, inferences and errors per heartbeat window, latency p50/p99 — what the console charts.')
  @ApiOkResponse({ type: [HeartbeatPointDto] })
  @ApiRead(404)
  async heartbeatsOf(@Param('id', ParseUUIDPipe) id: string, @Query() q: HeartbeatsQuery): Promise<HeartbeatPointDto[]> {
    await this.nodes.get(id);
    return this.heartbeats.latest(id, q.limit ?? 120);
  }

  @Patch(':id')
  @ApiDoc("Change a node's labels", 'A merge patch of the labels: a key set to null is removed. Continuous rollouts re-target the node by its new labels.')
  @ApiOkResponse({ type: NodeDto })
  @ApiWrite(404)
  async update(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() body: UpdateNodeDto): Promise<NodeDto> {
    return NodeDto.from(await this.nodes.updateLabels(by, id, body.labels));
  }

  @Post(':id/decommission')
  @HttpCode(200)
  @ApiDoc('Decommission a node', 'The node loses its broker credentials and is no longer targeted; its history stays.')
  @ApiOkResponse({ type: NodeDto })
  @ApiWrite(404, 409)
  async decommission(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<NodeDto> {
    return NodeDto.from(await this.nodes.decommission(by, id));
  }

  /** Revokes the node's key and broker credentials; the answer's token lets the node register a new key, once. */
  @Post(':id/reset-identity')
  @ApiDoc("Reset a node's identity", "Revokes the node's key and broker credentials; the answer's token lets the node register a new key, once (admin).")
  @ApiOkResponse({ type: IdentityResetDto })
  @ApiWrite(404)
  @RequireRole('admin')
  @HttpCode(200)
  async resetIdentity(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<IdentityResetDto> {
    const reset = await this.enrollment.resetIdentity(by, id);
    return { nodeId: reset.nodeId, token: reset.token, expiresAt: reset.expiresAt.toISOString() };
  }
}
