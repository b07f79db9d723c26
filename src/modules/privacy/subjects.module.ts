import { Module } from '@nestjs/common';
import { PrivacyModule } from './privacy.module';
import { SubjectsController } from './subjects.controller';

/** The data-subject endpoints of the api: erasure requests and exports. */
@Module({
  imports: [PrivacyModule],
  controllers: [SubjectsController],
})
export class SubjectsModule {}
