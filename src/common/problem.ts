import { HttpException } from '@nestjs/common';

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://analytics.dev/problems/';

/** RFC 9457 problem details, the body of every error answer. */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  [extension: string]: unknown;
}

/** An error answer with a machine-readable type and a sentence a person can act on. */
export class ProblemException extends HttpException {
  constructor(
    status: number,
    slug: string,
    title: string,
    detail: string,
    extensions: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super({ type: TYPE_BASE + slug, title, status, detail, ...extensions } satisfies ProblemBody, status);
  }

  get body(): ProblemBody {
    return this.getResponse() as ProblemBody;
  }
}

export function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  extensions: Record<string, unknown> = {},
): ProblemBody {
  return { type: TYPE_BASE + slug, title, status, detail, ...extensions };
}
