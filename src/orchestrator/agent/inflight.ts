import type { FunctionTool, Tool } from '@openai/agents';

/**
 * Tool calls still running. When a run is aborted (or the model call fails),
 * the SDK's run loop rejects at once while tool calls of the last turn go on:
 * their commands and codex workers are being killed through the run's abort
 * signal. The run waits for them to settle before it reports, so no process
 * outlives the run and the report sees their results.
 */
export class InflightTools {
  private readonly pending = new Set<Promise<unknown>>();

  get size(): number {
    return this.pending.size;
  }

  wrap<T extends Tool<any>>(tools: readonly T[]): T[] {
    return tools.map((t) => {
      if (t.type !== 'function') return t;
      const fn = t as unknown as FunctionTool<any, any, any>;
      const invoke: FunctionTool<any, any, any>['invoke'] = (runContext, input, details) => {
        const call = fn.invoke(runContext, input, details);
        this.pending.add(call);
        const forget = () => this.pending.delete(call);
        call.then(forget, forget);
        return call;
      };
      return Object.assign(Object.create(Object.getPrototypeOf(fn) as object) as object, fn, { invoke }) as unknown as T;
    });
  }

  /** Waits until every running call has settled, or `timeoutMs` passed; returns how many were still running. */
  async settle(timeoutMs: number): Promise<number> {
    if (this.pending.size === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.pending]),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return this.pending.size;
  }
}
