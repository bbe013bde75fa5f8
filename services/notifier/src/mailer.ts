import nodemailer from 'nodemailer';
import type { SmtpConfig } from '@warmpool/runtime';
import { PermanentDeliveryError } from './http-post.js';
import type { EmailContent } from './formats.js';

function createTransport(smtp: SmtpConfig) {
  return nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.tls === 'tls',
    requireTLS: smtp.tls === 'starttls',
    ignoreTLS: smtp.tls === 'none',
    ...(smtp.auth ? { auth: smtp.auth } : {}),
    connectionTimeout: smtp.timeoutMs,
    greetingTimeout: smtp.timeoutMs,
    socketTimeout: smtp.timeoutMs,
    dnsTimeout: smtp.timeoutMs,
  });
}

/** Connects, negotiates TLS and authenticates once, for a start-up diagnosis; null when it worked, else the reason. */
export async function checkSmtp(smtp: SmtpConfig): Promise<string | null> {
  const transport = createTransport(smtp);
  try {
    await transport.verify();
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    transport.close();
  }
}

export type Mail = EmailContent & { to: string; kind: string; messageId: string };
export type SendMail = (mail: Mail) => Promise<void>;

/**
 * Sends one e-mail per call over its own SMTP connection, so a hanging or refusing server only holds the slot of that
 * one message, bounded by the timeouts. 5xx answers (mailbox unknown, policy refusal) are permanent; anything else
 * (connection refused, 4xx, timeouts) is retried by the caller.
 */
export function createMailer(smtp: SmtpConfig): SendMail {
  return async (mail) => {
    const transport = createTransport(smtp);
    try {
      await transport.sendMail({
        from: smtp.from,
        to: mail.to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        // Fixed per send: a retry after a lost acknowledgement carries the same Message-ID, so clients can fold it.
        messageId: mail.messageId,
        headers: { 'X-Warmpool-Kind': mail.kind, 'Auto-Submitted': 'auto-generated' },
      });
    } catch (err) {
      const e = err as Error & { responseCode?: number; code?: string };
      const detail = e.code === 'ETIMEDOUT' ? `timed out after ${smtp.timeoutMs} ms: ${e.message}` : `${e.code ? `${e.code}: ` : ''}${e.message}`;
      const message = detail.replace(/\s+/g, ' ').slice(0, 500);
      if (e.responseCode !== undefined && e.responseCode >= 500) throw new PermanentDeliveryError(message, { cause: err });
      throw new Error(message, { cause: err });
    } finally {
      transport.close();
    }
  };
}
