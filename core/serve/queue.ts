/**
 * One generation at a time per model: a first-in first-out queue of jobs whose waiting positions can be read while
 * they wait (the page shows how many jobs are ahead). A failing job rejects its own caller only; the queue goes on.
 */
export class ModelQueue {
  private readonly waiting: { ticket: string; start: () => void; reject: (err: Error) => void }[] = [];
  private running?: string;

  /** Jobs ahead of `ticket` (the running one included): 0 while it runs; -1 when it is neither waiting nor running. */
  position(ticket: string): number {
    if (this.running === ticket) return 0;
    const i = this.waiting.findIndex((w) => w.ticket === ticket);
    return i < 0 ? -1 : i + (this.running !== undefined ? 1 : 0);
  }

  /** Jobs waiting or running. */
  get length(): number {
    return this.waiting.length + (this.running !== undefined ? 1 : 0);
  }

  /** Runs `job` when every job queued before it has finished; settles with the job's own outcome. */
  run<T>(ticket: string, job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({
        ticket,
        reject,
        start: () => {
          this.running = ticket;
          const finish = () => {
            this.running = undefined;
            this.next();
          };
          Promise.resolve()
            .then(job)
            .then(
              (v) => {
                finish();
                resolve(v);
              },
              (err: unknown) => {
                finish();
                reject(err);
              },
            );
        },
      });
      if (this.running === undefined && this.waiting.length === 1) this.next();
    });
  }

  /** Rejects every job still waiting (the server is closing); the running one finishes. */
  drain(reason: Error): void {
    for (const w of this.waiting.splice(0)) w.reject(reason);
  }

  private next(): void {
    this.waiting.shift()?.start();
  }
}
