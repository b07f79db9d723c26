import { ExpressAdapter } from '@bull-board/express';
import type { AppViewRoute } from '@bull-board/api/typings/app';
import type { NextFunction, Request, Response } from 'express';

/** <link> elements pointing at another origin: Bull Board's page template asks Google Fonts for IBM Plex. */
const REMOTE_LINK = /<link\b[^>]*?\bhref\s*=\s*["']?(?:https?:)?\/\/[^>]*>\s*/gi;

export function withoutRemoteLinks(html: string): string {
  return html.replace(REMOTE_LINK, '');
}

/**
 * Bull Board's Express adapter, its page rendered without links to other origins: the page then
 * makes no request outside the service, and its stylesheet falls back to system fonts (its font
 * stacks end in system-ui and monospace). The Content-Security-Policy is AdminPagesMiddleware's.
 */
export class SelfContainedExpressAdapter extends ExpressAdapter {
  override setEntryRoute(routeDef: AppViewRoute): this {
    this.app[routeDef.method](routeDef.route, (_req: Request, res: Response, next: NextFunction) => {
      const { name, params } = routeDef.handler({ basePath: this.basePath, uiConfig: this.uiConfig });
      res.render(name, params, (err: Error | null, html: string) => {
        if (err) return next(err);
        res.type('html').send(withoutRemoteLinks(html));
      });
    });
    return this;
  }
}
