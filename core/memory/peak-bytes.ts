/**
 * High-water mark of the backend memory actually held: bytes of distinct data buffers (a clone, reshape or a
 * tensor saved for the backward pass shares its buffer and counts once — tf.memory().numBytes would count it again).
 * Works by observing the engine's buffer registry (buffers created and freed) while a tracker is active; trackers
 * may overlap. The bytes live when tracking starts are taken from tf.memory().numBytes, exact when no two live
 * tensors share a buffer (as between training steps: weights, optimiser state, inputs).
 */
import * as tf from '@tensorflow/tfjs';

interface BufferInfo {
  bytes: number;
}
type Registry = WeakMap<object, BufferInfo>;

interface Tracker {
  peak: number;
}

const active = new Set<Tracker>();
let current = 0;
let installedOn: Registry | undefined;
let originalSet: Registry['set'] | undefined;
let originalDelete: Registry['delete'] | undefined;

function registry(): Registry {
  return (tf.engine() as unknown as { state: { tensorInfo: Registry } }).state.tensorInfo;
}

function install(): void {
  const reg = registry();
  installedOn = reg;
  originalSet = reg.set;
  originalDelete = reg.delete;
  current = tf.memory().numBytes;
  reg.set = function set(this: Registry, key: object, value: BufferInfo) {
    if (!this.has(key)) {
      current += value.bytes;
      for (const t of active) t.peak = Math.max(t.peak, current);
    }
    return originalSet!.call(this, key, value);
  };
  reg.delete = function del(this: Registry, key: object) {
    const info = this.get(key);
    if (info) current -= info.bytes;
    return originalDelete!.call(this, key);
  };
}

function uninstall(): void {
  if (!installedOn) return;
  installedOn.set = originalSet!;
  installedOn.delete = originalDelete!;
  // Own-property overrides removed: the WeakMap prototype's methods apply again.
  delete (installedOn as unknown as Record<string, unknown>).set;
  delete (installedOn as unknown as Record<string, unknown>).delete;
  installedOn = undefined;
}

/** Starts tracking; `stop()` returns the peak bytes of distinct buffers since the start (live bytes included). */
export function startPeakTracking(): { stop(): number } {
  if (installedOn && installedOn !== registry()) uninstall(); // the engine's registry was replaced (new engine)
  if (!installedOn) install();
  const t: Tracker = { peak: current };
  active.add(t);
  let stopped = false;
  return {
    stop: () => {
      if (!stopped) {
        stopped = true;
        active.delete(t);
        if (active.size === 0) uninstall();
      }
      return t.peak;
    },
  };
}

/** Runs `fn` and returns its result with the peak bytes of distinct backend buffers while it ran. */
export async function measurePeakBytes<T>(fn: () => T | Promise<T>): Promise<{ result: T; peakBytes: number }> {
  const tracker = startPeakTracking();
  try {
    const result = await fn();
    return { result, peakBytes: tracker.stop() };
  } finally {
    tracker.stop();
  }
}
