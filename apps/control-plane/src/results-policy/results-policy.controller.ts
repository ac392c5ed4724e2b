import { Body, Controller, HttpCode, Param, ParseUUIDPipe, Post, Put } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ApiDoc, ApiWrite } from '../common/openapi.js';
import { ModelResultsPolicyDto, ResultsPolicyDto, ResultsRequestAcceptedDto, ResultsRequestDto, RolloutResultsPolicyDto } from './dto/results-policy.dto.js';
import { toResultsPolicy } from './results-policy.js';
import { ResultsPolicyService } from './results-policy.service.js';

@ApiTags('models')
@ApiBearerAuth()
@Controller('v1/models')
export class ModelResultsPolicyController {
  constructor(private readonly policies: ResultsPolicyService) {}

  @Put(':name/results-policy')
  @ApiDoc(
    'Set what a model’s nodes send of their inference results',
    'The default for every version of the model (a rollout can override it). `all` (the default without a policy), `sample` with a rate (results whose inputRef hashes below it), or `aggregates` (no individual results; heartbeats still carry counts and latency histograms, so the stats route still counts every inference). Nodes keep what they do not send for a bounded time (POST /v1/nodes/{id}/results-requests fetches it). The policy is signed into desired states: the retained one of every node running a version of the model is re-signed now.',
  )
  @ApiOkResponse({ type: ModelResultsPolicyDto })
  @ApiWrite(404)
  async set(@CurrentPrincipal() by: Principal, @Param('name') name: string, @Body() body: ResultsPolicyDto): Promise<ModelResultsPolicyDto> {
    const result = await this.policies.setModelPolicy(by, name, toResultsPolicy(body, 'body'));
    return { ...result, resultsPolicy: ResultsPolicyDto.from(result.resultsPolicy) };
  }
}

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('v1/rollouts')
export class RolloutResultsPolicyController {
  constructor(private readonly policies: ResultsPolicyService) {}

  @Put(':id/results-policy')
  @ApiDoc(
    'Change what a rollout’s nodes send of their inference results',
    'Overrides the model’s results policy for the rollout’s deployments of its own versions, as `resultsPolicy` at creation does; allowed in any state (the nodes keep the rollout’s desired states after it finishes). The retained desired state of every active node whose newest deployment is the rollout’s is re-signed now; the same policy again re-signs nothing.',
  )
  @ApiOkResponse({ type: RolloutResultsPolicyDto })
  @ApiWrite(404)
  async set(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() body: ResultsPolicyDto): Promise<RolloutResultsPolicyDto> {
    const result = await this.policies.setRolloutPolicy(by, id, toResultsPolicy(body, 'body'));
    return { ...result, resultsPolicy: ResultsPolicyDto.from(result.resultsPolicy) };
  }
}

@ApiTags('nodes')
@ApiBearerAuth()
@Controller('v1/nodes')
export class NodeResultsRequestsController {
  constructor(private readonly policies: ResultsPolicyService) {}

  @Post(':id/results-requests')
  @HttpCode(202)
  @ApiDoc(
    'Ask a node for results it kept',
    'Results a results policy did not send stay on the node for a bounded time (24 h / 64 MB by default). This asks the node (over MQTT, queued while it is offline) to send those with the given inputRefs, or served between from and to, through the normal results path: at most 1,000, the newest when more match. They are stored as any result, so feedback can be joined to them. Give inputRefs, or from and to. At most RESULTS_REQUEST_BURST at once per node, refilled at RESULTS_REQUESTS_PER_MINUTE (429 with Retry-After beyond).',
  )
  @ApiAcceptedResponse({ type: ResultsRequestAcceptedDto })
  @ApiWrite(404, 429)
  async request(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() body: ResultsRequestDto): Promise<ResultsRequestAcceptedDto> {
    const request = await this.policies.requestResults(by, id, body);
    return { requestId: request.id, nodeId: id };
  }
}
