import { afterEach, expect } from 'vitest';
import { makeTempBase, refsFingerprint, type TempBase } from './git-repo.js';

/**
 * For a test file: `setup(files)` makes a TempBase; after each test its bare
 * origin must be untouched, and it is removed.
 */
export function useTempBase(): { setup: (files?: Record<string, string>) => TempBase } {
  let base: TempBase | undefined;
  let originRefs = '';
  afterEach(() => {
    if (!base) return;
    const b = base;
    base = undefined;
    expect(refsFingerprint(b.origin)).toBe(originRefs);
    b.cleanup();
  });
  return {
    setup: (files) => {
      base = makeTempBase(files);
      originRefs = refsFingerprint(base.origin);
      return base;
    },
  };
}
