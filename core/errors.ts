/**
 * Bad input: a data or model file that is missing, unreadable, empty or unusable (a prompt longer than the model's
 * context, a data file with no usable rows), or a setting out of range found by the core rather than the config
 * schema. The message names the file or setting, the config field or flag that named it, and what is expected. The CLI prints it as is and exits with code 2 (bad usage, config or input), as
 * for config errors: it is the user's to fix, not a failure of the run.
 */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}
