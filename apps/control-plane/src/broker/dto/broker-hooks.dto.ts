import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsString, Length } from 'class-validator';

// What the broker fills its request template with (docs/scaling.md#a-clustered-broker). Bounded to what
// MQTT clients can send that could ever match: node ids are UUIDs, client ids `node-<uuid>`.
export class BrokerAuthenticateDto {
  @ApiProperty({ example: '6f1c…', description: 'The MQTT username (a node id, or the control plane account)' }) @IsString() @Length(0, 256) username!: string;
  @ApiProperty({ description: 'The MQTT password, as the client sent it' }) @IsString() @Length(0, 512) password!: string;
  @ApiProperty({ example: 'node-6f1c…' }) @IsString() @Length(0, 256) clientid!: string;
}

export const BROKER_ACTIONS = ['publish', 'subscribe'] as const;
export type BrokerAction = (typeof BROKER_ACTIONS)[number];

export class BrokerAuthorizeDto {
  @ApiProperty() @IsString() @Length(0, 256) username!: string;
  @ApiProperty() @IsString() @Length(0, 256) clientid!: string;
  @ApiProperty({ description: 'The topic published to, or the filter subscribed to' }) @IsString() @Length(1, 1024) topic!: string;
  @ApiProperty({ enum: BROKER_ACTIONS }) @IsIn(BROKER_ACTIONS) action!: BrokerAction;
}

export class BrokerAclRuleDto {
  @ApiProperty({ enum: ['allow', 'deny'] }) permission!: 'allow' | 'deny';
  @ApiProperty({ enum: ['publish', 'subscribe', 'all'] }) action!: 'publish' | 'subscribe' | 'all';
  @ApiProperty({ description: 'A topic or filter; `eq ` in front: matched literally' }) topic!: string;
}

export class BrokerAuthenticateAnswerDto {
  @ApiProperty({ enum: ['allow', 'deny', 'ignore'], description: '`ignore`: not a client of this installation (the broker asks its next authenticator)' })
  result!: 'allow' | 'deny' | 'ignore';
  @ApiProperty({ description: 'Always false: every client is held to its ACL' }) is_superuser!: false;
  @ApiPropertyOptional({ type: [BrokerAclRuleDto], description: 'With `allow`: every topic the client may use (EMQX ≥ 5.8 applies it without calling the authorize hook)' })
  acl?: BrokerAclRuleDto[];
}

export class BrokerAuthorizeAnswerDto {
  @ApiProperty({ enum: ['allow', 'deny', 'ignore'] }) result!: 'allow' | 'deny' | 'ignore';
}
