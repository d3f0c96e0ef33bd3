import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { ROOT } from './tmp.js';

const CLI = path.join(ROOT, 'bin', 'detox-lab.js');

/** A CLI process started in the background, its output collected. */
export interface Started {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code and signal. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Pids of arm processes a worker's output names (`[experiment/arm] started (pid N)`). */
const armPids = (stderr: string): number[] => [...stderr.matchAll(/\] started \(pid (\d+)\)/g)].map((m) => Number(m[1]));

/**
 * A module preloaded into every process a test starts (and, through the environment, into the processes those
 * start): it kills its process once the test process is gone — even one ended by a timeout, whose teardowns do
 * not run — so no worker or arm outlives the tests.
 */
function guardModule(): string {
  const file = path.join(os.tmpdir(), `detox-lab-test-guard-${process.pid}.mjs`);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(
      file,
      `const parent = Number(process.env.DETOX_TEST_PARENT);
setInterval(() => { try { process.kill(parent, 0); } catch { process.kill(process.pid, 'SIGKILL'); } }, 1000).unref();
`,
    );
    process.once('exit', () => fs.rmSync(file, { force: true }));
  }
  return file;
}

/**
 * Starts `detox-lab <args>` in `cwd`. The test's teardown kills it and every arm process it started, whatever
 * happened, so no process outlives the test.
 */
export function startCli(t: ExecutionContext, cwd: string, args: string[], env: Record<string, string> = {}): Started {
  const guard = {
    DETOX_TEST_PARENT: String(process.pid),
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${guardModule()}`.trim(),
  };
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { ...process.env, ...guard, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => {
    stdout += d;
  });
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('close', (code, signal) => resolve({ code, signal })),
  );
  t.teardown(() => {
    for (const pid of [proc.pid!, ...armPids(stderr)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
  return { proc, stdout: () => stdout, stderr: () => stderr, exit };
}

/** Runs `detox-lab <args>` to its end (without blocking the event loop). */
export async function runCli(
  t: ExecutionContext,
  cwd: string,
  ...args: string[]
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const s = startCli(t, cwd, args);
  const { code } = await s.exit;
  return { code, stdout: s.stdout(), stderr: s.stderr() };
}

/** Waits until `cond()` holds (checked every 100 ms), or fails after `ms`. */
export async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Whether a process is alive. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
