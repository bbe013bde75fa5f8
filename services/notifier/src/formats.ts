import { clip } from '@warmpool/core';
import type { RenderedMessage } from '@warmpool/db';
import { emailFooter } from './messages.js';

/**
 * Channel layouts of one rendered message (the wording itself lives in messages.ts): the plain-text and HTML parts of
 * an e-mail come from the same message, so they never disagree.
 */

export type Message = Omit<RenderedMessage, 'kind'>;
export type EmailContent = { subject: string; text: string; html: string };

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function renderEmail(kind: string, message: Message): EmailContent {
  const footer = emailFooter(kind);
  const text = [message.body, '', ...message.links.map((l) => `${l.label}: ${l.url}`), '', '-- ', footer].join('\n');
  const paragraphs = message.body.split('\n').map((line) => `<p style="margin:0 0 8px">${escapeHtml(line)}</p>`);
  const links = message.links.map((l) => `<li><a href="${escapeHtml(l.url)}">${escapeHtml(l.label)}</a></li>`);
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.4">',
    `<h2 style="font-size:18px">${escapeHtml(message.title)}</h2>`,
    ...paragraphs,
    links.length ? `<ul>${links.join('')}</ul>` : '',
    `<p style="color:#666;font-size:12px">${footer.split('\n').map(escapeHtml).join('<br>')}</p>`,
    '</body></html>',
  ].join('\n');
  return { subject: message.title, text, html };
}

// Slack's limits: header text 150 characters, section text 3000; mrkdwn needs &, < and > escaped.
const escapeMrkdwn = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A Slack-compatible incoming-webhook body: `text` (notifications, fallback) plus Block Kit blocks. */
export function renderChat(message: Message): { text: string; blocks: unknown[] } {
  const labels = Object.entries(message.labels)
    .filter(([key]) => ['organization', 'template', 'version', 'preset', 'workspace'].includes(key))
    .map(([key, value]) => `*${key}:* ${escapeMrkdwn(value)}`);
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: clip(message.title, 150) } },
    { type: 'section', text: { type: 'mrkdwn', text: clip(escapeMrkdwn(message.body), 3000) } },
  ];
  if (labels.length) blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: labels.join('  ·  ') }] });
  if (message.links.length) blocks.push({ type: 'actions', elements: message.links.map((l) => ({ type: 'button', text: { type: 'plain_text', text: l.label }, url: l.url })) });
  return { text: message.title, blocks };
}
