/**
 * The codex worker layer: the only code that spawns codex. Everything else
 * sees these types and functions.
 */
export { runCodexWorker, buildArgv, changedFilesIn } from './worker.js';
export type { WorkerRun, WorkerProcessStatus, WorkerAttempt, RunCodexWorkerOptions } from './worker.js';
export { runCodexFromGateway, parseSeedCodexArgs, renderWorkerRun, gatewayExitCode, SeedArgsError } from './gateway-runner.js';
export type { SeedCodexRequest } from './gateway-runner.js';
export { resolveCodexBinary, nativeBehindLauncher, whichCodex } from './binary.js';
export type { CodexBinary, CodexBinarySource } from './binary.js';
export {
  detectCapabilities,
  capabilitiesFromHelp,
  parseHelpFlags,
  mapIntents,
  filterExtraArgs,
  clearCapabilityCache,
} from './capabilities.js';
export type { CodexCapabilities, CodexIntents, SandboxMode } from './capabilities.js';
export { doctor, probeModel, codexBaseUrl } from './doctor.js';
export type { DoctorReport } from './doctor.js';
export { parseEventLine, KNOWN_EVENT_TYPES } from './events.js';
export type { CodexEvent, KnownCodexEvent, UnknownCodexEvent, CodexItem } from './events.js';
export { parseWorkerResult, workerResultSchema, WORKER_RESULT_JSON_SCHEMA } from './result.js';
export type { WorkerResult } from './result.js';
export { loadProfiles, DEFAULT_PROFILES, PROFILE_NAMES } from './profiles.js';
export type { ProfileName, CodexProfile, ProfilesConfig } from './profiles.js';
export type { WorkerUsage } from './process.js';
export { workerStateDir, newRunId, newWorkerId } from './worker-dir.js';
export { codexActivity, unwrapShell } from './activity.js';
export type { CodexActivity } from './activity.js';
export { codexModelName } from './model-name.js';
