import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { SideStats } from './health-gate.js';
import { RolloutSideDto, RolloutStatsDto, RolloutStatsQuery, RolloutStatsSeriesDto, RolloutStatsSeriesQuery } from './dto/rollout-stats.dto.js';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ApiDoc, ApiRead, ApiWrite } from '../common/openapi.js';
import type { Plan } from './rollout-targeting.js';
import type { Rollout } from './rollout.entity.js';
import { RolloutsService } from './rollouts.service.js';
import { RolloutStatsService } from './rollout-stats.service.js';
import { ResultsPolicyDto } from '../results-policy/dto/results-policy.dto.js';
import { AbortRolloutDto, RollbackRolloutDto, CreateRolloutDto, ListRolloutsQuery, RolloutDetailDto, RolloutDto, RolloutNodeDto, RolloutNodesQuery, RolloutPlanDto, StartRolloutDto } from './dto/rollout.dto.js';

const toDto = (r: Rollout): RolloutDto => ({
  id: r.id,
  name: r.name,
  modelId: r.modelId,
  variants: r.variants,
  selector: r.selector,
  strategy: r.strategy,
  resultsPolicy: r.resultsPolicy ? ResultsPolicyDto.from(r.resultsPolicy) : null,
  state: r.state,
  currentWave: r.currentWave + 1,
  waveSizes: r.waveSizes,
  bakeUntil: r.bakeUntil?.toISOString() ?? null,
  scheduledAt: r.scheduledAt?.toISOString() ?? null,
  approvedBy: r.approvedBy,
  haltReason: r.haltReason,
  createdBy: r.createdBy,
  createdAt: r.createdAt.toISOString(),
  startedAt: r.startedAt?.toISOString() ?? null,
  finishedAt: r.finishedAt?.toISOString() ?? null,
});

const toSideDto = (s: SideStats): RolloutSideDto => ({
  nodes: s.nodes,
  inferences: s.inferences,
  errors: s.errors,
  errorRate: s.inferences > 0 ? s.errors / s.inferences : null,
  latencyMs: s.latencyMs,
  latencyP99Ms: s.latencyP99Ms,
  results: s.results,
  meanConfidence: s.meanConfidence,
});

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('v1/rollouts')
export class RolloutsController {
  constructor(
    private readonly rollouts: RolloutsService,
    private readonly rolloutStats: RolloutStatsService,
  ) {}

  @Post()
  @ApiDoc('Create a rollout (draft)', 'Targets the active nodes matching `selector` with one version (`modelVersionId`) or a version per hardware (`variants`), in waves per `strategy`. The rollout is created in `draft`: start it with POST /v1/rollouts/{id}/start. See docs/rollouts.md.')
  @ApiCreatedResponse({ type: RolloutDto })
  @ApiWrite(404, 409)
  async create(@CurrentPrincipal() by: Principal, @Body() body: CreateRolloutDto): Promise<RolloutDto> {
    return toDto(await this.rollouts.create(by, body));
  }

  /** The plan without creating anything: nodes, the variant each gets, bytes to send, waves. */
  @Post('dry-run')
  @HttpCode(200)
  @ApiDoc('Plan a rollout without creating it', 'The same body as POST /v1/rollouts. Answers which nodes the rollout would reach, the variant each gets, the bytes it would send and the wave sizes; nothing is stored.')
  @ApiOkResponse({ type: RolloutPlanDto })
  @ApiWrite(404)
  async dryRun(@Body() body: CreateRolloutDto): Promise<Plan> {
    return this.rollouts.dryRun(body);
  }

  @Get()
  @ApiDoc('List rollouts', 'Newest first, optionally in one state; keyset pages with `after` (the id of the last rollout of the previous page).')
  @ApiOkResponse({ type: [RolloutDto] })
  @ApiRead()
  async list(@Query() query: ListRolloutsQuery): Promise<RolloutDto[]> {
    return (await this.rollouts.list(query.limit ?? 200, query.state, query.after)).map(toDto);
  }

  @Get(':id/stats')
  @ApiDoc(
    'Canary vs control of a rollout',
    'What the model-health gates compare: nodes of the rollout on its versions (canary) and those still on another (control), over `windowSeconds` (the gates\' window by default); latency percentiles from the merged histograms. See docs/model-health.md.',
  )
  @ApiOkResponse({ type: RolloutStatsDto })
  @ApiRead(404)
  async stats(@Param('id', ParseUUIDPipe) id: string, @Query() query: RolloutStatsQuery): Promise<RolloutStatsDto> {
    const { windowSeconds, canary, control, accuracy, canaryDrift } = await this.rolloutStats.stats(id, query.windowSeconds);
    const labelled = (side: { labelled: number; correct: number }) => ({ ...side, accuracy: side.labelled > 0 ? side.correct / side.labelled : null });
    return { windowSeconds, canary: toSideDto(canary), control: toSideDto(control), accuracy: { canary: labelled(accuracy.canary), control: labelled(accuracy.control) }, canaryDrift };
  }

  @Get(':id/stats/series')
  @ApiDoc(
    'Canary vs control of a rollout, over time',
    "The same comparison as GET /v1/rollouts/{id}/stats, for each of `steps` back-to-back steps of `windowSeconds` (the gates' window by default), oldest first: what the console charts.",
  )
  @ApiOkResponse({ type: RolloutStatsSeriesDto })
  @ApiRead(404)
  async statsSeries(@Param('id', ParseUUIDPipe) id: string, @Query() query: RolloutStatsSeriesQuery): Promise<RolloutStatsSeriesDto> {
    const { windowSeconds, stepSeconds, points } = await this.rolloutStats.series(id, query.steps ?? 12, query.windowSeconds);
    return {
      windowSeconds,
      stepSeconds,
      points: points.map((p) => ({ from: p.from.toISOString(), to: p.to.toISOString(), canary: toSideDto(p.canary), control: toSideDto(p.control) })),
    };
  }

