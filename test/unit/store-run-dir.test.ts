import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StoreError } from '../../src/errors.js';
import { RUN_ID_PATTERN, appendJsonLine, ensureRunDir, newRunId, readJsonFile, runDir, writeJsonAtomic } from '../../src/store/index.js';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'store-run-dir-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('newRunId', () => {
  it('is the UTC time then six random hex digits', () => {
    const id = newRunId(new Date('2026-11-30T00:15:23.456Z'));
    expect(id).toMatch(/^20261130-001523-[0-9a-f]{6}$/);
    expect(id).toMatch(RUN_ID_PATTERN);
  });

  it('sorts by time and differs within the same second', () => {
    const a = newRunId(new Date('2026-01-01T00:00:00Z'));
    const b = newRunId(new Date('2026-01-01T00:00:01Z'));
    const c = newRunId(new Date('2027-01-01T00:00:00Z'));
    expect([c, a, b].sort()).toEqual([a, b, c]);
    const same = new Set(Array.from({ length: 50 }, () => newRunId(new Date('2026-01-01T00:00:00Z'))));
    expect(same.size).toBeGreaterThan(45);
  });
});

describe('runDir', () => {
  it('lays out the run directory under <stateDir>/runs/<runId>', () => {
    const p = runDir(dir, '20261130-001523-ab12cd');
    const root = path.join(dir, 'runs', '20261130-001523-ab12cd');
    expect(p.root).toBe(root);
    expect(p.manifest).toBe(path.join(root, 'manifest.json'));
    expect(p.report).toBe(path.join(root, 'report.json'));
    expect(p.reportMd).toBe(path.join(root, 'report.md'));
    expect(p.decisions).toBe(path.join(root, 'decisions.jsonl'));
    expect(p.events).toBe(path.join(root, 'events.jsonl'));
    expect(p.worker('w1')).toBe(path.join(root, 'workers', 'w1'));
    expect(fs.existsSync(root)).toBe(false);
  });

  it('refuses ids that would leave the runs directory', () => {
    for (const bad of ['..', '../x', 'a/b', '', '.hidden', 'a\\b']) {
      expect(() => runDir(dir, bad)).toThrow(StoreError);
    }
    expect(() => runDir(dir, 'r1').worker('../w')).toThrow(StoreError);
  });

  it('ensureRunDir creates it (idempotently)', () => {
    const p = ensureRunDir(dir, 'r1');
    expect(fs.statSync(p.workers).isDirectory()).toBe(true);
    expect(ensureRunDir(dir, 'r1')).toMatchObject({ root: p.root });
  });
});

describe('writeJsonAtomic', () => {
  it('writes pretty JSON with a newline, replaces the old file, leaves no temp files', () => {
    const file = path.join(dir, 'sub', 'manifest.json');
    writeJsonAtomic(file, { a: 1 });
    expect(fs.readFileSync(file, 'utf8')).toBe('{\n  "a": 1\n}\n');
    writeJsonAtomic(file, { a: 2, b: [true] });
    expect(readJsonFile(file)).toEqual({ a: 2, b: [true] });
    expect(fs.readdirSync(path.dirname(file))).toEqual(['manifest.json']);
  });

  it('a failed write leaves the old file and no temp file', () => {
    const file = path.join(dir, 'm.json');
    writeJsonAtomic(file, { ok: true });
    expect(() => writeJsonAtomic(file, undefined)).toThrow(StoreError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => writeJsonAtomic(file, cyclic)).toThrow();
    expect(readJsonFile(file)).toEqual({ ok: true });
    expect(fs.readdirSync(dir)).toEqual(['m.json']);
  });

  it('an unwritable target is a StoreError', () => {
    fs.writeFileSync(path.join(dir, 'file'), '');
    expect(() => writeJsonAtomic(path.join(dir, 'file', 'x.json'), {})).toThrow(StoreError);
  });
});

describe('readJsonFile and appendJsonLine', () => {
  it('reads missing as undefined and bad JSON as a StoreError', () => {
    expect(readJsonFile(path.join(dir, 'none.json'))).toBeUndefined();
    fs.writeFileSync(path.join(dir, 'bad.json'), '{nope');
    expect(() => readJsonFile(path.join(dir, 'bad.json'))).toThrow(StoreError);
  });

  it('appends one line per value', () => {
    const file = path.join(dir, 'r', 'events.jsonl');
    appendJsonLine(file, { seq: 1 });
    appendJsonLine(file, { seq: 2, text: 'a\nb' });
    const lines = fs.readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ seq: 1 }, { seq: 2, text: 'a\nb' }]);
  });
});
