import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { LatencyPercentilesDto } from '../../model-health/dto/model-stats.dto.js';

export class RolloutStatsQuery {
  @ApiPropertyOptional({ description: "Seconds back; default: the rollout's gate window (or 300 s)", example: 300 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86_400)
  windowSeconds?: number;
}

export class RolloutSideDto {
  @ApiProperty({ example: 4 }) nodes!: number;
  @ApiProperty({ example: 4000 }) inferences!: number;
  @ApiProperty({ example: 3 }) errors!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.00075 }) errorRate!: number | null;
  @ApiProperty({ type: LatencyPercentilesDto, nullable: true }) latencyMs!: LatencyPercentilesDto | null;
  @ApiProperty({ type: Number, nullable: true, description: 'What the latency gate compares (the merged p99, or the mean of older agents’ p99s)', example: 10.76 })
  latencyP99Ms!: number | null;
  @ApiProperty({ example: 3990 }) results!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.91 }) meanConfidence!: number | null;
}

export class RolloutStatsDto {
  @ApiProperty({ example: 300 }) windowSeconds!: number;
  @ApiProperty({ type: RolloutSideDto, description: 'Nodes of the rollout on one of its versions' }) canary!: RolloutSideDto;
  @ApiProperty({ type: RolloutSideDto, description: 'Nodes of the rollout still on another version' }) control!: RolloutSideDto;
}


export class RolloutStatsSeriesQuery extends RolloutStatsQuery {
  @ApiPropertyOptional({ description: 'Steps the window is cut in (each judged as the gates judge a window)', default: 12, minimum: 2, maximum: 60 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(2)
  @Max(60)
  steps?: number;
}

export class RolloutStatsPointDto {
  @ApiProperty({ format: 'date-time', description: 'Start of the step (exclusive)' }) from!: string;
  @ApiProperty({ format: 'date-time', description: 'End of the step (inclusive)' }) to!: string;
  @ApiProperty({ type: RolloutSideDto }) canary!: RolloutSideDto;
  @ApiProperty({ type: RolloutSideDto }) control!: RolloutSideDto;
}

export class RolloutStatsSeriesDto {
  @ApiProperty({ example: 300 }) windowSeconds!: number;
  @ApiProperty({ example: 25, description: 'windowSeconds / steps' }) stepSeconds!: number;
  @ApiProperty({ type: [RolloutStatsPointDto], description: 'Oldest first, back to back; the last step ends now' }) points!: RolloutStatsPointDto[];
}
