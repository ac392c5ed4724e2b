import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ApiDoc, ApiRead, ApiWrite } from '../common/openapi.js';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsBoolean, IsIn, IsInt, IsOptional, IsString, Length, Matches, Max, Min } from 'class-validator';
import { CurrentPrincipal, type Principal, RequireRole } from '../auth/principal.js';
import { EVENT_TYPES, type EventType } from '../events/catalogue.js';
import type { WebhookDelivery } from './webhook-delivery.entity.js';
import type { Webhook } from './webhook.entity.js';
import { WebhooksService } from './webhooks.service.js';

export class CreateWebhookDto {
  @ApiProperty({ example: 'https://hooks.example.com/edgefleet' }) @IsString() @Length(1, 2000) url!: string;
  @ApiPropertyOptional({ enum: EVENT_TYPES, isArray: true, description: 'Types to deliver; empty or absent = every type' })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(EVENT_TYPES.length)
  @IsIn(EVENT_TYPES, { each: true })
  eventTypes?: EventType[];
}

export class UpdateWebhookDto {
  @ApiProperty({ description: 'true re-enables a disabled webhook and resets its failure count; false disables it', example: true })
  @IsBoolean()
  enabled!: boolean;
}

export class WebhookDto {
  @ApiProperty({ format: 'uuid' }) id!: string;
  @ApiProperty() url!: string;
  @ApiProperty({ enum: EVENT_TYPES, isArray: true }) eventTypes!: string[];
  @ApiProperty() createdBy!: string;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty() consecutiveFailures!: number;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) disabledAt!: string | null;
  @ApiProperty({ nullable: true, type: String }) disabledReason!: string | null;

  static from(w: Webhook): WebhookDto {
    return {
      id: w.id,
      url: w.url,
      eventTypes: w.eventTypes,
      createdBy: w.createdBy,
      createdAt: w.createdAt.toISOString(),
      consecutiveFailures: w.consecutiveFailures,
      disabledAt: w.disabledAt?.toISOString() ?? null,
      disabledReason: w.disabledReason,
    };
  }
}

export class CreatedWebhookDto extends WebhookDto {
  @ApiProperty({ description: 'HMAC-SHA256 key of the EdgeFleet-Signature header. Shown only here.' }) secret!: string;
}

export class WebhookDeliveryDto {
  @ApiProperty() id!: string;
  @ApiProperty() eventId!: string;
  @ApiProperty({ enum: ['pending', 'succeeded', 'failed'] }) state!: string;
  @ApiProperty() attempts!: number;
  @ApiProperty({ nullable: true, type: Number }) lastStatusCode!: number | null;
  @ApiProperty({ nullable: true, type: String }) lastError!: string | null;
  @ApiProperty({ format: 'date-time' }) createdAt!: string;
  @ApiProperty({ format: 'date-time' }) updatedAt!: string;
  @ApiProperty({ nullable: true, type: String, format: 'date-time' }) deliveredAt!: string | null;

  static from(d: WebhookDelivery): WebhookDeliveryDto {
    return {
      id: d.id,
      eventId: d.eventId,
      state: d.state,
      attempts: d.attempts,
      lastStatusCode: d.lastStatusCode,
      lastError: d.lastError,
      createdAt: d.createdAt.toISOString(),
      updatedAt: d.updatedAt.toISOString(),
      deliveredAt: d.deliveredAt?.toISOString() ?? null,
    };
  }
}

export class ListDeliveriesQuery {
  @ApiPropertyOptional({ default: 100 }) @IsOptional() @Type(() => Number) @IsInt() @Min(1) @Max(1000) limit?: number;
  @ApiPropertyOptional({ description: 'Only deliveries with a smaller id (newest first)' })
  @IsOptional()
  @Matches(/^[1-9][0-9]{0,17}$/, { message: 'before must be a delivery id (a positive integer below 10^18)' })
  before?: string;
}

@ApiTags('webhooks')
@ApiBearerAuth()
@RequireRole('admin')
@Controller('v1/webhooks')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @ApiDoc('Create a webhook', 'Admin only. Matching events are POSTed to the URL, signed with HMAC-SHA256 (docs/events.md); the secret is in this answer and nowhere else. Private and loopback addresses are refused unless WEBHOOK_ALLOW_PRIVATE.')
  @ApiCreatedResponse({ type: CreatedWebhookDto })
  @ApiWrite()
  async create(@CurrentPrincipal() by: Principal, @Body() body: CreateWebhookDto): Promise<CreatedWebhookDto> {
    const webhook = await this.webhooks.create(by, body.url, body.eventTypes ?? []);
    return { ...WebhookDto.from(webhook), secret: webhook.secret };
  }

  @Get()
  @ApiDoc('List webhooks', 'Admin only. URLs, filters, failure counts and whether each is disabled; never the secrets.')
  @ApiOkResponse({ type: [WebhookDto] })
  @ApiRead(403)
  async list(): Promise<WebhookDto[]> {
    return (await this.webhooks.list()).map((w) => WebhookDto.from(w));
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiDoc('Delete a webhook', 'Admin only. Its delivery log and pending deliveries go with it.')
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiWrite(404)
  async remove(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<void> {
    await this.webhooks.remove(by, id);
  }

  @Patch(':id')
  @ApiDoc(
    'Enable or disable a webhook',
    'Admin only, audited. `enabled: true` re-enables a webhook disabled after repeated failures (or by hand) and resets its failure count: it gets the events created from then on, not those of the time it was disabled. `enabled: false` disables it. Setting the state it already has changes nothing and is not audited.',
  )
  @ApiOkResponse({ type: WebhookDto })
  @ApiWrite(404)
  async update(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() body: UpdateWebhookDto): Promise<WebhookDto> {
    return WebhookDto.from(await this.webhooks.setEnabled(by, id, body.enabled));
  }

  @Get(':id/deliveries')
  @ApiDoc("A webhook's delivery log", 'Admin only. Newest first: state (pending, succeeded, failed), attempts, last status code or error.')
  @ApiOkResponse({ type: [WebhookDeliveryDto] })
  @ApiRead(403, 404)
  async deliveries(@Param('id', ParseUUIDPipe) id: string, @Query() q: ListDeliveriesQuery): Promise<WebhookDeliveryDto[]> {
    return (await this.webhooks.deliveries(id, q.before, q.limit ?? 100)).map((d) => WebhookDeliveryDto.from(d));
  }
}
