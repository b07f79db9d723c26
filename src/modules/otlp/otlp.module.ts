import { Module } from '@nestjs/common';
import { IngestionModule } from '../ingestion/ingestion.module';
import { SchemaRegistryApiModule } from '../schema-registry/schema-registry-api.module';
import { OtlpController } from './otlp.controller';
import { OtlpService } from './otlp.service';

@Module({
  imports: [IngestionModule, SchemaRegistryApiModule],
  controllers: [OtlpController],
  providers: [OtlpService],
})
export class OtlpModule {}
