import { Module } from '@nestjs/common';
import { EnvelopeValidator } from './envelope-validator';

@Module({
  providers: [EnvelopeValidator],
  exports: [EnvelopeValidator],
})
export class SchemaRegistryModule {}
