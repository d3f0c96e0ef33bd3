/** Exit codes of the CLI. */
export const EXIT = {
  ok: 0,
  /** A runtime failure (the run folder holds what was done up to it). */
  failure: 1,
  /** Bad usage or bad config: nothing was started. */
  usage: 2,
  /** Interrupted by SIGINT/SIGTERM after saving. */
  interrupted: 130,
} as const;

/**
 * Runs `f` (reading a file or folder the user named) and turns any error into a UserError (exit 2) whose message
 * starts with `what`, the flag or field that named it: an unreadable or unusable input is bad usage, not a failure.
 */
export async function asUsage<T>(what: string, f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (err) {
    if (err instanceof UserError) throw err;
    const message = (err as Error).message;
    // A plugin's error already starts with its slot (`reward.model (hf-classifier) create: ...`): not named twice.
    throw new UserError(message.startsWith(`${what} (`) ? message : `${what}: ${message}`);
  }
}

/** An error whose message is for the user as is (no stack trace), with its exit code. */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = 'UserError';
  }
}
