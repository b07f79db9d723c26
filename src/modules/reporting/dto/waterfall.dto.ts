import { ApiProperty } from '@nestjs/swagger';
import { InvalidAs } from '../../../common/dto-validation.pipe';
import { WATERFALL_STAGES } from '../../rollups/metric-catalog';
import { QueryTimeDto, ReportScopeDto } from './report.dto';

@InvalidAs('invalid-report', 'Invalid report request', '{tenantId, from, to}')
export class WaterfallQueryDto extends ReportScopeDto {}

export class WaterfallStageDto {
  @ApiProperty({ enum: WATERFALL_STAGES.map((s) => s.stage), example: 'llm_ttft' }) stage!: string;
  @ApiProperty({
    example: 'voice.turn.llm_ttft_ms',
    description: 'The percentile metric of the catalog behind the stage',
  })
  metric!: string;
  @ApiProperty({ example: 1480, description: 'Turns that reported this stage' }) turns!: number;
  @ApiProperty({ example: 290.4, description: 'Median, ms (nearest rank, within 1 %)' }) p50!: number;
  @ApiProperty({ example: 610.2, description: '95th percentile, ms' }) p95!: number;
  @ApiProperty({ example: 988.0, description: '99th percentile, ms' }) p99!: number;
  @ApiProperty({ example: 321.7, description: 'Mean, ms (exact)' }) mean!: number;
  @ApiProperty({
    type: Number,
    nullable: true,
    example: 0.38,
    description:
      "The stage's mean ÷ the end-to-end mean over the range; null when no turn reported end to end. Stages overlap (endpointing and transcription both start at the end of user speech), so shares need not add up to 1",
  })
  share_of_e2e!: number | null;
}

export class WaterfallAnswerDto {
  @ApiProperty({ format: 'date-time', example: '2025-01-15T00:00:00.000Z', description: 'Start of the range covered' })
  from!: string;
  @ApiProperty({ format: 'date-time', example: '2025-01-16T00:00:00.000Z', description: 'End of the range covered' })
  to!: string;
  @ApiProperty({ example: 1520, description: 'Turns that ended in the range (voice.turn_completed)' }) turns!: number;
  @ApiProperty({
    type: [WaterfallStageDto],
    description: 'The stages in the order a turn runs them, end to end last; a stage no turn reported is absent',
  })
  stages!: WaterfallStageDto[];
  @ApiProperty({ type: QueryTimeDto }) meta!: QueryTimeDto;
}
