import { Module } from '@nestjs/common';
import { EnvelopeValidator } from './envelope-validator';
import { EventValidator } from './event-validator';
import { QuarantineRepository } from './quarantine.repository';
import { SchemaRepository } from './schema.repository';
import { TenantSchemas } from './tenant-schemas.service';

/** Built-in event schemas, tenant schemas under SchemaVer, the validators and the quarantine, for both roles. */
@Module({
  providers: [EnvelopeValidator, EventValidator, SchemaRepository, TenantSchemas, QuarantineRepository],
  exports: [EnvelopeValidator, EventValidator, SchemaRepository, TenantSchemas, QuarantineRepository],
})
export class SchemaRegistryModule {}
