import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsOptional, IsString, IsUUID, Length, Max, Min, ValidateNested } from 'class-validator';

export const MAX_FEEDBACK_ITEMS = 1000;

export class ModelStatsQuery {
  @ApiPropertyOptional({ description: 'How far back: whole minutes, hours or days, at most 30d', example: '1h', default: '1h' })
  @IsOptional()
  @IsString()
  @Length(1, 16)
  window?: string;

  @ApiPropertyOptional({ description: "Per node ('node') or per value of a node label ('label:<key>'); absent = the total only", example: 'label:site' })
  @IsOptional()
  @IsString()
  @Length(1, 330)
  groupBy?: string;

  @ApiPropertyOptional({ description: 'One variant of the version; absent = all its variants together', example: 'int8' })
  @IsOptional()
  @IsString()
  @Length(1, 32)
  variant?: string;
}

export class LatencyPercentilesDto {
  @ApiProperty({ description: 'Upper bound of the bucket holding the median (ms)', example: 4.76 }) p50!: number;
  @ApiProperty({ example: 11.31 }) p90!: number;
  @ApiProperty({ example: 26.91 }) p99!: number;
}

export class ConfidenceBucketDto {
  @ApiProperty({ description: 'Upper bound of the bucket', example: 0.95 }) le!: number;
  @ApiProperty({ example: 120 }) count!: number;
}

export class AccuracyDto {
  @ApiProperty({ description: 'Results with ground truth (POST /v1/feedback)', example: 200 }) labelled!: number;
  @ApiProperty({ example: 194 }) correct!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.97 }) accuracy!: number | null;
}

export class GroupStatsDto {
  @ApiProperty({ type: String, nullable: true, description: 'Node id or label value; null for the total, or for nodes without the label', example: 'north' })
  key!: string | null;
  @ApiProperty({ description: 'Inferences the nodes reported in heartbeats (errors included)', example: 12000 }) inferences!: number;
  @ApiProperty({ example: 12 }) errors!: number;
  @ApiProperty({ type: Number, nullable: true, example: 0.001 }) errorRate!: number | null;
  @ApiProperty({ type: LatencyPercentilesDto, nullable: true, description: 'From the merged latency histograms, exact to the bucket (≤ 19% above the true value)' })
  latencyMs!: LatencyPercentilesDto | null;
  @ApiProperty({ description: 'Inference results stored', example: 11988 }) results!: number;
  @ApiProperty({
    description: 'Inferences the confidence figures cover: per node, those its heartbeats reported confidence for (every successful inference, whatever the results policy sends), or its stored results for agents that do not report it',
    example: 12000,
  })
  confidences!: number;
  @ApiProperty({ type: Number, nullable: true, description: 'Mean top-class confidence over `confidences`', example: 0.93 }) meanConfidence!: number | null;
  @ApiProperty({ type: [ConfidenceBucketDto], description: 'Top-class confidence in 20 buckets of 0.05, over `confidences`' }) confidence!: ConfidenceBucketDto[];
  @ApiProperty({ type: AccuracyDto }) feedback!: AccuracyDto;
}

export class AccuracyPointDto extends AccuracyDto {
  @ApiProperty({ description: 'Start of the step (results by inference time)', example: '2026-12-02T01:00:00.000Z' }) from!: string;
}

export class ModelStatsDto {
  @ApiProperty({ example: 'digits' }) model!: string;
  @ApiProperty({ example: '1.3.0' }) version!: string;
  @ApiProperty({ type: [String], example: ['fp32', 'int8'] }) variants!: string[];
  @ApiProperty({ example: '1h' }) window!: string;
  @ApiProperty({ example: '2026-12-02T00:00:00.000Z' }) from!: string;
  @ApiProperty({ example: '2026-12-02T01:00:00.000Z' }) to!: string;
  @ApiProperty({ type: String, nullable: true, example: 'node' }) groupBy!: string | null;
  @ApiProperty({ type: GroupStatsDto }) total!: GroupStatsDto;
  @ApiProperty({ type: [GroupStatsDto] }) groups!: GroupStatsDto[];
  @ApiProperty({ type: [AccuracyPointDto], description: 'Accuracy in 12 steps of the window (whole minutes), oldest first; steps without feedback absent' })
  accuracyOverTime!: AccuracyPointDto[];
}

export class FeedbackItemDto {
  @ApiPropertyOptional({ description: 'Only results of this node (otherwise every result with the input reference)' })
  @IsOptional()
  @IsUUID()
  nodeId?: string;

  @ApiProperty({ description: 'The inputRef the result was reported with', example: 'mnist-test-00042' })
  @IsString()
  @Length(1, 200)
  inputRef!: string;

  @ApiProperty({ description: 'The true class index', example: 7 })
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  label!: number;
}

export class FeedbackDto {
  @ApiProperty({ type: [FeedbackItemDto], description: `1 to ${MAX_FEEDBACK_ITEMS} items` })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_FEEDBACK_ITEMS)
  @ValidateNested({ each: true })
  @Type(() => FeedbackItemDto)
  items!: FeedbackItemDto[];

  @ApiPropertyOptional({ description: 'With `version`: the model version the labelled results were served with. Items without a node whose result is not stored are then requested from the nodes that served it (results kept on the node under `sample` or `aggregates`)', example: 'digits' })
  @IsOptional()
  @IsString()
  @Length(1, 100)
  model?: string;

  @ApiPropertyOptional({ description: 'With `model`', example: '1.2.0' })
  @IsOptional()
  @IsString()
  @Length(1, 64)
  version?: string;
}

export class FeedbackResultDto {
  @ApiProperty({ example: 100 }) received!: number;
  @ApiProperty({ description: 'Items joined to at least one stored result', example: 98 }) matched!: number;
  @ApiProperty({ type: [Number], description: 'Positions of the items that matched no stored result (send them again later)', example: [17, 54] })
  unmatched!: number[];
  @ApiProperty({
    description: 'Of the unmatched items, those whose result was requested from the nodes that may keep it (their own node, or the nodes that served `model`@`version`): the label is held for 24 h and joined when the result arrives, with no need to send it again',
    example: 2,
  })
  pending!: number;
  @ApiProperty({ description: 'Nodes asked for kept results (one results request each, with all their inputRefs)', example: 1 }) requestedNodes!: number;
  @ApiProperty({ description: 'Nodes not asked now: their results-requests rate limit was spent (the labels are held all the same)', example: 0 }) rateLimitedNodes!: number;
}
