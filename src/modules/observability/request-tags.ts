import type { IncomingMessage } from 'node:http';

const LANE = Symbol('analytics:lane');

export type Lane = 'ingest-route' | 'express';

interface Tagged {
  [LANE]?: { route: string };
  principal?: { tenantId?: string };
}

/** Marks a request as answered by the hand-written ingest route, with its route (metrics and logs label it so). */
export function tagIngestRoute(req: IncomingMessage, route: string, principal?: { tenantId: string }): void {
  const t = req as IncomingMessage & Tagged;
  t[LANE] = { route };
  if (principal) t.principal = principal;
}

/** The ingest route's tag, if it answered this request. */
export function ingestRouteOf(req: IncomingMessage): { route: string } | undefined {
  return (req as IncomingMessage & Tagged)[LANE];
}

/** The tenant the request's credential named, once authenticated (both lanes put the principal on the request). */
export function tenantOf(req: IncomingMessage): string | undefined {
  return (req as IncomingMessage & Tagged).principal?.tenantId;
}
