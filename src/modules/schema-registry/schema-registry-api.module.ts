import { Module } from '@nestjs/common';
import { QuarantineController } from './quarantine.controller';
import { SchemaCatalog } from './schema-catalog.service';
import { SchemaRegistryModule } from './schema-registry.module';
import { SchemasController } from './schemas.controller';
import { IgluController } from './iglu.controller';
import { SchemasService } from './schemas.service';

/** The api's side: schema and quarantine endpoints, and each instance's cache of tenant schemas. */
@Module({
  imports: [SchemaRegistryModule],
  controllers: [SchemasController, QuarantineController, IgluController],
  providers: [SchemaCatalog, SchemasService],
  exports: [SchemaCatalog, SchemaRegistryModule],
})
export class SchemaRegistryApiModule {}
