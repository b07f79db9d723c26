import { EVENT_SOURCES } from '../schema-registry/envelope.schema';
import { GRAINS } from '../reporting/timeseries-plan';

/**
 * The dashboard's policy: nothing but the service's own origin, no inline script or style
 * element, no frames, no form posting elsewhere. uPlot draws on canvas and sets styles through the
 * DOM, which a policy without 'unsafe-inline' allows.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const options = (values: readonly string[], selected: string) =>
  values.map((v) => `<option value="${v}"${v === selected ? ' selected' : ''}>${v}</option>`).join('');

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Analytics dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/dashboard/uPlot.min.css">
<link rel="stylesheet" href="/dashboard/dashboard.css">
</head>
<body>
<header>
  <h1>Voice &amp; AI analytics</h1>
  <span id="tenant"></span>
</header>
<form id="login" autocomplete="off">
  <label for="key">Report key</label>
  <input id="key" type="password" placeholder="ak_…" required>
  <button type="submit">Open</button>
  <p class="hint">Kept for this tab only (sessionStorage); sent only to this service.</p>
  <p id="login-error" role="alert"></p>
</form>
<nav id="controls" hidden>
  <label>Range <select id="range">${options(['1h', '6h', '24h', '7d'], '6h')}</select></label>
  <label>Grain <select id="grain">${options(Object.keys(GRAINS), '5m')}</select></label>
  <label>Site <input id="site" placeholder="all sites (or a site UUID)" size="38"></label>
  <label>Source <select id="source"><option value="">all</option>${options(EVENT_SOURCES, '')}</select></label>
</nav>
<main id="panels"></main>
<script src="/dashboard/uPlot.iife.min.js"></script>
<script src="/dashboard/dashboard.js"></script>
</body>
</html>
`;

export const DASHBOARD_CSS = `
[hidden] { display: none !important; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2330; }
header { display: flex; align-items: baseline; gap: 1rem; padding: 0.8rem 1.2rem; background: #1d2330; color: #fff; }
header h1 { font-size: 1.2rem; margin: 0; }
#tenant { opacity: 0.7; font-size: 0.85rem; }
form#login, nav { padding: 0.8rem 1.2rem; display: flex; gap: 0.8rem; align-items: center; flex-wrap: wrap; }
form#login .hint { flex-basis: 100%; margin: 0; color: #5a6272; font-size: 0.85rem; }
#login-error { color: #b3261e; flex-basis: 100%; margin: 0; }
main { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 0.8rem; padding: 0 1.2rem 1.2rem; }
.panel { background: #fff; border-radius: 6px; padding: 0.6rem 0.8rem; box-shadow: 0 1px 2px rgba(0,0,0,0.08); min-height: 250px; }
.panel h2 { font-size: 0.95rem; margin: 0 0 0.2rem; }
.panel .stat { font-size: 1.3rem; font-weight: 600; min-height: 1.8rem; }
.panel .note { color: #b3261e; font-size: 0.8rem; margin: 0.2rem 0 0; }
.panel[data-state="loading"] .stat::after { content: "loading…"; color: #8a91a0; font-weight: 400; font-size: 0.9rem; }
.funnel-step { display: grid; grid-template-columns: 9.5rem 1fr 6.5rem; gap: 0.5rem; align-items: center; margin: 0.6rem 0; }
.funnel-label { font-size: 0.85rem; }
.funnel-bar { background: #e6e9ef; height: 1.1rem; border-radius: 3px; overflow: hidden; }
.funnel-fill { display: block; height: 100%; background: #2f6fde; }
.funnel-count { font-size: 0.85rem; text-align: right; }
`;
