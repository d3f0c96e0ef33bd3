/**
 * Ctrl-C / SIGTERM handling for long commands: the first signal asks the work to stop at
 * the next safe point (it then saves and exits with 130); a second one exits at once after
 * running the registered flushers (logs are flushed synchronously, so nothing written is lost).
 */
export class Interrupt {
  readonly controller = new AbortController();
  private readonly flushers = new Set<() => void>();
  private readonly onSignal = (sig: NodeJS.Signals) => {
    if (!this.controller.signal.aborted) {
      process.stderr.write(`\n${sig}: stopping after the current step and saving (press Ctrl-C again to quit now)\n`);
      this.controller.abort(sig);
      return;
    }
    for (const f of this.flushers) {
      try {
        f();
      } catch {
        /* exiting anyway */
      }
    }
    process.stderr.write(`${sig}: quitting now\n`);
    process.exit(130);
  };

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  install(): this {
    process.on('SIGINT', this.onSignal);
    process.on('SIGTERM', this.onSignal);
    return this;
  }

  /** Called synchronously if the user insists (second signal). */
  onForcedExit(flush: () => void): () => void {
    this.flushers.add(flush);
    return () => this.flushers.delete(flush);
  }

  uninstall(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
