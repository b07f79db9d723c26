import type { NextFunction, Request, Response } from 'express';

/**
 * Answers CORS preflights for the API. A preflight carries no credential, so it cannot tell the
 * tenant: it is allowed here, and the actual request is then held to the tenant's allow-list by
 * the auth guard (which alone sets Access-Control-Allow-Origin on the answer).
 */
export function corsPreflight(req: Request, res: Response, next: NextFunction): void {
  if (req.method !== 'OPTIONS' || !req.path.startsWith('/api/v1/analytics/')) return next();
  const origin = req.headers.origin;
  res.setHeader('Vary', 'Origin');
  if (typeof origin === 'string') res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
  res.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type, X-Analytics-Key');
  res.setHeader('Access-Control-Max-Age', '600');
  res.status(204).end();
}
