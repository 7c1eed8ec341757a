/**
 * Token counts of one model user (the orchestrator, the reviewer, a worker).
 * `input` includes `cachedInput` (as the OpenAI APIs and codex report it), so
 * the tokens of a tally are `input + output`.
 */
export interface TokenTally {
  input: number;
  cachedInput: number;
  output: number;
}

export function zeroTally(): TokenTally {
  return { input: 0, cachedInput: 0, output: 0 };
}

export function addTally(into: TokenTally, more: Partial<TokenTally> | undefined): TokenTally {
  if (!more) return into;
  into.input += more.input ?? 0;
  into.cachedInput += more.cachedInput ?? 0;
  into.output += more.output ?? 0;
  return into;
}

export function tallyTokens(t: TokenTally): number {
  return t.input + t.output;
}

/** 1234 → "1234", 12345 → "12.3k", 1234567 → "1.23M". */
export function formatTokens(n: number): string {
  if (n < 10_000) return String(n);
  if (n < 1_000_000) return `${(n / 1000).toFixed(1)}k`;
  return `${(n / 1_000_000).toFixed(2)}M`;
}
