import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { DtoValidationPipe } from '../common/dto-validation.pipe';
import { ProblemFilter } from '../common/problem.filter';
import { AnalyticsConfig } from '../modules/config/analytics-config';
import { AuthModule } from '../modules/auth/auth.module';
import { HealthModule } from '../modules/health/health.module';
import { IngestionModule } from '../modules/ingestion/ingestion.module';
import { OpsModule } from '../modules/ops/ops.module';
import { DashboardModule } from '../modules/dashboard/dashboard.module';
import { OtlpModule } from '../modules/otlp/otlp.module';
import { SubjectsModule } from '../modules/privacy/subjects.module';
import { ReportingModule } from '../modules/reporting/reporting.module';
import { PriceBooksModule } from '../modules/costs/price-books.module';
import { SchemaRegistryApiModule } from '../modules/schema-registry/schema-registry-api.module';
import { ObservabilityModule, ObservabilityOptions } from '../modules/observability/observability.module';
import { HttpTelemetry } from '../modules/observability/http-telemetry';
import { ReportTelemetryInterceptor } from '../modules/observability/report-telemetry.interceptor';
import { CoreModule } from './core.module';
import { HttpDrain } from './http-drain';
import { QueuesModule } from './queues.module';

/** The api role: HTTP ingestion, health, Swagger UI and Bull Board. It never writes events to Postgres. */
@Module({})
export class ApiModule {
  static forRoot(config: AnalyticsConfig, observability: ObservabilityOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        CoreModule.forRoot(config),
        ObservabilityModule.forRole(observability),
        QueuesModule,
        AuthModule,
        IngestionModule,
        OtlpModule,
        SubjectsModule,
        ReportingModule,
        PriceBooksModule,
        HealthModule,
        OpsModule,
        SchemaRegistryApiModule,
        DashboardModule,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_PIPE, useClass: DtoValidationPipe },
        { provide: APP_INTERCEPTOR, useClass: ReportTelemetryInterceptor },
        HttpDrain,
        HttpTelemetry,
      ],
    };
  }
}
