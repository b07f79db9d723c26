import { Module } from '@nestjs/common';
import { EraseSubjectJob } from './erase-subject.job';
import { PrivacyModule } from './privacy.module';

/** The worker's side: carrying out erasure requests. */
@Module({
  imports: [PrivacyModule],
  providers: [EraseSubjectJob],
})
export class PrivacyWorkerModule {}
