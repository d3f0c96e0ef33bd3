import { z } from 'zod';

/** The `enabled` option every built-in output hook has (the composition root, core/di/container.ts, does not build a slot with `enabled: false`). */
export const enabledOption = () =>
  z.boolean().default(true).describe('false turns this built-in hook off (it is on by default, whether listed in `hooks` or not)');
