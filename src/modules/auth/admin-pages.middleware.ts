import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { problem } from '../../common/problem';
import { ProblemException } from '../../common/problem';
import { sendProblem } from '../../common/raw-http';
import { grants } from './api-key';
import { MalformedCredential, presentedCredential } from './credential-extractor';
import { CredentialError, CredentialService } from './credential.service';
import { credentialProblem } from './request-authorizer';

/**
 * What the service's pages (Bull Board, Swagger UI) may load: their own scripts, styles, images and
 * API, nothing from another origin. Inline styles stay allowed: both pages' HTML carries inline
 * styles and <style> elements, and their components add more at run time. No inline script runs
 * (Bull Board's UI config is a JSON data block, which is not executed); images include data: URIs,
 * which both pages' stylesheets use for icons.
 */
export const ADMIN_PAGES_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Sets {@link ADMIN_PAGES_CSP} on an answer. */
export function adminPagesCsp(_req: Request, res: Response, next: NextFunction): void {
  res.setHeader('Content-Security-Policy', ADMIN_PAGES_CSP);
  next();
}

/**
 * Guards Bull Board. Its jobs hold every tenant's events, so it needs an admin API key of an
 * operator tenant; a JWT, however scoped, is refused (403): a dashboard token from the single
 * sign-on never opens a cross-tenant surface. Browsers are asked for HTTP Basic credentials (any
 * user name, the key as password). Every answer carries {@link ADMIN_PAGES_CSP}.
 */
@Injectable()
export class AdminPagesMiddleware implements NestMiddleware {
  constructor(private readonly credentials: CredentialService) {}

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    res.setHeader('Content-Security-Policy', ADMIN_PAGES_CSP);
    const send = (status: number, detail: string) => {
      if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="Analytics admin", charset="UTF-8"');
      sendProblem(
        res,
        problem(
          status,
          status === 401 ? 'unauthorized' : 'forbidden',
          status === 401 ? 'Unauthorized' : 'Forbidden',
          detail,
        ),
        {},
      );
    };
    try {
      const credential = presentedCredential(req, true);
      if (!credential)
        return send(
          401,
          'The queue dashboard needs an admin API key of an operator tenant (as the Basic auth password, or a Bearer token).',
        );
      const p = await this.credentials.resolve(credential, req.socket.remoteAddress);
      if (p.via !== 'api_key') {
        return send(
          403,
          "The queue dashboard shows every tenant's jobs: it takes an admin API key of an operator tenant, not a JWT.",
        );
      }
      if (!grants(p.scopes, 'admin') || !p.isOperator) {
        return send(403, "The queue dashboard shows every tenant's jobs: it needs an admin key of an operator tenant.");
      }
      next();
    } catch (err) {
      if (err instanceof MalformedCredential) return send(401, err.message);
      if (err instanceof CredentialError) {
        if (err.status === 401) return send(401, err.message);
        const answer: ProblemException = credentialProblem(err);
        return sendProblem(res, answer.body, answer.headers);
      }
      next(err);
    }
  }
}
