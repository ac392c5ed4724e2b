import { Controller, Get, Headers, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiHeader, ApiOkResponse, ApiProduces, ApiProperty, ApiPropertyOptional, ApiTags, getSchemaPath } from '@nestjs/swagger';
import { ApiDoc, ApiRead } from '../common/openapi.js';
import { Transform, Type } from 'class-transformer';
import { IsIn, IsInt, IsISO8601, IsOptional, IsUUID, Matches, Max, Min } from 'class-validator';
import type { Request, Response } from 'express';
import { ValidationError } from '#common';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { EVENT_TYPES, type EventType, type EventView } from './catalogue.js';
import { EventStreams } from './event-streams.js';
import type { EventFilter } from './events.repository.js';
import { EventsRepository } from './events.repository.js';

const ID_PATTERN = /^(0|[1-9][0-9]{0,17})$/;
const splitTypes = ({ value }: { value: unknown }) => (typeof value === 'string' ? value.split(',').filter((t) => t.length > 0) : value);

export class EventFilterQuery {
  @ApiPropertyOptional({ description: 'Comma-separated event types', example: 'rollout.halted,node.failed' })
  @IsOptional()
  @Transform(splitTypes)
  @IsIn(EVENT_TYPES, { each: true, message: `type must be one of ${EVENT_TYPES.join(', ')}` })
  type?: string[];

  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() rollout?: string;
  @ApiPropertyOptional({ format: 'uuid' }) @IsOptional() @IsUUID() node?: string;
}

export class ListEventsQuery extends EventFilterQuery {
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) since?: string;
  @ApiPropertyOptional({ format: 'date-time' }) @IsOptional() @IsISO8601({ strict: true }) until?: string;
  @ApiPropertyOptional({ description: 'Cursor: events with a larger id (nextCursor of the previous page)' })
  @IsOptional()
  @Matches(ID_PATTERN, { message: 'after must be an event id (a non-negative integer below 10^18)' })
  after?: string;
  @ApiPropertyOptional({ default: 100 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) limit?: number;
}

export class EventDto {
  @ApiProperty({ example: '42' }) id!: string;
  @ApiProperty({ enum: EVENT_TYPES }) type!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) rolloutId!: string | null;
  @ApiProperty({ nullable: true, type: String }) nodeId!: string | null;
  @ApiProperty({ nullable: true, type: String }) modelVersionId!: string | null;
  @ApiProperty({ type: Object }) payload!: Record<string, unknown>;
}

export class EventPageDto {
  @ApiProperty({ type: [EventDto] }) items!: EventDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as `after` for the next page; null on the last page' }) nextCursor!: string | null;
}

export class EventCatalogueDto {
  @ApiProperty({ enum: EVENT_TYPES, isArray: true, description: 'Every event type, in catalogue order (docs/events.md)' }) types!: EventType[];
}

const filterOf = (q: EventFilterQuery & { since?: string; until?: string }): EventFilter => ({
  types: q.type,
  rolloutId: q.rollout,
  nodeId: q.node,
  since: q.since ? new Date(q.since) : undefined,
  until: q.until ? new Date(q.until) : undefined,
});

@ApiTags('events')
@ApiBearerAuth()
@Controller('v1/events')
export class EventsController {
  constructor(
    private readonly repository: EventsRepository,
    private readonly streams: EventStreams,
  ) {}

  /** The catalogue itself, so clients (the console's filters) list the types without a copy of their own. */
  @Get('types')
  @ApiDoc('List the event types', 'Viewer. Every type of the event catalogue, the values `type` filters take.')
  @ApiOkResponse({ type: EventCatalogueDto })
  @ApiRead()
  types(): EventCatalogueDto {
    return { types: [...EVENT_TYPES] };
  }

  @Get()
  @ApiDoc('List events', 'Viewer. Stored events of the catalogue (docs/events.md), oldest first, filtered by type, rollout, node and time, in keyset pages: pass nextCursor as `after`.')
  @ApiOkResponse({ type: EventPageDto })
  @ApiRead()
  async list(@Query() q: ListEventsQuery): Promise<EventPageDto> {
    const limit = q.limit ?? 100;
    const items: EventView[] = await this.repository.page(filterOf(q), q.after ?? '0', limit);
    return { items, nextCursor: items.length === limit ? (items[items.length - 1]?.id ?? null) : null };
  }

  @Get('stream')
  @ApiDoc(
    'Stream events (Server-Sent Events)',
    'Viewer. Each event once, in id order: the SSE `id` is the event id, `event` its type, `data` the event (EventDto). Reconnect with Last-Event-ID to replay what was missed, then live. At most EVENTS_STREAM_MAX_PER_KEY streams per key (429). The stream ends when its key is revoked (re-checked at each heartbeat) and after EVENTS_STREAM_MAX_LIFETIME_MS: reconnect with Last-Event-ID.',
  )
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event id' })
  @ApiExtraModels(EventDto)
  @ApiOkResponse({ description: 'An endless text/event-stream; each data line is an EventDto', content: { 'text/event-stream': { schema: { $ref: getSchemaPath(EventDto) } } } })
  @ApiRead(429)
  async stream(
    @Query() q: EventFilterQuery,
    @Headers('last-event-id') lastEventId: string | undefined,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    if (lastEventId !== undefined && !ID_PATTERN.test(lastEventId)) {
      throw new ValidationError('Last-Event-ID must be an event id', [{ field: 'Last-Event-ID', message: 'a non-negative integer below 10^18' }]);
    }
    await this.streams.serve(principal.actor, filterOf(q), lastEventId === undefined ? null : BigInt(lastEventId), req, res);
  }
}
