import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ApiDoc, ApiRead, ApiWrite } from '../common/openapi.js';
import { FeedbackDto, FeedbackResultDto, ModelStatsDto, ModelStatsQuery } from './dto/model-stats.dto.js';
import { ModelStatsService } from './model-stats.service.js';

@ApiTags('model health')
@ApiBearerAuth()
@Controller('v1')
export class ModelStatsController {
  constructor(private readonly stats: ModelStatsService) {}

  @Get('models/:name/versions/:version/stats')
  @ApiDoc(
    'How a model version is doing',
    'Inferences, errors, latency p50/p90/p99 (merged histograms, exact to the bucket), top-class confidence and accuracy from feedback, over a window, in total and per node or per label value. Read from per-minute and per-hour rollups, never from raw results. See docs/model-health.md.',
  )
  @ApiOkResponse({ type: ModelStatsDto })
  @ApiRead(404)
  async versionStats(@Param('name') name: string, @Param('version') version: string, @Query() query: ModelStatsQuery): Promise<ModelStatsDto> {
    return this.stats.versionStats(name, version, query);
  }

  @Post('feedback')
  @HttpCode(200)
  @ApiDoc(
    'Record ground truth for inference results',
    'Each item labels the stored results reported with its inputRef (of its node, if named); accuracy appears in the stats route. Items that match no stored result are listed by position. When their result may be kept on a node (results policy `sample` or `aggregates`), it is requested: from the item’s node, or, with `model` and `version`, from the nodes that served that version in the last 24 h (at most 50, one results request per node, within each node’s results-requests rate limit). Their labels are held and joined when the results arrive (`pending`); the others must be sent again later.',
  )
  @ApiOkResponse({ type: FeedbackResultDto })
  @ApiWrite()
  async feedback(@CurrentPrincipal() by: Principal, @Body() body: FeedbackDto): Promise<FeedbackResultDto> {
    return this.stats.recordFeedback(by, body);
  }
}
