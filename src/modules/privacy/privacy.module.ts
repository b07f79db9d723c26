import { Module } from '@nestjs/common';
import { ConsentStore } from './consent.store';
import { PrivacyService } from './privacy.service';

/** PII redaction, pseudonymization, consent; retention and erasure run in the worker. */
@Module({
  providers: [PrivacyService, ConsentStore],
  exports: [PrivacyService, ConsentStore],
})
export class PrivacyModule {}
