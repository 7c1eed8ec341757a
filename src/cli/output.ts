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
