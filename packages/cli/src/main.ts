#!/usr/bin/env node
import path from 'node:path';
import { Command, Option } from 'commander';
import { ROLES } from '@warmpool/contracts';
import { migrate } from '@warmpool/db';
import { ConfigError } from '@warmpool/runtime';
import { withDatabase } from './context.js';
import { checkTokenRequest, createTokenFor, ensureOrganization, parseExpiryDays, parseRole } from './commands/bootstrap.js';
import { importManifestFile, readManifestFile } from './commands/import.js';
import { finishRotation, kindSettings, parseChannel, parseKind, parseOnOff, rotateSecret, setChatWebhook, setSiteWide, setUserPreference, userPreferences } from './commands/notifications.js';
import { renderReplay, replayCommand } from './commands/replay.js';
import { endRollout, renderRollout, rolloutStatus } from './commands/rollout.js';
import { collectStatus, previewPreset, renderStatus, setPaused } from './commands/status.js';
import { formatTable, printJson, UsageError } from './output.js';

const program = new Command('warmpool')
  .description('Warmpool operator CLI. Reads DATABASE_URL and the other WARMPOOL_* variables (see README).')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text) });

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(() =>
    withDatabase(async (pool) => {
      const applied = await migrate(pool);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'schema up to date');
    }),
  );

const org = program.command('org').description('organizations');
org
  .command('create <name>')
  .description('create an organization (idempotent)')
  .option('--webhook-url <url>', 'notification webhook of this organization')
  .action((name: string, opts: { webhookUrl?: string }) =>
    withDatabase(async (pool) => {
      await migrate(pool);
      const result = await ensureOrganization(pool, name, opts.webhookUrl);
      console.log(result.created ? `created organization ${name}` : `organization ${name} exists`);
    }),
  );

org
  .command('rotate-secret <name>')
  .description('start a webhook secret rollover (the current secret keeps signing as the previous one); prints the new secret once')
  .option('--secret <secret>', 'the new secret (default: a generated whsec_ secret)')
  .option('--finish', 'end the rollover: drop the previous secret')
  .action((name: string, opts: { secret?: string; finish?: boolean }) =>
    withDatabase(async (pool) => {
      await migrate(pool);
      if (opts.finish) {
        await finishRotation(pool, name);
        console.log(`organization ${name}: only the current secret signs now`);
        return;
      }
      const secret = await rotateSecret(pool, name, opts.secret);
      console.error(`organization ${name}: requests are signed with the new and the previous secret; store the new one now, it is not shown again:`);
      console.log(secret);
    }),
  );

org
  .command('chat-webhook <name> <url>')
  .description('set the Slack-compatible incoming webhook of an organization ("none" removes it)')
  .action((name: string, url: string) =>
    withDatabase(async (pool) => {
      await migrate(pool);
      await setChatWebhook(pool, name, url === 'none' ? null : url);
      console.log(url === 'none' ? `organization ${name}: no chat posts` : `organization ${name}: notices are posted to its chat webhook`);
    }),
  );

const notices = program.command('notifications').description('notification preferences (per user) and site-wide switches');
notices
  .command('list')
  .description("a user's choice per kind and channel, and the site-wide switches")
  .requiredOption('--user <name>', 'user name')
  .option('--json', 'machine-readable output')
  .action((opts: { user: string; json?: boolean }) =>
    withDatabase(async (pool) => {
      const [preferences, site] = await Promise.all([userPreferences(pool, opts.user), kindSettings(pool)]);
      if (opts.json) return printJson({ preferences, site });
      const disabled = new Set(site.filter((k) => k.disabled).map((k) => k.kind));
      console.log(formatTable(['KIND', 'CHANNEL', 'USER', 'SITE-WIDE'], preferences.map((p) => [p.kind, p.channel, p.enabled ? 'on' : 'off', disabled.has(p.kind) ? 'disabled' : 'on'])));
    }),
  );
