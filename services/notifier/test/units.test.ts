import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NotificationContext } from '@warmpool/db';
import { Webhook } from 'standardwebhooks';
import { createServer, type AddressInfo } from 'node:net';
import { createMailer, dailyDedupKey, describeReplacements, eventKey, renderChat, renderEmail, renderMessage, sign, signatureHeaders, webhookBackoffMs } from '../src/index.js';

const context: NotificationContext = {
  presetId: '7f1c1a7e-2a55-4a3c-9c36-0d8a1f0b1c01',
  presetName: 'large',
  versionName: 'v3',
  templateName: 'web-app',
  organizationId: '7f1c1a7e-2a55-4a3c-9c36-0d8a1f0b1c02',
  organizationName: 'acme',
  organizationWebhookUrl: null,
  organizationChatUrl: null,
  workspaceName: 'alice-dev',
  claimantUsername: 'alice',
};

test('Standard Webhooks signatures verify with the standardwebhooks library, for whsec_ and raw secrets, with both secrets of a rollover', () => {
  const body = '{"id":"x"}';
  const fresh = `whsec_${Buffer.alloc(32, 1).toString('base64')}`;
  const old = 's3cret-s3cret-s3cret';
  const headers = signatureHeaders([fresh, old], 'msg_1', body);
  assert.equal(headers['webhook-id'], 'msg_1');
  assert.match(headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]{43}= v1,[A-Za-z0-9+/]{43}=$/);
  assert.deepEqual(new Webhook(fresh).verify(body, headers), { id: 'x' }, 'receiver holding the new secret');
  assert.deepEqual(new Webhook(old, { format: 'raw' }).verify(body, headers), { id: 'x' }, 'receiver still holding the old secret');
  assert.throws(() => new Webhook('other-secret-other', { format: 'raw' }).verify(body, headers), /No matching signature/);
  assert.throws(() => new Webhook(fresh).verify(`${body} `, headers), /No matching signature/);
  assert.throws(() => new Webhook(fresh).verify(body, { ...headers, 'webhook-id': 'msg_2' }), /No matching signature/, 'the id is signed');
  const stale = signatureHeaders([fresh], 'msg_1', body, Date.now() - 301_000);
  assert.throws(() => new Webhook(fresh).verify(body, stale), /too old/);
  // Our signature equals the library's own for the same input.
  const at = new Date(Number(headers['webhook-timestamp']) * 1000);
  assert.equal(sign([fresh], 'msg_1', Number(headers['webhook-timestamp']), body), new Webhook(fresh).sign('msg_1', at, body));
});

test('webhook backoff doubles per attempt with jitter between half and all of the step, capped', () => {
  assert.equal(webhookBackoffMs(1, 1_000, 60_000, () => 0), 500);
  assert.equal(webhookBackoffMs(1, 1_000, 60_000, () => 1), 1_000);
  assert.equal(webhookBackoffMs(3, 1_000, 60_000, () => 1), 4_000);
  assert.equal(webhookBackoffMs(20, 1_000, 60_000, () => 1), 60_000);
  for (let i = 0; i < 100; i++) {
    const d = webhookBackoffMs(4, 1_000);
    assert.ok(d >= 4_000 && d <= 8_000, `jittered delay ${d} within [4000, 8000]`);
  }
});

test('replacement messages list every resource with sorted attribute paths and name the ignore_changes fix', () => {
  assert.deepEqual(describeReplacements({ 'b.two': ['z', 'a'], 'a.one': ['x'] }), ['a.one: x', 'b.two: a, z']);
  const message = renderMessage(
    {
      type: 'resource-replacements',
      presetId: context.presetId,
      workspaceId: '7f1c1a7e-2a55-4a3c-9c36-0d8a1f0b1c03',
      buildId: '7f1c1a7e-2a55-4a3c-9c36-0d8a1f0b1c04',
      buildNumber: 4,
      claimantId: '7f1c1a7e-2a55-4a3c-9c36-0d8a1f0b1c05',
      replacements: { 'aws_instance.dev': ['ami'] },
    },
    context,
    'https://wp.example.com/',
  );
  assert.equal(message.labels.claimant, 'alice');
  assert.equal(message.labels.workspace, 'alice-dev');
  assert.equal(message.labels.replaced_resources, 'aws_instance.dev: ami');
  assert.match(message.body, /ignore_changes = \[ami\]/);
  assert.equal(message.links[0]!.url, `https://wp.example.com/api/v1/presets/${context.presetId}/status`);
});

