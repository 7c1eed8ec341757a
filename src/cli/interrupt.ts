import { EXIT } from './exit-codes.js';
import { paint, printErr } from './output.js';

/**
 * Runs long work under Ctrl-C / SIGTERM handling: the first signal aborts the
 * work (which stops its workers and records its state), a second one quits at
 * once with 130. The listeners stay for the whole call: the Agents SDK exits
 * the process on SIGTERM when it sees no other listener.
 */
export async function withInterrupt<T>(what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      printErr(
        paint(
          'yellow',
          `\n${signal}: stopping ${what} (workers and commands are being killed; press Ctrl-C again to quit at once)`,
          process.stderr,
        ),
      );
      controller.abort();
    } else {
      process.exit(EXIT.aborted);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
