import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse, ApiSecurity } from '@nestjs/swagger';

/** OpenAPI for a route that takes an API key or JWT: both schemes, and the 401 and 403 answers. */
export function AuthenticatedApi(forbidden: string): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBearerAuth(),
    ApiSecurity('api-key'),
    ApiResponse({ status: 401, description: 'No credential, or an unknown, malformed or revoked one' }),
    ApiResponse({ status: 403, description: forbidden }),
  );
}