notices
  .command('set <kind> <channel> <state>')
  .description('turn a kind of notice on or off for one channel (email, webhook) of a user; the inbox always keeps it')
  .requiredOption('--user <name>', 'user name')
  .action((kind: string, channel: string, state: string, opts: { user: string }) =>
    withDatabase(async (pool) => {
      const enabled = parseOnOff(state);
      await setUserPreference(pool, opts.user, parseKind(kind), parseChannel(channel), enabled);
      console.log(`${opts.user}: ${kind} by ${channel} ${enabled ? 'on' : 'off'}`);
    }),
  );
for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
  notices
    .command(`${name} <kind>`)
    .description(`${name} a kind of notice site-wide (disabled kinds stay in inboxes, every channel is recorded as skipped)`)
    .action((kind: string) =>
      withDatabase(async (pool) => {
        await migrate(pool);
        await setSiteWide(pool, parseKind(kind), disabled);
        console.log(`${kind} ${disabled ? 'disabled' : 'enabled'} site-wide`);
      }),
    );
}

const token = program.command('token').description('API tokens');
token
  .command('create')
  .description('create a user if needed, grant a role and print a new API token (shown once)')
  .requiredOption('--user <name>', 'user name')
  .addOption(new Option('--role <role>', 'role to grant').choices([...ROLES]).makeOptionMandatory())
  .option('--org <name>', 'organization of the role (required for org-admin and member; omit for site-wide)')
  .option('--name <name>', 'token name', 'cli')
  .option('--email <address>', "the user's e-mail address (where notices are mailed)")
  .option('--expires-in-days <days>', 'token lifetime (default: no expiry)')
  .option('--quiet', 'print only the token')
  .action((opts: { user: string; role: string; org?: string; name: string; email?: string; expiresInDays?: string; quiet?: boolean }) =>
    withDatabase(async (pool) => {
      const expiresInDays = parseExpiryDays(opts.expiresInDays);
      const request = {
        user: opts.user,
        role: parseRole(opts.role),
        name: opts.name,
        ...(opts.org ? { org: opts.org } : {}),
        ...(opts.email !== undefined ? { email: opts.email } : {}),
        ...(expiresInDays !== undefined ? { expiresInDays } : {}),
      };
      checkTokenRequest(request); // before touching the database
      await migrate(pool);
      const secret = await createTokenFor(pool, request);
      if (!opts.quiet) console.error(`token for ${opts.user} (${opts.role}${opts.org ? ` in ${opts.org}` : ''}); store it now, it is not shown again:`);
      console.log(secret);
    }),
  );

program
  .command('import <manifest>')
  .description('validate a manifest (JSON or YAML) and import it as a new template version')
  .requiredOption('--org <name>', 'organization')
  .option('--template <name>', 'template name (default: the manifest file name)')
  .option('--activate', 'make the new version active at once (its pools start empty; reconciles the pools at once)')
  .option('--staged', 'stage the new version: warm its pools while the active version serves, make it active when warm')
  .option('--surge <n|p%>', 'with --staged: staged builds in flight at once, a count or a percentage of desired (default 25%)')
  .option('--deadline <seconds>', 'with --staged: stop the rollout if it is not warm by then (60-86400, default 900)')
  .option('--json', 'machine-readable output')
  .action((file: string, opts: { org: string; template?: string; activate?: boolean; staged?: boolean; surge?: string; deadline?: string; json?: boolean }) =>
    withDatabase(async (pool, config) => {
      if (!opts.staged && (opts.surge !== undefined || opts.deadline !== undefined)) throw new UsageError('--surge and --deadline need --staged');
      const text = await readManifestFile(file);
      const template = opts.template ?? path.basename(file).replace(/\.(json|ya?ml)$/i, '');
      const staged = opts.staged ? { surge: opts.surge, deadlineSeconds: opts.deadline === undefined ? undefined : Number(opts.deadline) } : undefined;
      const result = await importManifestFile(pool, config, { text, org: opts.org, template, activate: Boolean(opts.activate), staged });
      if (opts.json) printJson(result);
      else {
        for (const w of result.warnings) console.error(`warning: ${w}`);
        const how = opts.activate ? ', active' : result.rollout ? `, staged (rollout ${result.rollout.id}; follow it with: warmpool rollout status --org ${opts.org} --template ${template})` : '';
        console.log(`imported ${opts.org}/${template} version ${result.versionName} (${result.presets} presets)${how}`);
      }
    }),
  );

