import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { EventErrorDto } from '../../../common/dto/problem.dto';
import { EVENT_SOURCES } from '../../schema-registry/envelope.schema';
import { VerdictStatus } from '../event-verdict';

const VERDICTS: VerdictStatus[] = ['accepted', 'duplicate', 'dropped', 'quarantined', 'rejected'];

class PageContextDto {
  @ApiPropertyOptional({ example: 'https://shop.example.com/checkout?step=2' }) url?: string;
  @ApiPropertyOptional({ example: 'https://www.example.com/' }) referrer?: string;
  @ApiPropertyOptional({ example: 'Checkout' }) title?: string;
}
class ViewportDto {
  @ApiProperty({ example: 1280 }) width!: number;
  @ApiProperty({ example: 720 }) height!: number;
}
class DeviceContextDto {
  @ApiPropertyOptional({ example: 'Mozilla/5.0' }) user_agent?: string;
  @ApiPropertyOptional({ type: ViewportDto }) viewport?: ViewportDto;
}
class ConsentDto {
  @ApiPropertyOptional({ example: true }) analytics?: boolean;
  @ApiPropertyOptional({ example: false }) ads?: boolean;
}
/** `{"schema": "iglu:vendor/name/jsonschema/M-R-A", "data": {...}}`, validated against exactly the schema it names. */
export class SelfDescribingDto {
  @ApiProperty({ maxLength: 512, example: 'iglu:com.acme/quote/jsonschema/1-0-0', description: 'An Iglu URI' })
  schema!: string;
  @ApiProperty({ type: 'object', additionalProperties: true, example: { quote_id: 'q-1', value: 120 } })
  data!: Record<string, unknown>;
}

class EventContextDto {
  @ApiPropertyOptional({
    type: [SelfDescribingDto],
    maxItems: 20,
    description: 'Self-describing context entities, each validated against the Iglu schema it names',
  })
  entities?: SelfDescribingDto[];
  @ApiPropertyOptional({ type: PageContextDto }) page?: PageContextDto;
  @ApiPropertyOptional({ type: DeviceContextDto }) device?: DeviceContextDto;
  @ApiPropertyOptional({ example: 'en-US' }) locale?: string;
  @ApiPropertyOptional({ type: ConsentDto }) consent?: ConsentDto;
}

/** The event envelope (validated by the JSON Schema in schema-registry). */
export class EventDto {
  @ApiProperty({
    format: 'uuid',
    example: '123e4567-e89b-12d3-a456-426614174000',
    description: 'Client-chosen UUID; the idempotency key within the tenant',
  })
  event_id!: string;
  @ApiProperty({ example: 'voice.turn_started', pattern: '^[a-z][a-z0-9_]*(\\.[a-z][a-z0-9_]*)+$' })
  event_name!: string;
  @ApiProperty({
    format: 'date-time',
    example: '2025-01-15T10:30:00.123Z',
    description: 'RFC 3339; at most the clock-skew tolerance in the future, no older than the retention window',
  })
  occurred_at!: string;
  @ApiProperty({ format: 'uuid', example: '0b9d6f1e-5c1a-4a53-9f43-2c1e8a7d9b10' })
  tenant_id!: string;
  @ApiPropertyOptional({ format: 'uuid', example: '5f0c3a52-7d2e-4b8f-a1c9-0e6d4b2a8f31' })
  site_id?: string;
  @ApiPropertyOptional({ format: 'uuid', example: '9a7b1c3d-2e4f-4a6b-8c0d-1e2f3a4b5c6d' })
  session_id?: string;
  @ApiPropertyOptional({ example: 'u_4821', description: 'Pseudonymous user id' })
  user_id?: string;
  @ApiProperty({ enum: EVENT_SOURCES, example: 'voice_ws' })
  source!: string;
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'Validated against the schema of event_name (docs/events.md lists the built-in types)',
    example: { 'voice.session_id': '9a7b1c3d-2e4f-4a6b-8c0d-1e2f3a4b5c6d', 'voice.turn_id': 't-1' },
  })
  attributes!: Record<string, unknown>;
  @ApiPropertyOptional({
    type: SelfDescribingDto,
    description: 'A self-describing custom payload, validated against exactly the Iglu schema it names',
  })
  payload?: SelfDescribingDto;
  @ApiPropertyOptional({ type: EventContextDto, description: 'Where and under which consent the event happened' })
  context?: EventContextDto;
}

export class BatchDto {
  @ApiProperty({ type: [EventDto], description: '1 to ANALYTICS_MAX_BATCH_SIZE (500) events' })
  events!: EventDto[];
  @ApiPropertyOptional({
    example: 'b-2025-01-15-0001',
    description:
      'Client label of the batch, echoed back; resending a batch is harmless since every event is deduplicated',
  })
  batch_id?: string;
}

export class EventVerdictDto {
  @ApiProperty({ example: 0, description: 'Position of the event in the request' })
  index!: number;
  @ApiProperty({ type: String, nullable: true, example: '123e4567-e89b-12d3-a456-426614174000' })
  event_id!: string | null;
  @ApiProperty({
    enum: VERDICTS,
    example: 'accepted',
    description:
      'accepted: queued, stored exactly once. duplicate: already received (not stored again). dropped: consent withheld (not stored). quarantined: kept apart for a replay (errors says why). rejected: invalid (errors says why), not stored',
  })
  status!: VerdictStatus;
  @ApiPropertyOptional({ type: [EventErrorDto], description: 'Why the event was rejected or quarantined' })
  errors?: EventErrorDto[];
}

export class IngestSummaryDto {
  @ApiPropertyOptional({ example: 'b-2025-01-15-0001' }) batch_id?: string;
  @ApiProperty({ example: 2 }) received!: number;
  @ApiProperty({ example: 1 }) accepted!: number;
  @ApiProperty({ example: 0 }) duplicate!: number;
  @ApiProperty({ example: 0 }) dropped!: number;
  @ApiProperty({ example: 0 }) quarantined!: number;
  @ApiProperty({ example: 1 }) rejected!: number;
  @ApiProperty({ type: [EventVerdictDto] }) results!: EventVerdictDto[];
}

/** A Snowplow tracker's POST body: payload_data, its events as name-value pairs of strings. */
export class TrackerPayloadDto {
  @ApiProperty({ example: 'iglu:com.snowplowanalytics.snowplow/payload_data/jsonschema/1-0-4' })
  schema!: string;

  @ApiProperty({
    type: 'array',
    items: { type: 'object', additionalProperties: { type: 'string' } },
    example: [
      {
        e: 'ue',
        eid: '6f3c1c3e-1b1d-4a4e-9b0a-0c6f4c5c2d11',
        dtm: '1736937000000',
        p: 'srv',
        tv: 'node-4.8.0',
        ue_pr:
          '{"schema":"iglu:com.snowplowanalytics.snowplow/unstruct_event/jsonschema/1-0-0","data":{"schema":"iglu:com.acme/checkout/jsonschema/1-0-0","data":{"order_id":"0123456789abcdef","total":12.5}}}',
      },
    ],
    description: 'Tracker events: e (pv, se, ue), eid, dtm, ue_pr/ue_px, co/cx and the other tracker fields',
  })
  data!: Record<string, string>[];
}
