export { createLiveView, type LiveView, type LiveViewOptions } from './view.js';
export { displayMode, type DisplayMode } from './mode.js';
export { plainEventLine } from './plain.js';
export { renderLive, formatElapsed, formatMoney } from './render.js';
export {
  activityText,
  applyEvent,
  newLiveState,
  scopeEvent,
  rowMoney,
  runMoney,
  type LiveContext,
  type LiveRow,
  type LiveState,
  type RowStatus,
} from './state.js';
export { liveViewFor } from './for-config.js';
export { CodexEventFormatter, resolveWorkers, tailWorkers, type TailWorker } from './tail.js';
