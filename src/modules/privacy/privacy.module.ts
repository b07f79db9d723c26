import { Module } from '@nestjs/common';
import { TenantsModule } from '../auth/tenants.module';
import { RollupsModule } from '../rollups/rollups.module';
import { SchemaRegistryModule } from '../schema-registry/schema-registry.module';
import { StorageModule } from '../storage/storage.module';
import { ErasureRepository } from './erasure.repository';
import { PrivacyService } from './privacy.service';
import { SubjectDataService } from './subject-data.service';

/** PII redaction and pseudonymization (consent is decided with the dedupe claim, see AdmissionStore), and a subject's stored data. */
@Module({
  imports: [StorageModule, SchemaRegistryModule, RollupsModule, TenantsModule],
  providers: [PrivacyService, ErasureRepository, SubjectDataService],
  exports: [PrivacyService, ErasureRepository, SubjectDataService],
})
export class PrivacyModule {}
