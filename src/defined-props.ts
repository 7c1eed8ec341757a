/**
 * `props` without the keys whose value is `undefined`, for the few places where
 * an absent key and a key set to `undefined` differ: a spread over defaults,
 * `'key' in obj`, `Object.keys`, or a strict deep comparison. Everywhere else a
 * plain `key: value` is enough (the project has `exactOptionalPropertyTypes: false`).
 */
export function definedProps<T extends object>(props: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props)) if (value !== undefined) out[key] = value;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
