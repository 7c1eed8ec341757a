/**
 * A process that writes a run's events into a state dir's store at a steady
 * rate, like a busy run: `event-writer.ts <stateDir> <runId> <perSecond> <seconds>`.
 * Each event is `load.tick` with `{n, t}` (t = Date.now() when written), its own
 * transaction. Prints `{"written": n, "ms": …}` at the end.
 */
import { openStore } from '../../src/store/index.js';

const [stateDir, runId, rateArg, secondsArg] = process.argv.slice(2);
if (!stateDir || !runId) {
  console.error('usage: event-writer.ts <stateDir> <runId> [perSecond=1000] [seconds=10]');
  process.exit(2);
}
const rate = Number(rateArg ?? 1000);
const seconds = Number(secondsArg ?? 10);
const total = Math.round(rate * seconds);
const store = openStore({ stateDir });
const started = Date.now();
let n = 0;
const tickMs = 10;
await new Promise<void>((resolve) => {
  const timer = setInterval(() => {
    // As many as the schedule says by now: the rate holds even when a tick is late.
    const due = Math.min(total, Math.floor(((Date.now() - started) / 1000) * rate));
    while (n < due) {
      n++;
      store.appendEvent(runId, { type: 'load.tick', data: { n, t: Date.now() } });
    }
    if (n >= total) {
      clearInterval(timer);
      resolve();
    }
  }, tickMs);
});
store.close();
console.log(JSON.stringify({ written: n, ms: Date.now() - started }));
