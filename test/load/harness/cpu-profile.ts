/**
 * Reading V8 CPU profiles (`node --cpu-prof`, the `.cpuprofile` format): where the busy time went,
 * by function and by package, and a flame graph as a self-contained SVG.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** A node of the call tree with the time spent in it (self) and under it (total), in microseconds. */
export interface TreeNode {
  name: string;
  group: string;
  self: number;
  total: number;
  children: TreeNode[];
}

export interface ProfileSummary {
  /** the script the process ran (dist/src/main.js, dist/src/worker.js), when the profile shows it */
  script: string | null;
  wall_us: number;
  idle_us: number;
  busy_us: number;
  gc_us: number;
  /** busy time by package or area, largest first */
  groups: { name: string; self_us: number }[];
  /** busy time by function (self), largest first */
  functions: { name: string; self_us: number }[];
  root: TreeNode;
  /** busy time spent in self-monitoring (see selfMonitoring) */
  telemetry_us: number;
  /** busy time spent loading modules (start-up), which a run's share of telemetry leaves out */
  loading_us: number;
}

const IDLE = '(idle)';
const ROOT = '(root)';

/** Where a frame's code lives: a package, the service's own source file, a node built-in, or V8. */
export function groupOf(frame: CallFrame): string {
  const url = frame.url;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  const own = /\/dist\/((?:src|test)\/.*)\.js$/.exec(url);
  if (own) return own[1];
  if (url.startsWith('node:')) return url;
  return frame.functionName.startsWith('(') ? frame.functionName : 'native';
}

function label(frame: CallFrame): string {
  const file = frame.url ? frame.url.split('/').slice(-2).join('/') : '';
  return `${frame.functionName || '(anonymous)'}${file ? ` ${file}:${frame.lineNumber + 1}` : ''}`;
}

/** Self time of every node, from the samples and the time deltas between them. */
function selfTimes(p: CpuProfile): Map<number, number> {
  const self = new Map<number, number>();
  // timeDeltas[i] is the time since the previous sample; it is spent in the sample at i - 1,
  // so each sample is credited with the delta that follows it.
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? 0;
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + Math.max(0, dt));
  }
  return self;
}

export function summarize(p: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = selfTimes(p);
  const build = (n: ProfileNode): TreeNode => {
    const children = (n.children ?? []).map((id) => build(byId.get(id)!)).filter((c) => c.total > 0);
    const own = self.get(n.id) ?? 0;
    return {
      name: label(n.callFrame),
      group: groupOf(n.callFrame),
      self: own,
      total: own + children.reduce((a, c) => a + c.total, 0),
      children,
    };
  };
  const rootNode = p.nodes.find((n) => n.callFrame.functionName === ROOT) ?? p.nodes[0];
  const root = build(rootNode);

  let idle = 0,
    gc = 0,
    wall = 0;
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of self) {
    wall += us;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === IDLE) {
      idle += us;
      continue;
    }
    if (frame.functionName === '(garbage collector)') gc += us;
    const g = groupOf(frame);
    groups.set(g, (groups.get(g) ?? 0) + us);
    const f = label(frame);
    functions.set(f, (functions.get(f) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, self_us]) => ({ name, self_us }));
  const script =
    p.nodes
      .map((n) => /\/dist\/(src\/[^/]+\.js)$/.exec(n.callFrame.url)?.[1])
      .find((s) => s === 'src/main.js' || s === 'src/worker.js') ?? null;
  const { telemetry, loading } = selfMonitoring(root);
  return {
    script,
    telemetry_us: telemetry,
    loading_us: loading,
    wall_us: wall,
    idle_us: idle,
    busy_us: wall - idle,
    gc_us: gc,
    groups: sorted(groups),
    functions: sorted(functions),
    root,
  };
}

/** Code whose time is self-monitoring: the service's observability module and the packages it writes through. */
const TELEMETRY_GROUP = /^(src\/modules\/observability\/|pino$|sonic-boom$|prom-client$|@opentelemetry\/)/;
/**
 * The time of the call tree spent on self-monitoring: frames of the observability code or of
 * pino, sonic-boom, prom-client and OpenTelemetry, with what they call (node's writes, a package),
 * up to where they call back into the service's own code (the request observer running the
 * request, a span around a job): that is the request or the job again. Also the time spent loading
 * modules, which a run's share leaves out.
 */
