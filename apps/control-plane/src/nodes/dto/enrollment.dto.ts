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

export class CreateEnrollmentTokenDto {
  @ApiProperty({ example: 'lyon-line-3' }) @IsString() @Length(1, 100) name!: string;

  @ApiPropertyOptional({ type: Object, example: { site: 'lyon' }, description: 'Labels given to every node enrolled with this token' })
  @IsOptional()
  @IsLabelMap()
  labels?: Labels;

  @ApiProperty({ minimum: 60, maximum: 31536000, example: 86400 })
  @IsInt()
  @Min(60)
  @Max(31_536_000)
  expiresInSeconds!: number;

  @ApiProperty({ minimum: 1, maximum: 100000, example: 50 }) @IsInt() @Min(1) @Max(100_000) maxUses!: number;
}

export class EnrollmentTokenDto {
  @ApiProperty() id!: string;
  @ApiProperty() name!: string;
  @ApiProperty({ type: Object }) labels!: Labels;
  @ApiProperty() expiresAt!: string;
  @ApiProperty() maxUses!: number;
  @ApiProperty() uses!: number;
  @ApiProperty() createdBy!: string;
  @ApiProperty() createdAt!: string;
  @ApiProperty({ nullable: true, type: String }) revokedAt!: string | null;

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

export class EnrollDto {
  @ApiProperty({ description: 'Enrolment token from an administrator' }) @IsString() @Length(1, 200) token!: string;

  @ApiProperty({ description: 'Stable identifier the node generates once; a retry with the same key is idempotent' })
  @IsString()
  @Length(8, 200)
  @Matches(/^[A-Za-z0-9._:-]+$/)
  nodeKey!: string;

  @ApiPropertyOptional() @IsOptional() @IsString() @Length(1, 100) name?: string;

  @ApiProperty({ type: HardwareProfileDto })
  @ValidateNested()
  @Type(() => HardwareProfileDto)
  hardware!: HardwareProfileDto;
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
  @ApiProperty({ description: 'Per-node secret. Stored hashed by the control plane; a retried enrolment rotates it.' })
  nodeSecret!: string;
  @ApiProperty({ type: Object }) labels!: Labels;
  @ApiProperty({ type: Object, description: 'The signed root of trust (libs/trust Envelope<RootDocument>) the node pins' })
  root!: Record<string, unknown>;
  @ApiProperty({ type: BrokerCredentialsDto }) mqtt!: BrokerCredentialsDto;
}
