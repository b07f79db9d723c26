import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Public } from '../auth/auth.decorators';
import { DASHBOARD_CSP, DASHBOARD_CSS, DASHBOARD_HTML } from './dashboard-page';
import { DASHBOARD_PANELS } from './dashboard-panels';
import { DASHBOARD_SCRIPT_SOURCE } from './dashboard-script';

// uPlot from its npm package, served by the service itself: the page asks no other origin.
const UPLOT_DIR = join(dirname(require.resolve('uplot/package.json')), 'dist');
const UPLOT_JS = readFileSync(join(UPLOT_DIR, 'uPlot.iife.min.js'), 'utf8');
const UPLOT_CSS = readFileSync(join(UPLOT_DIR, 'uPlot.min.css'), 'utf8');
const SCRIPT = DASHBOARD_SCRIPT_SOURCE.replace('window.__PANELS__', JSON.stringify(DASHBOARD_PANELS));
const CACHE = 'no-cache';

/**
 * GET /dashboard: a page of the seed's metrics for the tenant of a report key, read through the
 * public report API and the live stream only. The page needs no credential to load; the key is
 * asked for in the page and sent with each report.
 */
@ApiExcludeController()
@Public()
@Controller('dashboard')
export class DashboardController {
  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Content-Security-Policy', DASHBOARD_CSP)
  @Header('Cache-Control', CACHE)
  page(): string {
    return DASHBOARD_HTML;
  }

  @Get('dashboard.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', CACHE)
  script(): string {
    return SCRIPT;
  }

  @Get('dashboard.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Cache-Control', CACHE)
  css(): string {
    return DASHBOARD_CSS;
  }

  @Get('uPlot.iife.min.js')
  @Header('Content-Type', 'text/javascript; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=86400')
  uplot(): string {
    return UPLOT_JS;
  }

  @Get('uPlot.min.css')
  @Header('Content-Type', 'text/css; charset=utf-8')
  @Header('Cache-Control', 'public, max-age=86400')
  uplotCss(): string {
    return UPLOT_CSS;
  }
}
