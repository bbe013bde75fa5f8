import { createHash } from 'node:crypto';
import { ensureBusyboxImage } from '@warmpool/provisioner-docker';
import { docker } from './docker.js';

/**
 * A workspace image like a real one, built locally from busybox (nothing pulled): it starts, does some start-up
 * work (`INIT_WORK` shell iterations, ~0.1 s of CPU by default) and becomes ready `READY_AFTER_SECONDS` after start
 * (default 8; its health check tests /tmp/ready), while an agent heartbeats every second. Its claim hook takes
 * `CLAIM_HOOK_SECONDS` (default 0.3). The broken variant's command does not exist, so the engine refuses to start it
 * (a failed build, as with a bad image push).
 */
const AGENT = `#!/bin/sh
rm -f /tmp/ready
i=0; while [ $i -lt "\${INIT_WORK:-100000}" ]; do i=$((i+1)); done
(sleep "\${READY_AFTER_SECONDS:-8}"; touch /tmp/ready) &
trap 'exit 0' TERM INT
while true; do echo beat > /tmp/heartbeat; sleep 1 & wait $!; done
`;
const CLAIM_HOOK = `#!/bin/sh
sleep "\${CLAIM_HOOK_SECONDS:-0.3}"
echo "$WARMPOOL_OWNER_NAME $WARMPOOL_OWNER_ID" > /tmp/owner
`;
const FILES = { '/usr/local/bin/workspace-agent': AGENT, '/usr/local/bin/claim-hook': CLAIM_HOOK };
// The tag names the content, so a changed script is a new image rather than a stale cached one.
const TAG = `warmpool-workspace:${createHash('sha256').update(JSON.stringify(FILES)).digest('hex').slice(0, 10)}`;

export async function ensureWorkspaceImage(variant: 'good' | 'broken' = 'good'): Promise<string> {
  const broken = variant === 'broken';
  return ensureBusyboxImage(docker, broken ? `${TAG}-broken` : TAG, undefined, {
    files: FILES,
    cmd: [broken ? '/usr/local/bin/workspace-agent-missing' : '/usr/local/bin/workspace-agent'],
  });
}

/**
 * The manifest's `workspace` block for that image: ready `readyAfterSeconds` after start, its health checked every
 * second (each check is an exec in the engine: many containers at a shorter interval load a small machine heavily).
 */
export function workspaceImageBlock(image: string, options: { readyAfterSeconds?: number; claimHookSeconds?: number; memory?: string } = {}) {
  return {
    image,
    env: {
      READY_AFTER_SECONDS: String(options.readyAfterSeconds ?? 8),
      CLAIM_HOOK_SECONDS: String(options.claimHookSeconds ?? 0.3),
    },
    resources: { memory: options.memory ?? '32m' },
    healthcheck: { command: ['test', '-f', '/tmp/ready'], interval_seconds: 1, retries: 3 },
    claim_hook: { command: ['/usr/local/bin/claim-hook'], timeout_seconds: 30 },
  };
}
