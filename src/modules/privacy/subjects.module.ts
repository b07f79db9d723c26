import { Module } from '@nestjs/common';
import { StorageModule } from '../storage/storage.module';
import { SubjectsController } from './subjects.controller';

/** The data-subject endpoints of the api: erasure requests and exports. */
@Module({
  imports: [StorageModule],
  controllers: [SubjectsController],
})
export class SubjectsModule {}
