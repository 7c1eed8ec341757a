import { styleText } from 'node:util';

/**
 * Human output for the terminal. Colour only on a TTY and never when NO_COLOR
 * is set (https://no-color.org) or FORCE_COLOR=0.
 */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR === '0') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '') return true;
  return Boolean(stream.isTTY);
}

type Style = 'red' | 'green' | 'yellow' | 'cyan' | 'dim' | 'bold' | 'gray';

export function paint(style: Style, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  if (!colorEnabled(stream)) return text;
  return styleText(style, text, { validateStream: false });
}

export function printErr(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function printOut(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A value as indented JSON on stdout (what `--json` prints). */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, '');

/** Rows as columns padded to their widest cell (colour codes do not count), two spaces apart. */
export function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => stripAnsi(r[i] ?? '').length)));
  for (const r of rows)
    printOut(
      r
        .map((c, i) => c + ' '.repeat(Math.max(0, widths[i]! - stripAnsi(c).length)))
        .join('  ')
        .trimEnd(),
    );
}

/** Text on one line (white space folded), cut to `n` characters with an ellipsis. */
export function oneLine(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? `${one.slice(0, n - 1)}…` : one;
}
