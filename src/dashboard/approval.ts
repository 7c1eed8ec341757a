/**
 * The dashboard's approve/reject buttons: the same approval functions as
 * `codex-orch runs approve|reject` (the wait is a state in the run's store),
 * so the page adds no logic of its own.
 */
import { approveMerge, pendingApprovals, rejectMerge } from '../orchestrator/approval.js';
import type { DashboardApproval } from './server.js';

export const storeApproval: DashboardApproval = {
  waiting: (found) => pendingApprovals(found.source.store, found.run.id).map((p) => p.taskId),
  approve: (found, taskId) => approveMerge(found.source.store, found.run.id, taskId),
  reject: (found, taskId, note) => rejectMerge(found.source.store, found.run.id, taskId, note ?? ''),
};
