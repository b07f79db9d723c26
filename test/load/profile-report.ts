/**
 * npm run profile:report [-- <.cpuprofile files or folders>] — what CPU profiles of the service say:
 * busy time, garbage collection, the busy time by package and by function, and a flame graph
 * (`<profile>.svg`) and folded stacks (`<profile>.folded`) next to each profile. Profiles come from
 * `LOAD_NODE_ARGS="--cpu-prof --cpu-prof-dir=results/profiles" npm run test:analytics:load` (or any
 * `node --cpu-prof` run); the default folder is results/profiles.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuProfile, flameGraphSvg, folded, summarize } from './harness/cpu-profile';
import { fmt } from './harness/stats';

function profilesIn(paths: string[]): string[] {
  return paths.flatMap((p) => {
    if (!statSync(p, { throwIfNoEntry: false })) throw new Error(`${p}: no such file or folder`);
    if (statSync(p).isDirectory())
      return readdirSync(p)
        .filter((f) => f.endsWith('.cpuprofile'))
        .sort()
        .map((f) => join(p, f));
    return [p];
  });
}

function main(): void {
  const args = process.argv.slice(2);
  const files = profilesIn(args.length ? args : ['results/profiles']);
  if (!files.length) {
    console.error(
      `No .cpuprofile in ${args.join(', ') || 'results/profiles'}. Record some with LOAD_NODE_ARGS="--cpu-prof --cpu-prof-dir=results/profiles" npm run test:analytics:load`,
    );
    process.exit(2);
  }
  for (const file of files) {
    const s = summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
    const share = (us: number) => `${fmt((100 * us) / Math.max(1, s.busy_us), 1).padStart(5)} %`;
    const title = `${s.script ?? 'node process'} (${file.split('/').pop()})`;
    console.log(
      `\n${title}: ${fmt(s.busy_us / 1e6, 2)} s busy of ${fmt(s.wall_us / 1e6, 2)} s; garbage collection ${share(s.gc_us).trim()} of busy`,
    );
    const running = s.busy_us - s.loading_us;
    console.log(
      `  self-monitoring (metrics, logs, traces): ${fmt(s.telemetry_us / 1e3, 1)} ms, ${fmt((100 * s.telemetry_us) / Math.max(1, running), 2)} % of the busy time outside module loading (${fmt(running / 1e6, 2)} s)`,
    );
    console.log('  busy time by package or source file (self):');
    for (const g of s.groups.slice(0, 15)) console.log(`  ${share(g.self_us)}  ${g.name}`);
    console.log('  busy time by function (self):');
    for (const f of s.functions.slice(0, 20)) console.log(`  ${share(f.self_us)}  ${f.name}`);
    writeFileSync(`${file}.svg`, flameGraphSvg(s, title));
    writeFileSync(`${file}.folded`, `${folded(s.root).join('\n')}\n`);
    console.log(`  flame graph: ${file}.svg; folded stacks: ${file}.folded`);
  }
}

main();
