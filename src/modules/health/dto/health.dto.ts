import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

export class CheckResultDto {
  @ApiProperty({ enum: ['up', 'down'], example: 'up' }) status!: 'up' | 'down';
  @ApiPropertyOptional({ example: 'connect ECONNREFUSED 127.0.0.1:5432', description: 'Why a check is down' })
  message?: string;
}

const checks = (description: string) =>
  ApiProperty({
    type: 'object',
    additionalProperties: { $ref: getSchemaPath(CheckResultDto) },
    example: { postgres: { status: 'up' } },
    description,
  });

@ApiExtraModels(CheckResultDto)
export class HealthDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' }) status!: 'ok';
  @checks('The checks that are up') info!: Record<string, CheckResultDto>;
  @checks('The checks that are down (none in a 200)') error!: Record<string, CheckResultDto>;
  @checks('Every check') details!: Record<string, CheckResultDto>;
}

export class LiveDto {
  @ApiProperty({ enum: ['ok'], example: 'ok' }) status!: 'ok';
}

/** The problem of a 503: which checks fail, and every result. */
@ApiExtraModels(CheckResultDto)
export class UnhealthyDto {
  @ApiProperty({ example: 'https://analytics.dev/problems/unhealthy' }) type!: string;
  @ApiProperty({ example: 'Unhealthy' }) title!: string;
  @ApiProperty({ example: 503 }) status!: number;
  @ApiProperty({ example: 'Failing check(s): postgres' }) detail!: string;
  @ApiProperty({ type: [String], example: ['postgres'] }) failing!: string[];
  @checks('Every check') checks!: Record<string, CheckResultDto>;
}
