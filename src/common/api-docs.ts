import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiResponse, ApiSecurity, getSchemaPath } from '@nestjs/swagger';
import { ProblemDto } from './dto/problem.dto';
import { PROBLEM_CONTENT_TYPE } from './problem';

/** One error answer: its status, when it happens, as application/problem+json. */
export function ApiProblem(status: number, description: string): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDto),
    ApiResponse({
      status,
      description,
      content: { [PROBLEM_CONTENT_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) } } },
    }),
  );
}

/** The answers every POST with a JSON body may give before any handler runs (the body reader's). */
export function JsonBodyProblems(tooLarge = 'The body exceeds ANALYTICS_MAX_PAYLOAD_KB'): MethodDecorator {
  return applyDecorators(
    ApiProblem(413, tooLarge),
    ApiProblem(415, 'The body is not JSON (Content-Type application/json, UTF-8)'),
  );
}

/**
 * OpenAPI for a route that takes an API key or JWT: both schemes, and the answers every
 * authenticated request may get (401, 403, 503, and the 429 of the per-tenant rate limit or of too many
 * failed credentials from one address).
 */
export function AuthenticatedApi(forbidden: string): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiBearerAuth(),
    ApiSecurity('api-key'),
    ApiProblem(401, 'No credential, or an unknown, malformed or revoked one'),
    ApiProblem(403, forbidden),
    ApiProblem(
      429,
      "The tenant's request rate limit, or too many failed credentials from this address; see Retry-After and the RateLimit-* headers",
    ),
    ApiProblem(503, 'The credential could not be checked (the database is unavailable); retry after Retry-After'),
  );
}
