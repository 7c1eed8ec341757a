import { createLiveView, type LiveView, type LiveViewOptions } from './live/index.js';

/** The run's progress display; kept under its old name for callers outside this folder. See live/view.ts. */
export function createProgress(options: LiveViewOptions = {}): LiveView {
  return createLiveView(options);
}
