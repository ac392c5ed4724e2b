import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiRead } from '../common/openapi.js';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import type { AuditEvent } from './audit-event.entity.js';
import { AuditService } from './audit.service.js';

export class ListAuditEventsQuery {
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 50) targetType?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 200) targetId?: string;
  @ApiPropertyOptional({ default: 100 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) limit?: number;
  @ApiPropertyOptional({ description: 'Only events with a smaller id' })
  @IsOptional()
  @Matches(/^[1-9][0-9]{0,17}$/, { message: 'before must be an event id (a positive integer below 10^18)' })
  before?: string;
}

export class AuditEventDto {
  @ApiProperty() id!: string;
  @ApiProperty() at!: string;
  @ApiProperty() actor!: string;
  @ApiProperty() action!: string;
  @ApiProperty() targetType!: string;
  @ApiProperty() targetId!: string;
  @ApiProperty({ type: 'object', additionalProperties: true }) details!: Record<string, unknown>;

  static from(e: AuditEvent): AuditEventDto {
    return { id: e.id, at: e.at.toISOString(), actor: e.actor, action: e.action, targetType: e.targetType, targetId: e.targetId, details: e.details };
  }
}

@ApiTags('audit')
@ApiBearerAuth()
@Controller('v1/audit-events')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  @Get()
  @ApiDoc('List audit events', 'Every mutation, newest first: who did what to which target. Filter by target; page with `before` (the smallest id of the previous page).')
  @ApiOkResponse({ type: [AuditEventDto] })
  @ApiRead()
  async list(@Query() q: ListAuditEventsQuery): Promise<AuditEventDto[]> {
    const events = await this.audit.list({ targetType: q.targetType, targetId: q.targetId, before: q.before, limit: q.limit ?? 100 });
    return events.map((e) => AuditEventDto.from(e));
  }
}
