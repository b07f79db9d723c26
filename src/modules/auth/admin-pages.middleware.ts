import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { problem } from '../../common/problem';
import { sendProblem } from '../../common/raw-http';
import { grants } from './api-key';
import { presentedCredential } from './credential-extractor';
import { CredentialError, CredentialService } from './credential.service';

/**
 * Guards Bull Board. Its jobs hold every tenant's events, so it needs an admin key of an operator
 * tenant. Browsers are asked for HTTP Basic credentials (any user name, the key as password).
 */
@Injectable()
export class AdminPagesMiddleware implements NestMiddleware {
  constructor(private readonly credentials: CredentialService) {}

  async use(req: Request, res: Response, next: NextFunction): Promise<void> {
    const send = (status: number, detail: string) => {
      if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="Analytics admin", charset="UTF-8"');
      sendProblem(
        res,
        problem(
          status,
          status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'unavailable',
          status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Service unavailable',
          detail,
        ),
        {},
      );
    };
    const credential = presentedCredential(req, true);
    if (!credential)
      return send(
        401,
        'The queue dashboard needs an admin API key of an operator tenant (as the Basic auth password, or a Bearer token).',
      );
    try {
      const p = await this.credentials.resolve(credential);
      if (!grants(p.scopes, 'admin') || !p.isOperator) {
        return send(403, "The queue dashboard shows every tenant's jobs: it needs an admin key of an operator tenant.");
      }
      next();
    } catch (err) {
      if (err instanceof CredentialError) return send(err.status, err.message);
      next(err);
    }
  }
}
