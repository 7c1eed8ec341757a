import type { SourcedTask, TaskSource } from './types.js';

/**
 * Several sources as one stream (env + inbox + HTTP): tasks are handed out as
 * each source yields them; a finite source that ends drops out; the merged
 * stream ends when all have ended or the signal aborts. Each task keeps the
 * name of its own source (`SourcedTask.source`). At most one task per source is
 * taken ahead; one taken but not handed out when the stream closes is released.
 */
export function mergeSources(sources: readonly TaskSource[]): TaskSource {
  if (sources.length === 1) return sources[0] as TaskSource;
  return {
    name: sources.map((s) => s.name).join('+'),
    async *tasks(signal: AbortSignal): AsyncGenerator<SourcedTask> {
      type Next = { index: number; result: IteratorResult<SourcedTask> };
      const iterators = sources.map((s) => s.tasks(signal)[Symbol.asyncIterator]());
      const inFlight = new Map<number, Promise<Next>>();
      const pull = (index: number): void => {
        const it = iterators[index] as AsyncIterator<SourcedTask>;
        inFlight.set(
          index,
          it.next().then((result) => ({ index, result })),
        );
      };
      iterators.forEach((_, i) => pull(i));
      const name = (index: number): string => (sources[index] as TaskSource).name;
      try {
        while (inFlight.size > 0) {
          const { index, result } = await Promise.race(inFlight.values());
          if (result.done) {
            inFlight.delete(index);
            continue;
          }
          pull(index);
          yield { ...result.value, source: result.value.source ?? name(index), ...bind(result.value) };
        }
      } finally {
        // Closed early (abort, error): hand back what was taken ahead, close the rest without waiting.
        for (const [index, pending] of inFlight) {
          void pending.then(
            ({ result }) => {
              if (!result.done) void result.value.release?.call(result.value).catch(() => undefined);
            },
            () => undefined,
          );
          void Promise.resolve()
            .then(() => iterators[index]?.return?.())
            .catch(() => undefined);
        }
      }
    },
  };
}

/** The callbacks of a task, bound to it (the spread copy must still talk to the original). */
function bind(task: SourcedTask): Pick<SourcedTask, 'ack' | 'fail' | 'release' | 'onStart'> {
  return {
    ack: (outcome) => task.ack(outcome),
    fail: (reason) => task.fail(reason),
    release: task.release ? () => (task.release as () => Promise<void>).call(task) : undefined,
    onStart: task.onStart ? () => task.onStart?.call(task) : undefined,
  };
}
