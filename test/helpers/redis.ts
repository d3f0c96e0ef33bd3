import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/**
 * Whether the queue tests can run: a `redis-server` on PATH. On CI (CI=true) a missing one is an error the tests
 * report as a failure; elsewhere they are skipped with this reason.
 */
export function redisMissing(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'redis-server is not installed (apt-get install redis-server); the queue tests need it';
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A redis-server of the tests' own, on 127.0.0.1 only. */
interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for the exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port and folder (after stop). */
  start(): Promise<void>;
}

/**
 * Starts redis-server on a free port of 127.0.0.1 with a temporary folder and no snapshots (`--save ''`); with
 * `appendOnly`, its data survives a restart (an append-only file fsynced on every write).
 */
export async function startRedis(opts: { appendOnly?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'detox-lab-redis-'));
  let proc: ChildProcess | undefined;
  const start = async () => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--logfile',
      '',
      '--appendonly',
      opts.appendOnly ? 'yes' : 'no',
      ...(opts.appendOnly ? ['--appendfsync', 'always'] : []),
    ];
    // Through a shell that stops Redis when this process is gone (even ended by a timeout, whose teardowns do not
    // run), or when it is asked to (SIGTERM).
    const watch =
      'parent=$1; shift; redis-server "$@" & r=$!; trap \'kill $r 2>/dev/null; wait $r; exit 0\' TERM; ' +
      'while kill -0 "$parent" 2>/dev/null && kill -0 $r 2>/dev/null; do sleep 1 & wait $!; done; kill -9 $r 2>/dev/null; wait $r';
    const p = spawn('sh', ['-c', watch, 'sh', String(process.pid), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    let log = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 10 s:\n${log}`)), 10_000);
      p.stdout!.on('data', (d) => {
        log += d;
        if (/Ready to accept connections/.test(log)) {
          clearTimeout(timer);
          resolve();
        }
      });
      p.stderr!.on('data', (d) => {
        log += d;
      });
      p.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${log}`));
      });
    });
    p.stdout!.resume();
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  };
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, dir, stop, start };
}
