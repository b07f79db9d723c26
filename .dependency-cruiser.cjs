/**
 * The design's boundaries, checked by `npm run lint:deps`. Feature modules never import the
 * composition root; the worker's graph holds no HTTP code; the api's holds no worker-only service.
 */
const HTTP_CODE = [
  '\\.controller\\.ts$',
  'middleware\\.ts$',
  '^src/common/(raw-http|json-body\\.middleware|problem\\.filter)\\.ts$',
  '^src/app/(bootstrap|swagger|api\\.module)\\.ts$',
  '^src/modules/ingestion/ingest-route\\.ts$',
  '^src/modules/observability/(http-telemetry|report-telemetry\\.interceptor)\\.ts$',
  'node_modules/(express|@nestjs/platform-express|helmet|@bull-board)/',
];
const WORKER_ONLY = [
  '\\.job\\.ts$',
  '^src/modules/jobs/',
  '-worker\\.module\\.ts$',
  '^src/modules/storage/(storage|retention|quarantine-replay)\\.service\\.ts$',
  '^src/modules/rollups/rollup-fold(er|\\.module)\\.ts$',
  '^src/app/worker',
];

module.exports = {
  forbidden: [
    {
      name: 'modules-never-import-app',
      comment: 'src/app is the composition root: it depends on the modules, never the reverse.',
      severity: 'error',
      from: { path: '^src/(modules|common|database)/' },
      to: { path: '^src/app/' },
    },
    {
      name: 'reporting-never-imports-ingestion',
      severity: 'error',
      from: { path: '^src/modules/reporting/' },
      to: { path: '^src/modules/ingestion/' },
    },
    {
      name: 'worker-code-never-imports-http',
      comment: 'Storage, rollups, job handlers and the worker role run without an HTTP server.',
      severity: 'error',
      from: { path: ['^src/modules/(storage|rollups|jobs)/', '\\.job\\.ts$', '^src/worker\\.ts$', '^src/app/worker'] },
      to: { path: HTTP_CODE },
    },
    {
      name: 'schema-registry-never-imports-ingestion-or-storage',
      severity: 'error',
      from: { path: '^src/modules/schema-registry/' },
      to: { path: '^src/modules/(ingestion|storage)/' },
    },
    {
      name: 'privacy-never-imports-ingestion',
      severity: 'error',
      from: { path: '^src/modules/privacy/' },
      to: { path: '^src/modules/ingestion/' },
    },
    {
      name: 'worker-graph-has-no-http-code',
      comment: 'Nothing the worker role loads is a controller, HTTP middleware or the schema-change subscriber.',
      severity: 'error',
      from: { path: '^src/worker\\.ts$' },
      to: { path: [...HTTP_CODE, '^src/modules/schema-registry/schema-catalog\\.service\\.ts$'], reachable: true },
    },
    {
      name: 'api-graph-has-no-worker-services',
      comment: 'The api validates and enqueues; persisting, folding and maintenance are the worker role.',
      severity: 'error',
      from: { path: '^src/main\\.ts$' },
      to: { path: WORKER_ONLY, reachable: true },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^dist/', '\\.spec\\.ts$'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
