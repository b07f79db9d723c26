import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dump, loadAll } from 'js-yaml';

const run = promisify(execFile);
const ROOT = join(__dirname, '..');
const MANIFEST = join(ROOT, 'docker', 'kubernetes.yaml');
const CHECK = join(ROOT, 'scripts', 'check-kubernetes.mjs');

type Obj = Record<string, any>;
const docs = () => loadAll(readFileSync(MANIFEST, 'utf8')) as Obj[];
const find = (all: Obj[], kind: string, name: string) => all.find((d) => d.kind === kind && d.metadata.name === name)!;

describe('the Kubernetes manifests', () => {
  it('pass the schema check of every object (npm run lint:kubernetes), and a broken one fails it', async () => {
    const { stdout } = await run(process.execPath, [CHECK, MANIFEST], { cwd: ROOT });
    expect(stdout.trim().split('\n')).toHaveLength(docs().length);
    expect(stdout).not.toMatch(/FAIL/);

    const dir = mkdtempSync(join(tmpdir(), 'analytics-k8s-'));
    try {
      const broken = docs();
      find(broken, 'Deployment', 'analytics-worker').spec.template.spec.containers[0].ports[0].containerPort = 'nine';
      find(broken, 'HorizontalPodAutoscaler', 'analytics-api').spec.minReplicas = '2';
      broken.push({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } });
      const file = join(dir, 'broken.yaml');
      writeFileSync(file, broken.map((d) => dump(d)).join('---\n'));
      const failed = await run(process.execPath, [CHECK, file], { cwd: ROOT }).then(
        () => null,
        (err: { code: number; stderr: string }) => err,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toMatch(/Deployment analytics-worker .*containerPort must be integer/);
      expect(failed?.stderr).toMatch(/HorizontalPodAutoscaler analytics-api .*minReplicas must be integer/);
      expect(failed?.stderr).toMatch(/Widget w \(example\.com\/v1\): no schema/);
      expect(failed?.stderr).toMatch(/3 object\(s\) invalid/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('give the worker the same probes as the api, on its own port, and scrape both', () => {
    const all = docs();
    const container = (name: string) => find(all, 'Deployment', name).spec.template.spec.containers[0];
    const api = container('analytics-api');
    const worker = container('analytics-worker');
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      expect(worker[probe]).toBeDefined();
      expect(api[probe]).toBeDefined();
    }
    expect(worker.livenessProbe.httpGet).toEqual({ path: api.livenessProbe.httpGet.path, port: 'metrics' });
    expect(worker.readinessProbe.httpGet).toEqual({ path: api.readinessProbe.httpGet.path, port: 'metrics' });
    expect(worker.startupProbe.httpGet).toEqual({ path: '/api/v1/analytics/health/startup', port: 'metrics' });
    const config = find(all, 'ConfigMap', 'analytics-config').data;
    expect(worker.ports).toEqual([{ name: 'metrics', containerPort: Number(config.ANALYTICS_WORKER_PORT) }]);
    expect(api.ports).toContainEqual({ name: 'metrics', containerPort: Number(config.ANALYTICS_METRICS_PORT) });
    for (const [name, port] of [
      ['analytics-api', config.ANALYTICS_METRICS_PORT],
      ['analytics-worker', config.ANALYTICS_WORKER_PORT],
    ]) {
      expect(find(all, 'Deployment', name).spec.template.metadata.annotations).toEqual({
        'prometheus.io/scrape': 'true',
        'prometheus.io/port': port,
        'prometheus.io/path': '/metrics',
      });
      expect(find(all, 'ServiceMonitor', name).spec.endpoints[0]).toMatchObject({ port: 'metrics', path: '/metrics' });
      expect(find(all, 'HorizontalPodAutoscaler', name).spec.scaleTargetRef).toEqual({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        name,
      });
      expect(find(all, 'PodDisruptionBudget', name).spec.selector).toEqual({ matchLabels: { app: name } });
    }
    expect(find(all, 'Job', 'analytics-migrate').spec.template.spec.containers[0].command).toEqual([
      'node',
      'dist/src/cli/migrate.js',
    ]);
  });
});
