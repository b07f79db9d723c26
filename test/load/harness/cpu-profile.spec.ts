import { CpuProfile, flameGraphSvg, folded, groupOf, summarize } from './cpu-profile';

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
});
