import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';

const run = promisify(execFile);
const DIR = join(__dirname, '..', 'docker', 'prometheus');

interface RuleTest {
  name: string;
  alert_rule_test: { alertname: string; exp_alerts: unknown[] }[];
}

describe('the alert rules (promtool, Debian package prometheus)', () => {
  const rules = load(readFileSync(join(DIR, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string }[] }[] };
  const alerts = rules.groups.flatMap((g) => g.rules.map((r) => r.alert));

  it("holds the brief's five alerts, the worker down and the rollups lagging", () => {
    expect(alerts.sort()).toEqual(
      [
        'AnalyticsIngestionLatencyHigh', // ingestion p95 above 200 ms
        'AnalyticsValidationFailuresHigh', // schema validation failures above 1 %
        'AnalyticsDuplicateRateHigh', // duplicates above 1 %
        'AnalyticsReportLatencyHigh', // report p95 above 5 s...
        'AnalyticsReportTimeouts', // ...or timeouts rising
        'AnalyticsJobsFailing', // storage errors: failed jobs...
        'AnalyticsEventsRefused', // ...events Postgres refused
        'AnalyticsBacklogNearLimit', // capacity: backlog near the gate...
        'AnalyticsDatabaseDiskLow', // ...and the database's disk
        'AnalyticsWorkerDown',
        'AnalyticsRollupsLagging',
      ].sort(),
    );
  });

  it('passes promtool check rules', async () => {
    const { stdout } = await run('promtool', ['check', 'rules', join(DIR, 'alerts.yml')]);
    expect(stdout).toContain(`SUCCESS: ${alerts.length} rules found`);
  });

  it('has a unit test where each alert fires and one where it stays quiet, and promtool test rules passes them', async () => {
    const tests = (load(readFileSync(join(DIR, 'alerts.test.yml'), 'utf8')) as { tests: RuleTest[] }).tests;
    for (const alert of alerts) {
      const cases = tests.flatMap((t) => t.alert_rule_test.filter((c) => c.alertname === alert));
      expect({ alert, fires: cases.some((c) => c.exp_alerts.length > 0) }).toEqual({ alert, fires: true });
      expect({ alert, quiet: cases.some((c) => c.exp_alerts.length === 0) }).toEqual({ alert, quiet: true });
    }
    const { stdout } = await run('promtool', ['test', 'rules', 'alerts.test.yml'], { cwd: DIR });
    expect(stdout).toMatch(/SUCCESS/);
    expect(stdout).not.toMatch(/FAILED/);
  });
});
