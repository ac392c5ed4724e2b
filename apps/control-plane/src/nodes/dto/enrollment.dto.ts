import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
} from 'class-validator';
import type { EnrollmentToken } from '../enrollment-token.entity.js';
import type { Labels } from '../label-selector.js';
import { IsLabelMap } from './labels.validator.js';
import { DEFAULT_TOKEN_LIFETIME_SECONDS, DEFAULT_TOKEN_USES, MAX_TOKEN_LIFETIME_SECONDS, MAX_TOKEN_USES } from '../token-policy.js';

export class CreateEnrollmentTokenDto {
  @ApiProperty({ example: 'lyon-line-3' }) @IsString() @Length(1, 100) name!: string;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { site: 'lyon' }, description: 'Labels given to every node enrolled with this token' })
  @IsOptional()
  @IsLabelMap()
  labels?: Labels;

  @ApiPropertyOptional({ minimum: 60, maximum: MAX_TOKEN_LIFETIME_SECONDS, default: DEFAULT_TOKEN_LIFETIME_SECONDS, description: 'Short-lived by default (24 h)' })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(MAX_TOKEN_LIFETIME_SECONDS)
  expiresInSeconds?: number;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_TOKEN_USES, default: DEFAULT_TOKEN_USES, description: 'Single-use by default; say more explicitly for mass provisioning' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_TOKEN_USES)
  maxUses?: number;
}

export class EnrollmentTokenDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Labels;
  @ApiProperty() expiresAt!: string;
  @ApiProperty() maxUses!: number;
  @ApiProperty() uses!: number;
  @ApiProperty() createdBy!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;
  @ApiProperty({ nullable: true, type: String, description: 'Set on a token issued by an identity reset: it re-enrols only this node' })
  nodeId!: string | null;

  static from(t: EnrollmentToken): EnrollmentTokenDto {
    return {
      id: t.id,
      name: t.name,
      labels: t.labels,
      expiresAt: t.expiresAt.toISOString(),
      maxUses: t.maxUses,
      uses: t.uses,
      createdBy: t.createdBy,
      createdAt: t.createdAt.toISOString(),
      revokedAt: t.revokedAt?.toISOString() ?? null,
      nodeId: t.nodeId,
    };
  }
}

export class CreatedEnrollmentTokenDto extends EnrollmentTokenDto {
  @ApiProperty({ description: 'The token itself. Shown only in this response.' }) token!: string;
}

const SHORT_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

export class HardwareProfileDto {
  @ApiProperty({ example: 'arm64' }) @IsString() @Length(1, 32) arch!: string;
  @ApiProperty({ example: 4 }) @IsInt() @Min(1) @Max(4096) cpuCores!: number;
  @ApiProperty({ example: 4096 }) @IsInt() @Min(1) @Max(16_777_216) ramMb!: number;
  @ApiProperty({ example: 20480 }) @IsInt() @Min(0) @Max(2_147_483_647) freeDiskMb!: number;

  @ApiProperty({ example: ['onnxruntime', 'litert'] })
  @IsArray()
  @ArrayMaxSize(16)
  @IsString({ each: true })
  @Matches(SHORT_NAME, { each: true })
  @Length(1, 32, { each: true })
  engines!: string[];

  @ApiProperty({ example: ['npu'] })
  @IsArray()
  @ArrayMaxSize(16)
  @IsString({ each: true })
  @Matches(SHORT_NAME, { each: true })
  @Length(1, 64, { each: true })
  accelerators!: string[];
}

const NODE_KEY = /^[A-Za-z0-9._:-]+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export class EnrolmentProofDto {
  @ApiProperty({ description: 'The nonce from POST /v1/enroll/challenge (single use, short-lived)' })
  @IsString()
  @Length(16, 128)
  @Matches(/^[A-Za-z0-9_-]+$/)
  nonce!: string;

  @ApiProperty({ description: 'Base64 Ed25519 signature, by the registered key, of "edgefleet-enrolment-proof/v1\\n{nonce}\\n{nodeKey}\\n{publicKey}"' })
  @IsString()
  @Length(1, 200)
  @Matches(BASE64)
  signature!: string;
}

export class EnrollDto {
  @ApiPropertyOptional({ description: 'Enrolment token from an administrator: needed to create a node, or after an identity reset; not for a re-enrolment with a proof' })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  token?: string;

  @ApiProperty({ description: 'Stable identifier the node generates once and keeps secret' })
  @IsString()
  @Length(8, 200)
  @Matches(NODE_KEY)
  nodeKey!: string;

  @ApiPropertyOptional({ description: "Base64 SPKI DER of the node's Ed25519 public key; registered at enrolment, it must sign every re-enrolment" })
  @IsOptional()
  @IsString()
  @Length(16, 200)
  @Matches(BASE64)
  publicKey?: string;

  @ApiPropertyOptional({ type: EnrolmentProofDto, description: 'Required to re-enrol a node that has a registered key' })
  @IsOptional()
  @ValidateNested()
  @Type(() => EnrolmentProofDto)
  proof?: EnrolmentProofDto;

  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 100) name?: string;

  @ApiProperty({ type: HardwareProfileDto })
  @ValidateNested()
  @Type(() => HardwareProfileDto)
  hardware!: HardwareProfileDto;
}

export class EnrollChallengeDto {
  @ApiProperty({ description: 'The node key of an enrolled node' })
  @IsString()
  @Length(8, 200)
  @Matches(NODE_KEY)
  nodeKey!: string;
}

export class EnrollChallengeResponseDto {
  @ApiProperty({ description: 'Sign it (see EnrolmentProofDto) and send it with POST /v1/enroll; single use' }) nonce!: string;
  @ApiProperty() expiresAt!: string;
}

export class IdentityResetDto {
  @ApiProperty() nodeId!: string;
  @ApiProperty({ description: 'A single-use enrolment token bound to this node: put it in the node’s agent.json. Shown only here.' })
  token!: string;
  @ApiProperty() expiresAt!: string;
}

export class BrokerCredentialsDto {
  @ApiProperty({ example: 'mqtt://broker.example:1883' }) url!: string;
  @ApiProperty({ description: 'The node id' }) username!: string;
  @ApiProperty({ description: 'The node secret' }) password!: string;
  @ApiProperty({ description: 'MQTT client id the broker expects' }) clientId!: string;
  @ApiProperty({ example: 'edgefleet-1a2b3c4d', description: "The installation's topic namespace: every topic is under ef/v1/{namespace}/" })
  namespace!: string;
}

export class EnrollResponseDto {
  @ApiProperty() nodeId!: string;
  @ApiProperty({ description: 'Per-node secret. Stored hashed by the control plane; every re-enrolment rotates it.' })
  nodeSecret!: string;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) labels!: Labels;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The signed root of trust (libs/trust Envelope<RootDocument>) the node pins' })
  root!: Record<string, unknown>;
  @ApiProperty({ type: BrokerCredentialsDto }) mqtt!: BrokerCredentialsDto;
}