  @Get(':id')
  @ApiDoc('Get a rollout with its waves and events', 'The rollout, the node count per state in each wave, and its event log (started, wave advanced, halted with the reason, ...).')
  @ApiOkResponse({ type: RolloutDetailDto })
  @ApiRead(404)
  async get(@Param('id', ParseUUIDPipe) id: string): Promise<RolloutDetailDto> {
    const { rollout, waves, events } = await this.rollouts.get(id);
    return {
      ...toDto(rollout),
      waves,
      events: events.map((e) => ({ id: e.id, kind: e.kind, actor: e.actor, detail: e.detail, at: e.at.toISOString() })),
    };
  }

  @Get(':id/nodes')
  @ApiDoc("List a rollout's nodes", 'Each targeted node with its wave, rollout state, the deployment phase it last reported, download progress and, when it failed, the reason and detail it gave. Keyset pages with `after` (a node id).')
  @ApiOkResponse({ type: [RolloutNodeDto] })
  @ApiRead(404)
  async nodes(@Param('id', ParseUUIDPipe) id: string, @Query() query: RolloutNodesQuery): Promise<RolloutNodeDto[]> {
    const nodes = await this.rollouts.nodes(id, query.limit ?? 100, query.after);
    return nodes.map((n) => ({
      nodeId: n.nodeId,
      nodeName: n.nodeName,
      phase: n.phase,
      progress: n.progress,
      failure: n.failureReason !== null || n.failureDetail !== null ? { reason: n.failureReason, detail: n.failureDetail } : null,
      shadow: n.shadow,
      wave: n.wave + 1,
      modelVersionId: n.modelVersionId,
      previousModelVersionId: n.previousModelVersionId,
      state: n.state,
      attempts: n.attempts,
      deploymentId: n.deploymentId,
      reason: n.reason,
      updatedAt: n.updatedAt.toISOString(),
    }));
  }

  @Post(':id/start')
  @HttpCode(200)
  @ApiDoc('Start a rollout', 'Starts a draft rollout now, or schedules it at `at`. A rollout whose strategy requires approval then waits in `awaiting-approval`.')
  @ApiOkResponse({ type: RolloutDto })
  @ApiWrite(404, 409)
  async start(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() body: StartRolloutDto): Promise<RolloutDto> {
    return toDto(await this.rollouts.start(by, id, body.at ? new Date(body.at) : undefined));
  }

  @Post(':id/approve')
  @HttpCode(200)
  @ApiDoc('Approve a rollout', 'Lets a rollout that requires approval proceed; records who approved it.')
  @ApiOkResponse({ type: RolloutDto })
  @ApiWrite(404, 409)
  async approve(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<RolloutDto> {
    return toDto(await this.rollouts.approve(by, id));
  }

  @Post(':id/pause')
  @HttpCode(200)
  @ApiDoc('Pause a rollout', 'No new node gets the version until it is resumed; nodes already updating finish.')
  @ApiOkResponse({ type: RolloutDto })
  @ApiWrite(404, 409)
  async pause(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<RolloutDto> {
    return toDto(await this.rollouts.pause(by, id));
  }

  @Post(':id/resume')
  @HttpCode(200)
  @ApiDoc('Resume a paused or halted rollout', 'The rollout continues from its current wave; failed nodes due a retry get it now.')
  @ApiOkResponse({ type: RolloutDto })
  @ApiWrite(404, 409)
  async resume(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string): Promise<RolloutDto> {
    return toDto(await this.rollouts.resume(by, id));
  }

  /** Returns the nodes a finished rollout reached to the version each ran before (re-issued under a new sequence). */
  @Post(':id/rollback')
  @HttpCode(200)
  @ApiDoc('Roll a finished rollout back', 'Returns the nodes the rollout reached to the version each ran before (re-issued under a new manifest sequence).')
  @ApiOkResponse({ type: RolloutDto })
  @ApiWrite(404, 409)
  async rollback(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() body: RollbackRolloutDto): Promise<RolloutDto> {
    return toDto(await this.rollouts.rollback(by, id, body.reason ?? 'rolled back by an operator'));
  }

  /** Sends the version again to one failed node (due at once, or at the resume of a halted rollout). */
  @Post(':id/nodes/:nodeId/retry')
  @HttpCode(200)
  @ApiDoc('Retry one failed node', 'Sends the version again to a failed node of the rollout: at once, or when a halted rollout resumes.')
  @ApiOkResponse({ type: RolloutDto })
  @ApiWrite(404, 409)
  async retryNode(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Param('nodeId', ParseUUIDPipe) nodeId: string): Promise<RolloutDto> {
    return toDto(await this.rollouts.retryNode(by, id, nodeId));
  }

  @Post(':id/abort')
  @HttpCode(200)
  @ApiDoc('Abort a rollout', 'Stops the rollout for good; with `rollback: true` the nodes it reached return to their previous version.')
  @ApiOkResponse({ type: RolloutDto })
  @ApiWrite(404, 409)
  async abort(@CurrentPrincipal() by: Principal, @Param('id', ParseUUIDPipe) id: string, @Body() body: AbortRolloutDto): Promise<RolloutDto> {
    return toDto(await this.rollouts.abort(by, id, body.reason ?? 'aborted by an operator', body.rollback ?? false));
  }
}
