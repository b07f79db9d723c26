import { Module } from '@nestjs/common';
import { EnvelopeValidator } from './envelope-validator';
import { EventValidator } from './event-validator';
import { QuarantineController } from './quarantine.controller';
import { QuarantineRepository } from './quarantine.repository';
import { SchemaCatalog } from './schema-catalog.service';
import { SchemaRepository } from './schema.repository';
import { SchemasController } from './schemas.controller';
import { SchemasService } from './schemas.service';

/** Built-in event schemas, tenant schemas under SchemaVer, and the validators compiled from them. */
@Module({
  controllers: [SchemasController, QuarantineController],
  providers: [EnvelopeValidator, EventValidator, SchemaRepository, SchemaCatalog, SchemasService, QuarantineRepository],
  exports: [EventValidator, SchemaCatalog, QuarantineRepository],
})
export class SchemaRegistryModule {}
