import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { FeedbackDto, FeedbackResultDto, ModelStatsDto, ModelStatsQuery } from './dto/model-stats.dto.js';
import { ModelStatsService } from './model-stats.service.js';

@ApiTags('model health')
@ApiBearerAuth()
@Controller('v1')
export class ModelStatsController {
  constructor(private readonly stats: ModelStatsService) {}

  @Get('models/:name/versions/:version/stats')
  @ApiOperation({
    summary: 'How a model version is doing',
    description:
      'Inferences, errors, latency p50/p90/p99 (merged histograms, exact to the bucket), top-class confidence and accuracy from feedback, over a window, in total and per node or per label value. Read from per-minute rollups, never from raw results.',
  })
  @ApiOkResponse({ type: ModelStatsDto })
  async versionStats(@Param('name') name: string, @Param('version') version: string, @Query() query: ModelStatsQuery): Promise<ModelStatsDto> {
    return this.stats.versionStats(name, version, query);
  }

  @Post('feedback')
  @HttpCode(200)
  @ApiOperation({
    summary: 'Record ground truth for inference results',
    description: 'Each item labels the stored results reported with its inputRef (of its node, if named). Items that match no stored result are listed by position.',
  })
  @ApiOkResponse({ type: FeedbackResultDto })
  async feedback(@Body() body: FeedbackDto): Promise<FeedbackResultDto> {
    return this.stats.recordFeedback(body);
  }
}
