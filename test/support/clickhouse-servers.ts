import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './worker-process';

/**
 * ClickHouse servers of this machine for tests and benchmarks: each on free ports, with its own data
 * directory and a generated config.xml (no root, nothing of /etc/clickhouse-server), and the
 * cluster `analytics_shards` over all of them in remote_servers (one shard per server).
 */
export interface ClickHouseServers {
  urls: string[];
  cluster: string;
  dir: string;
  pids: number[];
  stop(): void;
}

export function clickHouseBinary(): string[] {
  for (const p of ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server']) if (existsSync(p)) return [p];
  if (existsSync('/usr/bin/clickhouse')) return ['/usr/bin/clickhouse', 'server'];
  throw new Error(
    'clickhouse-server is not installed: run `apt-get install clickhouse-server clickhouse-client` (Debian ships 18.16), or .ci/run, which installs it',
  );
}

function configXml(dir: string, ports: Ports, all: Ports[]): string {
  const shards = all
    .map((s) => `<shard><replica><host>127.0.0.1</host><port>${s.tcp}</port></replica></shard>`)
    .join('');
  return `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${dir}/log/server.log</log><errorlog>${dir}/log/error.log</errorlog><size>10M</size><count>2</count></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${ports.http}</http_port>
  <tcp_port>${ports.tcp}</tcp_port>
  <interserver_http_port>${ports.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <path>${dir}/data/</path>
  <tmp_path>${dir}/tmp/</tmp_path>
  <user_files_path>${dir}/user_files/</user_files_path>
  <format_schema_path>${dir}/format_schemas/</format_schema_path>
  <users_config>${dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>268435456</mark_cache_size>
  <uncompressed_cache_size>268435456</uncompressed_cache_size>
  <max_concurrent_queries>200</max_concurrent_queries>
  <mlock_executable>false</mlock_executable>
  <remote_servers><analytics_shards>${shards}</analytics_shards></remote_servers>
</yandex>`;
}

const USERS_XML = `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default></users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>`;

interface Ports {
  http: number;
  tcp: number;
  interserver: number;
}

async function waitReady(url: string, exited: () => string | null, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gone = exited();
    if (gone) throw new Error(`clickhouse-server exited (${gone}) before it answered on ${url}`);
    try {
      if ((await fetch(`${url}/ping`)).ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`clickhouse-server did not answer on ${url} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts `servers` ClickHouse servers, as the current user, detached (they outlive a crashed caller until stopped). */
export async function startClickHouseServers(servers = 1, timeoutMs = 60_000): Promise<ClickHouseServers> {
  const root = mkdtempSync(join(tmpdir(), 'analytics-clickhouse-'));
  const bin = clickHouseBinary();
  const ports: Ports[] = [];
  for (let i = 0; i < servers; i++)
    ports.push({ http: await freePort(), tcp: await freePort(), interserver: await freePort() });
  const children = ports.map((p, i) => {
    const d = join(root, `s${i}`);
    for (const sub of ['data', 'tmp', 'log', 'user_files', 'format_schemas'])
      mkdirSync(join(d, sub), { recursive: true });
    writeFileSync(join(d, 'users.xml'), USERS_XML);
    writeFileSync(join(d, 'config.xml'), configXml(d, p, ports));
    const child = spawn(bin[0], [...bin.slice(1), `--config-file=${join(d, 'config.xml')}`], {
      cwd: d,
      stdio: 'ignore',
      detached: true,
    });
    let exit: string | null = null;
    child.on('exit', (code, signal) => (exit = `code ${code}, signal ${signal}`));
    child.unref();
    return { child, exited: () => exit };
  });
  const urls = ports.map((p) => `http://127.0.0.1:${p.http}`);
  try {
    await Promise.all(urls.map((u, i) => waitReady(u, children[i].exited, timeoutMs)));
  } catch (err) {
    for (const c of children) c.child.kill('SIGKILL');
    throw err;
  }
  const pids = children.map((c) => c.child.pid!);
  writeFileSync(join(root, 'pids'), pids.join('\n'));
  return {
    urls,
    cluster: 'analytics_shards',
    dir: root,
    pids,
    stop() {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone already */
        }
      }
    },
  };
}
