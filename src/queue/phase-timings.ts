/**
 * Wall-clock timings of the phases of one remote subtask (agent side and
 * orchestrator side), in whole milliseconds. They travel with the result, go
 * to the debug log, and `yarn bench distributed` prints them as a breakdown.
 */

export type PhaseTimings = Record<string, number>;

export interface PhaseTimer {
  /** Runs `fn` and adds its duration to `phase` (phases that run twice add up). */
  time<T>(phase: string, fn: () => Promise<T>): Promise<T>;
  /** Adds a duration measured elsewhere. */
  add(phase: string, ms: number): void;
  readonly timings: PhaseTimings;
}

export function phaseTimer(): PhaseTimer {
  const timings: PhaseTimings = {};
  const add = (phase: string, ms: number) => {
    timings[phase] = (timings[phase] ?? 0) + Math.max(0, Math.round(ms));
  };
  return {
    timings,
    add,
    async time(phase, fn) {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        add(phase, performance.now() - t0);
      }
    },
  };
}
