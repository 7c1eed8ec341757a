/**
 * How a run's progress is shown: `live` redraws one line per worker in place,
 * `plain` appends one line per event, `quiet` prints nothing.
 *
 * In-place redraw needs a real terminal with a size: not a pipe, not CI, not
 * NO_COLOR (which also asks for plain output), not --no-progress, and not a
 * terminal that reports 0 columns or rows (a 0×0 pty: cursor arithmetic on a
 * zero width is what made the old spinner loop forever).
 */
export type DisplayMode = 'live' | 'plain' | 'quiet';

export interface DisplayModeOptions {
  quiet?: boolean;
  /** false with --no-progress. */
  progress?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function displayMode(stream: NodeJS.WriteStream, options: DisplayModeOptions = {}): DisplayMode {
  if (options.quiet) return 'quiet';
  const env = options.env ?? process.env;
  if (options.progress === false) return 'plain';
  if (!stream.isTTY) return 'plain';
  if (env.CI !== undefined && env.CI !== '' && env.CI !== '0' && env.CI !== 'false') return 'plain';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 'plain';
  if (env.TERM === 'dumb') return 'plain';
  if (!(stream.columns > 0) || !(stream.rows > 0)) return 'plain';
  return 'live';
}
