import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional, IsString, Length } from 'class-validator';

export class DriftQuery {
  @ApiPropertyOptional({ description: 'How far back to look for each node\'s latest score: whole minutes, hours or days, at most 30d', example: '1h', default: '1h' })
  @IsOptional()
  @IsString()
  @Length(1, 16)
  window?: string;

  @ApiPropertyOptional({ description: 'One variant of the version; absent = all its variants', example: 'int8' })
  @IsOptional()
  @IsString()
  @Length(1, 32)
  variant?: string;
}

export class NodeDriftDto {
  @ApiProperty() nodeId!: string;
  @ApiProperty() nodeName!: string;
  @ApiProperty() variant!: string;
  @ApiProperty({ description: 'PSI of the node\'s recent inputs against the manifest\'s reference' }) input!: number;
  @ApiProperty({ description: 'PSI of the node\'s recent top-class confidences against the reference' }) confidence!: number;
  @ApiProperty({ description: 'The larger of the two' }) score!: number;
  @ApiProperty({ description: 'Inferences the scores cover' }) samples!: number;
  @ApiProperty({ description: 'When the heartbeat carrying the scores was received' }) at!: string;
  @ApiProperty({ description: 'score > the event threshold (DRIFT_EVENT_THRESHOLD)' }) above!: boolean;
}

export class VersionDriftDto {
  @ApiProperty() model!: string;
  @ApiProperty() version!: string;
  @ApiProperty() window!: string;
  @ApiProperty({ description: 'DRIFT_EVENT_THRESHOLD' }) threshold!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Mean score over the nodes listed; null when none reported' }) meanScore!: number | null;
  @ApiProperty({ type: Number, nullable: true }) maxScore!: number | null;
  @ApiProperty({ type: [NodeDriftDto], description: 'Each node\'s latest score in the window, highest first (at most 1000)' }) nodes!: NodeDriftDto[];
}
