import { Module } from '@nestjs/common';
import { TenantsModule } from '../auth/tenants.module';
import { ConsentRekeying } from './consent-rekeying.service';
import { EraseSubjectJob } from './erase-subject.job';
import { PrivacyModule } from './privacy.module';

/** The worker's side: carrying out erasure requests, and renaming consent records of the old form at start. */
@Module({
  imports: [PrivacyModule, TenantsModule],
  providers: [EraseSubjectJob, ConsentRekeying],
})
export class PrivacyWorkerModule {}
