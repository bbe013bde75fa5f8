#!/usr/bin/env node
import path from 'node:path';
import { Command, Option } from 'commander';
import { ROLES } from '@warmpool/contracts';
import { migrate } from '@warmpool/db';
import { ConfigError } from '@warmpool/runtime';
import { withDatabase } from './context.js';
import { checkTokenRequest, createTokenFor, ensureOrganization, parseExpiryDays, parseRole } from './commands/bootstrap.js';
import { importManifestFile, readManifestFile } from './commands/import.js';
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

const token = program.command('token').description('API tokens');
token
  .command('create')
  .description('create a user if needed, grant a role and print a new API token (shown once)')
  .requiredOption('--user <name>', 'user name')
  .addOption(new Option('--role <role>', 'role to grant').choices([...ROLES]).makeOptionMandatory())
  .option('--org <name>', 'organization of the role (required for org-admin and member; omit for site-wide)')
  .option('--name <name>', 'token name', 'cli')
  .option('--expires-in-days <days>', 'token lifetime (default: no expiry)')
  .option('--quiet', 'print only the token')
  .action((opts: { user: string; role: string; org?: string; name: string; expiresInDays?: string; quiet?: boolean }) =>
    withDatabase(async (pool) => {
      const expiresInDays = parseExpiryDays(opts.expiresInDays);
      const request = {
        user: opts.user,
        role: parseRole(opts.role),
        name: opts.name,
        ...(opts.org ? { org: opts.org } : {}),
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
  .option('--activate', 'make the new version active (reconciles the pools at once)')
  .option('--json', 'machine-readable output')
  .action((file: string, opts: { org: string; template?: string; activate?: boolean; json?: boolean }) =>
    withDatabase(async (pool, config) => {
      const text = await readManifestFile(file);
      const template = opts.template ?? path.basename(file).replace(/\.(json|ya?ml)$/i, '');
      const result = await importManifestFile(pool, config, { text, org: opts.org, template, activate: Boolean(opts.activate) });
      if (opts.json) printJson(result);
      else {
        for (const w of result.warnings) console.error(`warning: ${w}`);
        console.log(`imported ${opts.org}/${template} version ${result.versionName} (${result.presets} presets)${opts.activate ? ', active' : ''}`);
      }
    }),
  );

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
