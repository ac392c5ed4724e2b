import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal, RequireRole } from '../auth/principal.js';
import { IdentityResetDto } from './dto/enrollment.dto.js';
import { EnrollmentService } from './enrollment.service.js';
import { ListNodesQuery, NodeDto, NodePageDto, UpdateNodeDto } from './dto/node.dto.js';
import { NodesService } from './nodes.service.js';

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('v1/nodes')
export class NodesController {
  constructor(
    private readonly nodes: NodesService,
    private readonly enrollment: EnrollmentService,
  ) {}

  @Get()
  async list(@Query() q: ListNodesQuery): Promise<NodePageDto> {
    const page = await this.nodes.list({ ...q, limit: q.limit ?? 100 });
    return { items: page.items.map((n) => NodeDto.from(n)), nextCursor: page.nextCursor };
  }

  @Get(':id')
  async get(@Param('id', ParseUUIDPipe) id: string): Promise<NodeDto> {
    return NodeDto.from(await this.nodes.get(id));
  }

  @Patch(':id')
  async update(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() body: UpdateNodeDto): Promise<NodeDto> {
    return NodeDto.from(await this.nodes.updateLabels(by, id, body.labels));
  }

  @Post(':id/decommission')
  @HttpCode(200)
  async decommission(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<NodeDto> {
    return NodeDto.from(await this.nodes.decommission(by, id));
  }

  /** Revokes the node's key and broker credentials; the answer's token lets the node register a new key, once. */
  @Post(':id/reset-identity')
  @RequireRole('admin')
  @HttpCode(200)
  async resetIdentity(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<IdentityResetDto> {
    const reset = await this.enrollment.resetIdentity(by, id);
    return { nodeId: reset.nodeId, token: reset.token, expiresAt: reset.expiresAt.toISOString() };
  }
}
