import type { IncomingHttpHeaders } from 'node:http';

/**
 * The credential a request presents: `Authorization: Bearer <key or JWT>`, `X-Analytics-Key`, or,
 * for the admin pages a browser opens, HTTP Basic with the key as password.
 */
export function presentedCredential(req: { headers: IncomingHttpHeaders }, allowBasic = false): string | null {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const [scheme, value] = header.trim().split(/\s+/, 2);
    if (/^bearer$/i.test(scheme) && value) return value;
    if (allowBasic && /^basic$/i.test(scheme) && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : decoded;
    }
  }
  const key = req.headers['x-analytics-key'];
  return typeof key === 'string' && key.length > 0 ? key.trim() : null;
}
