import { ApiProperty } from '@nestjs/swagger';

export class LiveTokenDto {
  @ApiProperty({
    example: 'lst_8Zb1kQvX0m2Qx3nT4yL7cR9pA6sD5fG1',
    description:
      'Opens GET /api/v1/analytics/reports/live?token=… for this tenant until expires_at (ANALYTICS_LIVE_TOKEN_TTL_S); a stream already open stays open',
  })
  token!: string;
  @ApiProperty({ example: '2026-12-01T12:05:00.000Z', format: 'date-time' }) expires_at!: string;
  @ApiProperty({
    format: 'uuid',
    example: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10',
    description: 'The tenant of the key (and of the stream): the tenantId its reports name',
  })
  tenant_id!: string;
}
