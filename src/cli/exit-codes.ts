import type { ErrorKind } from '../errors.js';

/**
 * Exit codes, decided in one place. 0 success; 1 a run or command that failed;
 * 2 usage or configuration; 3 a policy denial (`codex-orch exec`); 4 the model
 * API; 5 a codex worker; 6 git; 7 the run store; 8 the job queue (Redis) or artifact
 * store; 130 interrupted (128 + SIGINT).
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  denied: 3,
  modelApi: 4,
  worker: 5,
  git: 6,
  store: 7,
  queue: 8,
  aborted: 130,
} as const;

export function exitCodeFor(kind: ErrorKind): number {
  switch (kind) {
    case 'usage':
    case 'config':
      return EXIT.usage;
    case 'policy':
      return EXIT.denied;
    case 'model-api':
      return EXIT.modelApi;
    case 'worker':
      return EXIT.worker;
    case 'git':
      return EXIT.git;
    case 'store':
      return EXIT.store;
    case 'queue':
      return EXIT.queue;
    case 'aborted':
      return EXIT.aborted;
    case 'command':
    case 'run':
      return EXIT.failed;
  }
}

const MEANING: Record<keyof typeof EXIT, string> = {
  ok: 'succeeded',
  failed: 'failed',
  usage: 'usage or configuration',
  denied: 'denied by the policy',
  modelApi: 'model API',
  worker: 'codex worker',
  git: 'git',
  store: 'run store',
  queue: 'job queue or artifact store',
  aborted: 'interrupted',
};

/** "Exit codes: 0 succeeded; 1 failed; …" for a command's --help, from EXIT itself. */
export function exitCodesHelp(codes: readonly (keyof typeof EXIT)[], meanings: Partial<Record<keyof typeof EXIT, string>> = {}): string {
  return `\nExit codes: ${codes.map((c) => `${EXIT[c]} ${meanings[c] ?? MEANING[c]}`).join('; ')}.`;
}
