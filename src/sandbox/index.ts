export type { BackendName, SandboxBackend } from './backend.js';
export { INSTALL_HINT } from './backend.js';
export { bwrapArgs, bwrapBackend, SANDBOX_HOME } from './bwrap.js';
export { sandboxEnv, refusedEnvNames } from './env.js';
export { runProcess, bashArgv, type ShellRunOptions, type ShellRunResult } from './exec.js';
export { describeProfile, type SandboxProfile } from './profile.js';
export {
  Sandbox,
  SANDBOX_MODES,
  bundledBwrap,
  probeSandbox,
  sandboxFor,
  systemBwrap,
  which,
  type SandboxMode,
  type SandboxRunOptions,
  type SandboxRunResult,
} from './sandbox.js';
export { codexSandboxBackend, noneBackend, offBackend, unshareBackend } from './weak-backends.js';
export { sandboxStatus, type SandboxStatus } from './status.js';
