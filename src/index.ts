/**
 * The service as a library: mount its modules in a NestJS application (AnalyticsModule), or start
 * it in this process (initializeAnalytics), configured by the brief's options over the environment.
 */
export { AnalyticsModule } from './app/analytics.module';
export { initializeAnalytics } from './app/initialize';
export type { AnalyticsService } from './app/initialize';
export type { AnalyticsOptions } from './modules/config/analytics-options';
export { configFromOptions } from './modules/config/analytics-options';
export { AnalyticsConfig } from './modules/config/analytics-config';
export { ConfigError } from './modules/config/environment';
