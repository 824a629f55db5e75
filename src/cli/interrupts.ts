/**
 * Ctrl-C for the commands that hold workers and perhaps a dev server (demo, dev, worker). The first SIGINT or
 * SIGTERM asks for a graceful stop (`signal` aborts: workers finish or hand back their jobs, then the server
 * stops). Any later one — a person who will not wait — runs the force steps (stop the server now) and exits
 * 130. Without this a second Ctrl-C killed node and left the detached Temporal server holding its ports.
 */

/**
 * Under `tsx`, one Ctrl-C in a terminal can reach us twice: directly, and relayed by tsx ~30 ms later when it
 * missed our acknowledgement. A second signal this soon after the first is that echo, not a second keypress.
 */
export const RELAYED_ECHO_MS = 250;

/** Exit code of a command stopped by Ctrl-C (128 + SIGINT). */
export const INTERRUPTED_EXIT = 130;

export class Interrupts {
  private readonly controller = new AbortController();
  private readonly forceSteps: (() => Promise<void>)[] = [];
  private firstAt = 0;
  private forcing = false;
  /** Aborts on the first Ctrl-C. */
  readonly signal = this.controller.signal;

  constructor(
    private readonly onForced: () => void = () => process.exit(INTERRUPTED_EXIT),
    private readonly say: (line: string) => void = (line) => console.error(line),
  ) {
    process.on('SIGINT', this.handle);
    process.on('SIGTERM', this.handle);
  }

  /** A step for a second Ctrl-C, e.g. stopping the dev server at once. */
  onForce(step: () => Promise<void>): void {
    this.forceSteps.push(step);
  }

  dispose(): void {
    process.off('SIGINT', this.handle);
    process.off('SIGTERM', this.handle);
  }

  private readonly handle = () => {
    if (!this.signal.aborted) {
      this.firstAt = Date.now();
      this.say('isheep: stopping (Ctrl-C again to stop at once)');
      this.controller.abort();
      return;
    }
    if (this.forcing || Date.now() - this.firstAt < RELAYED_ECHO_MS) return;
    this.forcing = true;
    this.say('isheep: stopping at once');
    void Promise.allSettled(this.forceSteps.map((step) => step())).then(this.onForced);
  };
}
