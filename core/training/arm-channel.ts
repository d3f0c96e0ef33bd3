/**
 * The channel between a queue worker and the arm process it runs (`detox-lab run --resume <arm>` with an IPC
 * channel and DETOX_LAB_ARM_CHANNEL=1): the arm sends its step reports (the worker turns them into job progress),
 * and stops at once when the worker is gone — killed with -9, say — so that the arm's folder never has two writers
 * when another worker takes the arm over (it resumes from the last checkpoint).
 */
import type { Hook } from '../interfaces/hook.js';

export const ARM_CHANNEL_ENV = 'DETOX_LAB_ARM_CHANNEL';

/** A message from the arm to its worker. */
export interface ArmMessage {
  type: 'step';
  step: number;
  totalSteps: number;
  /** Training wall time so far (across resumes), ms. */
  elapsedMs: number;
  /** The step this process started (resumed) from. */
  fromStep: number;
}

/** Hooks reporting to the worker, when this process runs an arm for one (else none). */
export function armChannelHooks(): Hook[] {
  if (process.env[ARM_CHANNEL_ENV] !== '1' || typeof process.send !== 'function') return [];
  process.channel?.unref(); // the channel alone must not keep the arm alive
  const gone = () => {
    process.stderr.write('the worker running this arm is gone: stopping now (the arm resumes from its last checkpoint)\n');
    process.kill(process.pid, 'SIGKILL');
  };
  if (!process.connected) gone();
  process.once('disconnect', gone);
  const send = (m: ArmMessage) => {
    try {
      process.send?.(m);
    } catch {
      /* the worker is gone; 'disconnect' handles it */
    }
  };
  let fromStep = 0;
  return [
    {
      name: 'arm-channel',
      onRunStart: (info) => {
        fromStep = info.startStep;
        send({ type: 'step', step: info.startStep, totalSteps: info.totalSteps, elapsedMs: 0, fromStep });
      },
      onStep: (r) => send({ type: 'step', step: r.step, totalSteps: r.totalSteps, elapsedMs: r.elapsedMs, fromStep }),
    },
  ];
}
