import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsOptional } from 'class-validator';
import { IsCanonicalUuid } from '../../../common/dto/validators';
import { InvalidAs } from '../../../common/dto-validation.pipe';

@InvalidAs('invalid-query', 'Invalid query', '{tenantId}')
export class StatsQueryDto {
  @ApiPropertyOptional({ format: 'uuid', description: "A tenant other than the caller's own (operators only)" })
  @IsOptional()
  @IsCanonicalUuid({ message: 'tenantId must be a tenant UUID' })
  tenantId?: string;
}

export class IngestCountersDto {
  @ApiProperty({ example: 1520 }) accepted!: number;
  @ApiProperty({ example: 12 }) duplicate!: number;
  @ApiProperty({ example: 4 }) dropped!: number;
  @ApiProperty({ example: 3 }) rejected!: number;
  @ApiProperty({ example: 1 }) quarantined!: number;
}

export class QueueCountsDto {
  @ApiProperty({ example: 0 }) waiting!: number;
  @ApiProperty({ example: 1 }) active!: number;
  @ApiProperty({ example: 0 }) delayed!: number;
  @ApiProperty({ example: 0 }) failed!: number;
  @ApiProperty({ example: 1000 }) completed!: number;
}

export class QueuesDto {
  @ApiProperty({ type: QueueCountsDto }) ingest!: QueueCountsDto;
  @ApiProperty({ type: QueueCountsDto }) maintenance!: QueueCountsDto;
}

export class RollupStatsDto {
  @ApiProperty({ example: true }) enabled!: boolean;
  @ApiProperty({ example: 0, description: 'Stored events not yet folded into the rollups (the fold lag)' })
  pending_events!: number;
}

export class ServiceWideStatsDto {
  @ApiProperty({ example: 3600 }) uptime_s!: number;
  @ApiProperty({ type: IngestCountersDto, description: 'Verdicts of every tenant' }) ingestion!: IngestCountersDto;
  @ApiProperty({ type: QueuesDto }) queues!: QueuesDto;
  @ApiProperty({ type: RollupStatsDto }) rollups!: RollupStatsDto;
}

export class ServiceStatsDto {
  @ApiProperty({ format: 'uuid', example: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10' }) tenant_id!: string;
  @ApiProperty({ type: IngestCountersDto, description: "Verdicts of the tenant's events" })
  ingestion!: IngestCountersDto;
  @ApiPropertyOptional({ type: ServiceWideStatsDto, description: "Operators' API keys only" })
  service?: ServiceWideStatsDto;
}
