import { INestApplication } from '@nestjs/common';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { adminPagesCsp } from '../modules/auth/admin-pages.middleware';

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Analytics service')
    .setDescription(
      'Privacy-safe event ingestion, durable storage and fast reporting for voice and AI UX analytics. ' +
        'Every event is validated and answered with a verdict; every accepted event is stored exactly once. ' +
        'Errors are application/problem+json.',
    )
    .setVersion('0.1.0')
    .setLicense('MIT', 'https://opensource.org/licenses/MIT')
    .addBearerAuth({
      type: 'http',
      scheme: 'bearer',
      description: 'An API key (ak_…) or a JWT with tenant_id and scope claims',
    })
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Analytics-Key', description: 'An API key (ak_…)' }, 'api-key')
    .build();
  return SwaggerModule.createDocument(app, config);
}

/** Swagger UI at /api/docs, its assets served by the service and no request made outside it. */
export function mountSwaggerUi(app: INestApplication): void {
  app.use('/api/docs', adminPagesCsp);
  SwaggerModule.setup('api/docs', app, () => buildOpenApiDocument(app), {
    jsonDocumentUrl: 'api/docs/openapi.json',
    yamlDocumentUrl: 'api/docs/openapi.yaml',
    // The validator badge would load an image from validator.swagger.io.
    swaggerOptions: { validatorUrl: 'none' },
  });
}
