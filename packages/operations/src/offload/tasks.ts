/** The functions the offload pool runs in its worker threads: pure work only (no database, no queues). */
import { replay, type ReplayInput, type ReplayResult } from '@warmpool/core';
import { inspectManifest, type ManifestCheck } from '../manifest-check.js';

export function replayTask(input: ReplayInput): ReplayResult {
  return replay(input);
}

export function manifestTask(manifest: unknown): ManifestCheck {
  return inspectManifest(manifest);
}
