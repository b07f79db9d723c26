import { Module } from '@nestjs/common';
import { ErasureRepository } from './erasure.repository';
import { PrivacyService } from './privacy.service';

/** PII redaction and pseudonymization (consent is decided with the dedupe claim, see AdmissionStore); retention and erasure run in the worker. */
@Module({
  providers: [PrivacyService, ErasureRepository],
  exports: [PrivacyService, ErasureRepository],
})
export class PrivacyModule {}