export function selfMonitoring(root: TreeNode): { telemetry: number; loading: number } {
  let telemetry = 0;
  let loading = 0;
  const ownCode = (group: string) => group.startsWith('src/') || group.startsWith('test/');
  const walk = (n: TreeNode, inside: boolean, inLoader: boolean): void => {
    const now = TELEMETRY_GROUP.test(n.group) || (inside && !ownCode(n.group));
    const loader = inLoader || n.group === 'node:internal/modules/cjs/loader';
    if (loader) loading += n.self;
    else if (now) telemetry += n.self;
    for (const c of n.children) walk(c, now, loader);
  };
  walk(root, false, false);
  return { telemetry, loading };
}

/** The call tree without idle time, as "frame;frame;frame microseconds" lines (the folded-stacks format of flame graph tools). */
export function folded(root: TreeNode): string[] {
  const lines: string[] = [];
  const walk = (n: TreeNode, path: string[]) => {
    if (n.name.startsWith(IDLE)) return;
    const here = n.name.startsWith(ROOT) ? path : [...path, n.name.replace(/;/g, ',')];
    if (n.self > 0 && here.length) lines.push(`${here.join(';')} ${Math.round(n.self)}`);
    for (const c of n.children) walk(c, here);
  };
  walk(root, []);
  return lines;
}

const COLORS: [RegExp, string][] = [
  [/^(src|test)\//, '#e8833a'], // the service's own code
  [/^\(garbage collector\)$/, '#b0b0b0'],
  [/^\(program\)$|^native$/, '#c9c9c9'],
  [/^node:/, '#6cbf73'],
];
const colorOf = (group: string) => COLORS.find(([re]) => re.test(group))?.[1] ?? '#5d9fd6'; // packages

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A flame graph of the busy time (idle left out): callers below, callees above, each frame as wide
 * as its total time; orange the service's own code, blue packages, green node built-ins, grey V8
 * (garbage collection, native code). Hovering a frame shows its name, group and share.
 */
export function flameGraphSvg(s: ProfileSummary, title: string, width = 1600): string {
  const rowH = 17;
  const busy = Math.max(1, s.busy_us);
  const scale = (width - 20) / busy;
  const rects: string[] = [];
  let depthMax = 0;
  const place = (n: TreeNode, x: number, depth: number) => {
    const w = n.total * scale;
    if (w < 0.3) return;
    depthMax = Math.max(depthMax, depth);
    rects.push(
      `<g><title>${esc(`${n.name} (${n.group}): ${((100 * n.total) / busy).toFixed(1)} % of busy, self ${((100 * n.self) / busy).toFixed(1)} %`)}</title>` +
        `<rect x="${(10 + x).toFixed(1)}" y="DEPTH${depth}" width="${Math.max(0.3, w - 0.5).toFixed(1)}" height="${rowH - 1}" fill="${colorOf(n.group)}" rx="1"/>` +
        (w > 40
          ? `<text x="${(13 + x).toFixed(1)}" y="TEXT${depth}" font-size="11" font-family="monospace">${esc(n.name.slice(0, Math.floor(w / 6.8)))}</text>`
          : '') +
        '</g>',
    );
    let cx = x;
    for (const c of [...n.children].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      place(c, cx, depth + 1);
      cx += c.total * scale;
    }
  };
  // The root's children without idle: the busy time's call trees side by side.
  let x = 0;
  for (const c of s.root.children.filter((c) => !c.name.startsWith(IDLE))) {
    place(c, x, 0);
    x += c.total * scale;
  }
  const height = (depthMax + 1) * rowH + 60;
  const yOf = (d: number) => height - 20 - (d + 1) * rowH;
  const body = rects
    .join('\n')
    .replace(/DEPTH(\d+)/g, (_, d) => String(yOf(Number(d))))
    .replace(/TEXT(\d+)/g, (_, d) => String(yOf(Number(d)) + 12));
  const heading = `${title}: ${(s.busy_us / 1e6).toFixed(2)} s busy of ${(s.wall_us / 1e6).toFixed(2)} s, garbage collection ${((100 * s.gc_us) / busy).toFixed(1)} % of busy`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n` +
    `<rect width="100%" height="100%" fill="#fdfdfd"/>\n<text x="10" y="22" font-size="15" font-family="sans-serif">${esc(heading)}</text>\n${body}\n</svg>\n`
  );
}
