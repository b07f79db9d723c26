import type { IncomingHttpHeaders } from 'node:http';

/** An Authorization header that is not one scheme and one credential: refused with 401, never guessed at. */
export class MalformedCredential extends Error {}

/**
 * The credential a request presents: `Authorization: Bearer <key or JWT>`, `X-Analytics-Key`, or,
 * for the admin pages a browser opens, HTTP Basic with the key as password. A Bearer (or Basic)
 * header carries exactly one token: `Bearer <key> junk` throws {@link MalformedCredential}.
 */
export function presentedCredential(req: { headers: IncomingHttpHeaders }, allowBasic = false): string | null {
  const header = req.headers.authorization;
  if (typeof header === 'string') {
    const [scheme, ...rest] = header.trim().split(/\s+/);
    const bearer = /^bearer$/i.test(scheme);
    const basic = allowBasic && /^basic$/i.test(scheme);
    if ((bearer || basic) && rest.length > 1) {
      throw new MalformedCredential(
        `The Authorization header must be "${bearer ? 'Bearer' : 'Basic'} <credential>" with exactly one token; it carries ${rest.length}.`,
      );
    }
    const [value] = rest;
    if (bearer && value) return value;
    if (basic && value) {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 ? decoded.slice(colon + 1) : decoded;
    }
  }
  const key = req.headers['x-analytics-key'];
  return typeof key === 'string' && key.length > 0 ? key.trim() : null;
}
