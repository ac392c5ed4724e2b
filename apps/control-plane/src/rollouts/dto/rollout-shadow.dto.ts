import { ApiProperty } from '@nestjs/swagger';

/** A wave's shadow evaluation as the rollout view shows it (strategy.shadow). */
export class RolloutShadowDto {
  @ApiProperty({
    enum: ['pass', 'wait', 'fail', 'none'],
    description:
      "The verdict the wave's nodes were sent (pass or fail); for a wave still shadowing, what the shadow gate says about these figures now (wait, or the verdict it is about to send); `none`: the wave is over without a verdict (its nodes already had the candidate's bytes and activated it at once, or the rollout stopped first)",
  })
  verdict!: 'pass' | 'wait' | 'fail' | 'none';
  @ApiProperty({ nullable: true, type: String, description: 'Why it waits, fails or has no verdict' }) reason!: string | null;
  @ApiProperty({ description: "Nodes of the wave that reported shadow figures for their latest delivery" }) nodes!: number;
  @ApiProperty({ description: 'Requests the candidate ran on beside the serving model' }) samples!: number;
  @ApiProperty({ nullable: true, type: Number, description: 'Share of samples with the same top class (0..1)' }) agreement!: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Mean Jensen–Shannon divergence of the output distributions (bits, 0..1)' }) meanDivergence!: number | null;
  @ApiProperty({ nullable: true, type: Number, description: 'Mean absolute difference of the output distributions' }) meanAbsDiff!: number | null;
  @ApiProperty({ nullable: true, type: Number, description: "Candidate latency / serving model's latency on the same requests" }) latencyRatio!: number | null;
  @ApiProperty({ description: 'Candidate runs that threw or gave unusable outputs' }) errors!: number;
  @ApiProperty({ description: 'Sampled requests not run: a shadow run was in flight, or a run timed out while its thread waited for a CPU' }) skipped!: number;
  @ApiProperty({ nullable: true, type: String, description: 'When the earliest current shadow run of the wave started' }) since!: string | null;
}