test('messages carry no per-event values, so dedup keys match for identical messages on one UTC day only', () => {
  const event = (transitionAt: string) => ({ type: 'preset-validation-failed' as const, presetId: context.presetId, transitionAt, error: 'missing parameter' });
  const a = renderMessage(event('2026-01-01T01:00:00Z'), context, 'https://wp.example.com');
  const b = renderMessage(event('2026-01-01T05:00:00+02:00'), context, 'https://wp.example.com');
  assert.deepEqual(a, b);
  assert.equal(dailyDedupKey(a, new Date('2026-01-01T00:00:00Z')), dailyDedupKey(b, new Date('2026-01-01T23:59:59Z')));
  assert.notEqual(dailyDedupKey(a, new Date('2026-01-01T23:59:59Z')), dailyDedupKey(a, new Date('2026-01-02T00:00:00Z')));
  // The same transition written with another offset is the same event.
  assert.equal(eventKey(event('2026-01-01T03:00:00+02:00')), eventKey(event('2026-01-01T01:00:00Z')));
  assert.notEqual(eventKey(event('2026-01-01T01:00:00Z')), eventKey(event('2026-01-01T02:00:00Z')));
});

test('e-mail text and HTML come from the same message; HTML escapes it; chat bodies escape mrkdwn and respect Slack limits', () => {
  const message = {
    title: 'Prebuilds stopped: <acme> & "web"',
    body: 'line one <b>\nline two & more',
    labels: { organization: 'acme', template: 'web', version: 'v1', preset: 'p', replaced_resources: 'x' },
    links: [{ label: 'Preset status', url: 'https://w.example.com/api/v1/presets/1/status?a=1&b=2' }],
  };
  const email = renderEmail('preset-hard-limited', message);
  assert.equal(email.subject, message.title);
  assert.ok(email.text.startsWith('line one <b>\nline two & more\n\nPreset status: https://w.example.com/api/v1/presets/1/status?a=1&b=2\n'));
  assert.match(email.text, /warmpool notifications set preset-hard-limited email off/);
  assert.match(email.html, /<h2[^>]*>Prebuilds stopped: &lt;acme&gt; &amp; &quot;web&quot;<\/h2>/);
  assert.match(email.html, /<p[^>]*>line one &lt;b&gt;<\/p>\n<p[^>]*>line two &amp; more<\/p>/);
  assert.match(email.html, /<a href="https:\/\/w\.example\.com\/api\/v1\/presets\/1\/status\?a=1&amp;b=2">Preset status<\/a>/);

  const chat = renderChat({ ...message, title: 'x'.repeat(200), body: `${'y'.repeat(3100)} <&>` });
  assert.equal(chat.text.length, 200, 'the fallback text is whole');
  const [header, section, context, actions] = chat.blocks as { text?: { text: string }; elements?: { text: unknown }[] }[];
  assert.equal(header!.text!.text.length, 150);
  assert.equal(section!.text!.text.length, 3000);
  assert.match(renderChat(message).blocks.map((b) => JSON.stringify(b)).join(), /line one &lt;b&gt;\\nline two &amp; more/);
  assert.deepEqual(context!.elements![0]!.text, '*organization:* acme  ·  *template:* web  ·  *version:* v1  ·  *preset:* p');
  assert.equal(actions!.elements!.length, 1);
});

test('a mailer pointed at a closed port fails with a retryable connection error', async () => {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const { port } = closed.address() as AddressInfo;
  await new Promise<void>((r) => closed.close(() => r()));
  const send = createMailer({ host: '127.0.0.1', port, tls: 'none', auth: undefined, from: 'w@example.com', timeoutMs: 2_000, attempts: 1 });
  await assert.rejects(
    send({ to: 'a@example.com', subject: 's', text: 't', html: '<p>t</p>', kind: 'preset-hard-limited', messageId: '<1@example.com>' }),
    (err: Error) => err.constructor === Error && /ECONNREFUSED|ECONNECTION/.test(err.message),
  );
});

test('a stopped rollout is a notice of its own kind naming the version, the reason and what stays active', () => {
  const message = renderMessage(
    {
      type: 'rollout-stopped',
      presetId: context.presetId,
      rolloutId: '7f1c1a7e-2a55-4a3c-9c36-0d8a1f0b1c06',
      reason: 'deadline',
      detail: 'not warm by the deadline: "large" 1/3 eligible',
    },
    context,
    'https://wp.example.com',
  );
  assert.equal(message.kind, 'rollout-stopped');
  assert.equal(message.title, 'Rollout stopped: acme/web-app@v3 was not promoted because it was not warm by its deadline');
  assert.match(message.body, /"large" 1\/3 eligible/);
  assert.match(message.body, /active version keeps serving/);
  assert.equal(message.labels.reason, 'deadline');
  assert.equal(eventKey({ type: 'rollout-stopped', presetId: context.presetId, rolloutId: '7f1c1a7e-2a55-4a3c-9c36-0d8a1f0b1c06', reason: 'deadline', detail: 'x' }), 'rollout-stopped:7f1c1a7e-2a55-4a3c-9c36-0d8a1f0b1c06');
});
