import { UnrecoverableError, type Job } from 'bullmq';
import { NotificationSendJob } from '@warmpool/bus';
import { loadSend, recordSendAttempt, type AttemptOutcome, type Pool } from '@warmpool/db';
import type { Logger } from '@warmpool/runtime';
import { parseJob, runAttempt } from './attempt.js';
import { renderChat, renderEmail } from './formats.js';
import { post, safeTarget } from './http-post.js';
import type { SendMail } from './mailer.js';

export type SendDeps = {
  pool: Pool;
  logger: Logger;
  /** Absent when SMTP is not configured (e-mail sends are then never created). */
  sendMail: SendMail | undefined;
  /** Message-ID domain of e-mails: the host of WARMPOOL_PUBLIC_URL. */
  messageIdDomain: string;
  chatTimeoutMs: number;
  defaultAttempts: number;
};

/** Job id of a send: fixed, so enqueueing it again (redelivered event) never sends twice. */
export const sendJobId = (sendId: string) => `send-${sendId}`;

/** One attempt of one e-mail (per recipient) or chat post (per organization). */
export async function performSend(deps: SendDeps, job: Pick<Job, 'id' | 'data' | 'attemptsMade' | 'opts'>): Promise<{ result: string }> {
  const { sendId } = parseJob(NotificationSendJob, job, deps.logger, 'notification send');
  const send = await loadSend(deps.pool, sendId);
  if (!send) {
    deps.logger.error({ sendId }, 'notification send not found; job dropped');
    throw new UnrecoverableError(`notification send ${sendId} not found`);
  }
  const log = deps.logger.child({ sendId, channel: send.channel });
  if (send.status !== 'pending') return { result: `already ${send.status}` }; // redelivered job
  const target = send.target ?? '';
  const attempt = { attempt: job.attemptsMade + 1, maxAttempts: job.opts.attempts ?? deps.defaultAttempts, log, record: (o: AttemptOutcome) => recordSendAttempt(deps.pool, sendId, o) };
  if (send.channel === 'chat') {
    const body = JSON.stringify(renderChat(send.message));
    return runAttempt({ ...attempt, channel: 'chat', target: safeTarget(target, true), perform: () => post(target, body, { 'content-type': 'application/json', 'user-agent': 'warmpool-notifier' }, deps.chatTimeoutMs) });
  }
  const { sendMail } = deps;
  if (!sendMail) {
    // Queued while SMTP was configured, which it no longer is: nothing can send it.
    await recordSendAttempt(deps.pool, sendId, { status: 'dead_letter', attempts: 0, error: 'SMTP is not configured' });
    log.error('e-mail dead-lettered: SMTP is not configured');
    return { result: 'dead_letter' };
  }
  const mail = { ...renderEmail(send.kind, send.message), to: target, kind: send.kind, messageId: `<${sendId}@${deps.messageIdDomain}>` };
  // Addresses are personal data: logs name the recipient by user name only.
  return runAttempt({ ...attempt, channel: 'email', target: send.username ?? '(unknown user)', perform: () => sendMail(mail) });
}
