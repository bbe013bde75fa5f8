import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planNotification, type ChannelChoices } from '../src/notifications.js';

const alice = { notificationId: 'n-a', userId: 'a', email: 'alice@example.com' };
const bob = { notificationId: 'n-b', userId: 'b', email: null };
const on: ChannelChoices = { emailOff: false, webhookOff: false };
const base = { siteDisabled: false, rows: [alice, bob], choices: new Map([['a', on], ['b', on]]), url: 'https://hooks.example/x', email: true, chatUrl: 'https://chat.example/y' };
const skips = (plan: ReturnType<typeof planNotification>) => plan.sends.map((s) => [s.channel, s.notificationId, s.skip]);

test('everyone opted in: the webhook carries every new row, each e-mail is sent where there is an address, one chat post', () => {
  const plan = planNotification(base);
  assert.deepEqual(plan.webhookRows, [alice, bob]);
  assert.equal(plan.webhookSkip, null);
  assert.deepEqual(skips(plan), [
    ['email', 'n-a', null],
    ['email', 'n-b', 'no e-mail address'],
    ['chat', null, null],
  ]);
});

test('the site-wide switch skips every channel, before any other reason', () => {
  const plan = planNotification({ ...base, siteDisabled: true, url: null });
  assert.equal(plan.webhookSkip, 'kind disabled site-wide by an owner');
  assert.ok(plan.sends.every((s) => s.skip === 'kind disabled site-wide by an owner'));
});

test('opt-outs: a recipient off webhooks is not carried, one off e-mail gets a skipped e-mail; all off skips the webhook', () => {
  const plan = planNotification({ ...base, choices: new Map([['a', { emailOff: true, webhookOff: true }], ['b', on]]) });
  assert.deepEqual(plan.webhookRows, [bob]);
  assert.equal(plan.webhookSkip, null);
  assert.deepEqual(skips(plan)[0], ['email', 'n-a', 'e-mail turned off by the recipient for this kind']);
  const allOff = planNotification({ ...base, choices: new Map([['a', { emailOff: false, webhookOff: true }], ['b', { emailOff: false, webhookOff: true }]]) });
  assert.equal(allOff.webhookSkip, 'every recipient turned webhooks off for this kind');
});

test('no new rows (sent today already): no e-mails, webhook and chat skipped as nothing new', () => {
  const plan = planNotification({ ...base, rows: [] });
  assert.equal(plan.webhookSkip, 'no new recipients (identical message already sent today)');
  assert.deepEqual(skips(plan), [['chat', null, 'no new recipients (identical message already sent today)']]);
});

test('missing targets: no webhook URL skips the webhook, no SMTP means no e-mails, no chat URL no chat post', () => {
  const plan = planNotification({ ...base, url: null, email: false, chatUrl: null });
  assert.equal(plan.webhookSkip, 'no webhook URL configured');
  assert.deepEqual(plan.sends, []);
});
