import { CpuProfile, flameGraphSvg, folded, groupOf, selfMonitoring, summarize, TreeNode } from './cpu-profile';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

// root → handle (the service's code) → parse (a package); idle and GC beside it.
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 4, 5] },
    { id: 2, callFrame: frame('handle', '/app/dist/src/modules/ingestion/ingest-route.js', 9), children: [3] },
    { id: 3, callFrame: frame('parse', '/app/node_modules/@scope/pkg/lib/parse.js', 0) },
    { id: 4, callFrame: frame('(idle)') },
    { id: 5, callFrame: frame('(garbage collector)') },
  ],
  // Each sample is credited with the time until the next one: 3 → 10 + 20, 2 → 30, idle 40, GC 50.
  samples: [3, 3, 2, 4, 5, 3],
  timeDeltas: [5, 10, 20, 30, 40, 50],
  startTime: 0,
  endTime: 155,
};

describe('CPU profile summary', () => {
  it("splits the time into idle and busy, by function and by package, with each frame's total", () => {
    const s = summarize(profile);
    expect({ wall: s.wall_us, idle: s.idle_us, busy: s.busy_us, gc: s.gc_us }).toEqual({
      wall: 150,
      idle: 40,
      busy: 110,
      gc: 50,
    });
    expect(s.groups).toEqual(
      [
        { name: '(garbage collector)', self_us: 50 },
        { name: '@scope/pkg', self_us: 30 },
        { name: 'src/modules/ingestion/ingest-route', self_us: 30 },
      ].sort((a, b) => b.self_us - a.self_us),
    );
    expect(s.functions[0]).toEqual({ name: '(garbage collector)', self_us: 50 });
    const handle = s.root.children.find((c) => c.name.startsWith('handle'))!;
    expect({ name: handle.name, self: handle.self, total: handle.total }).toEqual({
      name: 'handle ingestion/ingest-route.js:10',
      self: 30,
      total: 60,
    });
    expect(s.root.total).toBe(150);
  });

  it('writes folded stacks without idle time', () => {
    expect(folded(summarize(profile).root)).toEqual([
      'handle ingestion/ingest-route.js:10 30',
      'handle ingestion/ingest-route.js:10;parse lib/parse.js:1 30',
      '(garbage collector) 50',
    ]);
  });

  it("draws each busy frame as wide as its share, the service's code apart in colour", () => {
    const svg = flameGraphSvg(summarize(profile), 'api', 1120);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain(
      'handle ingestion/ingest-route.js:10 (src/modules/ingestion/ingest-route): 54.5 % of busy, self 27.3 %',
    );
    expect(svg).toContain('(garbage collector) ((garbage collector)): 45.5 % of busy');
    expect(svg).not.toContain('(idle)');
    // 1,100 px for 110 µs busy: handle is 600 px wide (less a half-pixel gap), and orange.
    expect(svg).toMatch(/<rect x="10\.0" y="\d+" width="599\.5" height="16" fill="#e8833a"/);
  });

  it('names where code lives', () => {
    expect(groupOf(frame('f', 'file:///x/node_modules/bullmq/dist/cjs/classes/job.js'))).toBe('bullmq');
    expect(groupOf(frame('f', 'node:internal/streams/writable'))).toBe('node:internal/streams/writable');
    expect(groupOf(frame('(program)'))).toBe('(program)');
    expect(groupOf(frame('writev'))).toBe('native');
  });

  it('counts self-monitoring under the observer and the logger, not the request the observer runs, nor module loading', () => {
    const node = (name: string, group: string, self: number, children: TreeNode[] = []): TreeNode => ({
      name,
      group,
      self,
      total: self + children.reduce((a, c) => a + c.total, 0),
      children,
    });
    const root = node('(root)', '(root)', 0, [
      node('observe observability/http-telemetry.js:62', 'src/modules/observability/http-telemetry', 5, [
        node('setHeader node:_http_outgoing:653', 'node:_http_outgoing', 3),
        node('run observability/http-telemetry.js:104', 'src/modules/observability/http-telemetry', 1, [
          node('handle ingestion/ingest-route.js:10', 'src/modules/ingestion/ingest-route', 40, [
            node('write lib/proto.js:206', 'pino', 7, [node('writeString', 'native', 2)]),
          ]),
        ]),
      ]),
      node('(anonymous) observability/http-telemetry.js:70', 'src/modules/observability/http-telemetry', 4, [
        node('inc lib/counter.js:40', 'prom-client', 6),
      ]),
      node('admit ingestion/admission.store.js:189', 'src/modules/ingestion/admission.store', 20),
      node('Module._load cjs/loader:1003', 'node:internal/modules/cjs/loader', 8, [
        node('(anonymous) observability/log.js:1', 'src/modules/observability/log', 9),
      ]),
    ]);
    // observe 5 + setHeader 3 + the loop running the listeners 1, pino's write under the request
    // 7 + 2, the close handler 4 + 6; not the request (40) nor the admission (20)
    expect(selfMonitoring(root)).toEqual({ telemetry: 28, loading: 17 });
  });
});
