import { Module } from '@nestjs/common';
import { ConsentStore } from './consent.store';
import { ErasureRepository } from './erasure.repository';
import { PrivacyService } from './privacy.service';

/** PII redaction, pseudonymization, consent; retention and erasure run in the worker. */
@Module({
  providers: [PrivacyService, ConsentStore, ErasureRepository],
  exports: [PrivacyService, ConsentStore, ErasureRepository],
})
export class PrivacyModule {}
