import type { Config } from '../../config/config.js';
import { loadPrices } from '../../cost/index.js';
import { codexModelName } from '../../workers/codex/index.js';
import { createLiveView, type LiveView } from './view.js';

/** The live view of a run with this config: its price table and models (no config, e.g. the demo's own: the table of ORCHESTRATOR_PRICES). */
export function liveViewFor(config: Config | undefined, options: { quiet?: boolean; progress?: boolean } = {}): LiveView {
  return createLiveView({
    ...options,
    ...(config
      ? { prices: loadPrices(config.pricesFile), workerModel: codexModelName(config), model: config.model }
      : { prices: loadPrices(process.env.ORCHESTRATOR_PRICES || undefined) }),
  });
}
