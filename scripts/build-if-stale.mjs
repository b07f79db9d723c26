#!/usr/bin/env node
// Builds dist/ (tsc -p tsconfig.build.json) only when it is older than a source: any file or folder
// under the build's include roots, or a tsconfig*.json. dist/.tsbuildinfo is the record of the last
// build; it counts only when it is one of a complete build (tsc --noEmit writes the same file, with
// files pending emit). Prints nothing when the build is current.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildInfo = join(root, 'dist', '.tsbuildinfo');

/** The first folder of each include pattern of tsconfig.build.json ("src/**\/*.ts" → src). */
function sourceRoots() {
  try {
    const config = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8'));
    const roots = (config.include ?? []).map((p) => p.split(/[\\/]\*/)[0]).filter(Boolean);
    if (roots.length) return [...new Set(roots)];
  } catch {
    /* comments in the file, or no file: the usual roots */
  }
  return ['src', 'migrations', 'test/load'];
}

/** The newest mtime of a folder, its subfolders (an added or removed file changes them) and files. */
function newest(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return 0;
  }
  let latest = stat.mtimeMs;
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

/** mtime of the last complete, error-free build, or 0. */
function lastBuild() {
  try {
    const info = JSON.parse(readFileSync(buildInfo, 'utf8'));
    const pending = (list) => Array.isArray(list) && list.length > 0;
    if (info.errors || info.checkPending || info.options?.noEmit) return 0;
    if (pending(info.affectedFilesPendingEmit) || pending(info.semanticDiagnosticsPerFile)) return 0;
    if (pending(info.emitDiagnosticsPerFile)) return 0;
    return statSync(buildInfo).mtimeMs;
  } catch {
    return 0;
  }
}

const configs = readdirSync(root).filter((f) => /^tsconfig.*\.json$/.test(f));
const sources = Math.max(...[...sourceRoots(), ...configs].map((p) => newest(join(root, p))));
const built = lastBuild();
if (built > sources) process.exit(0);

const started = new Date();
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) process.exit(result.status ?? 1);
// The build covers what existed when it started: a file saved during it is newer, and is built next time.
utimesSync(buildInfo, started, started);