const rollout = program.command('rollout').description("a template's staged rollout: progress, promote now, cancel");
rollout
  .command('status')
  .description('the newest rollout of the template with its progress per preset')
  .requiredOption('--org <name>', 'organization')
  .requiredOption('--template <name>', 'template')
  .option('--json', 'machine-readable output')
  .action((opts: { org: string; template: string; json?: boolean }) =>
    withDatabase(async (pool) => {
      const progress = await rolloutStatus(pool, opts.org, opts.template);
      if (opts.json) printJson(progress);
      else console.log(renderRollout(progress));
    }),
  );
for (const action of ['promote', 'cancel'] as const) {
  rollout
    .command(action)
    .description(action === 'promote' ? 'make the staged version active now, warm or not' : 'stop the staged rollout; the active version stays')
    .requiredOption('--org <name>', 'organization')
    .requiredOption('--template <name>', 'template')
    .option('--json', 'machine-readable output')
    .action((opts: { org: string; template: string; json?: boolean }) =>
      withDatabase(async (pool, config) => {
        const progress = await endRollout(pool, config, opts.org, opts.template, action);
        if (opts.json) printJson(progress);
        else console.log(renderRollout(progress));
      }),
    );
}

program
  .command('status')
  .description('pool status per active preset')
  .option('--org <name>', 'only this organization')
  .option('--json', 'machine-readable output')
  .action((opts: { org?: string; json?: boolean }) =>
    withDatabase(async (pool, config) => {
      const statuses = await collectStatus(pool, config, opts.org);
      if (opts.json) printJson(statuses);
      else console.log(renderStatus(statuses));
    }),
  );

program
  .command('preview <presetId>')
  .description('desired-count timeline of a preset')
  .option('--days <n>', 'window length in days (1-31)', '7')
  .option('--json', 'machine-readable output')
  .action((presetId: string, opts: { days: string; json?: boolean }) =>
    withDatabase(async (pool, config) => {
      const points = await previewPreset(pool, config, presetId, Number(opts.days));
      if (opts.json) printJson(points);
      else console.log(formatTable(['FROM', 'DESIRED'], points.map((p) => [p.at, String(p.instances)])));
    }),
  );

program
  .command('replay <presetId>')
  .description("dry run: replay the preset's recorded requests of the last days against its current or a proposed policy")
  .option('--days <n>', 'days to replay (1-28)', '7')
  .option('--policy <file>', 'a proposed prebuilds fragment (JSON or YAML), e.g. {"autoscaling": {"target_hit_rate": 0.95}}')
  .option('--json', 'machine-readable output')
  .action((presetId: string, opts: { days: string; policy?: string; json?: boolean }) =>
    withDatabase(async (pool) => {
      const result = await replayCommand(pool, presetId, { days: Number(opts.days), ...(opts.policy ? { policyFile: opts.policy } : {}) });
      if (opts.json) printJson(result);
      else console.log(renderReplay(result));
    }),
  );

for (const [name, paused] of [['pause', true], ['resume', false]] as const) {
  program
    .command(name)
    .description(`${name} reconciliation site-wide`)
    .option('--json', 'machine-readable output')
    .action((opts: { json?: boolean }) =>
      withDatabase(async (pool) => {
        await setPaused(pool, paused);
        if (opts.json) printJson({ paused });
        else console.log(paused ? 'reconciliation paused' : 'reconciliation resumed');
      }),
    );
}

try {
  await program.parseAsync();
} catch (err) {
  if (err instanceof UsageError || err instanceof ConfigError) {
    console.error(`error: ${err.message}`);
    process.exit(2);
  }
  // Anything else is operational (database unreachable, ...): one line, the stack only when debugging.
  const debug = ['debug', 'trace'].includes(process.env.LOG_LEVEL ?? '');
  console.error(debug || !(err instanceof Error) ? err : `error: ${err.message}`);
  process.exit(1);
}
