import { Module } from '@nestjs/common';
import { SchemaRegistryModule } from '../schema-registry/schema-registry.module';
import { DedupeStore } from './dedupe.store';
import { IngestionController } from './ingestion.controller';
import { IngestionService } from './ingestion.service';

@Module({
  imports: [SchemaRegistryModule],
  controllers: [IngestionController],
  providers: [IngestionService, DedupeStore],
})
export class IngestionModule {}
