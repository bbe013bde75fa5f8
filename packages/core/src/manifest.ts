import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { CronError, parseCronCached } from './cron.js';
import { isValidTimezone, rangesOverlap } from './schedule.js';
import { checkAutoscaling, type AutoscalingManifest } from './sizing/policy.js';
import { clip, echo, listed } from './text.js';
import { WorkspaceSchema, workspaceReferences } from './workspace.js';

/** Size limits of one version's manifest (BEHAVIOUR.md §2 defaults; configurable by the caller). */
export type ManifestLimits = { maxPresets?: number; maxSchedulesPerPreset?: number };
export const DEFAULT_MANIFEST_LIMITS = { maxPresets: 100, maxSchedulesPerPreset: 64 } as const;

export const TTL_MIN_SECONDS = 3600;
export const TTL_MAX_SECONDS = 31_536_000;
/** Upper bound of a preset's (or a schedule's) `instances`: far above any real pool, and inside PostgreSQL's int4. */
export const MAX_INSTANCES = 10_000;

/** "is required" for a missing field, otherwise the expected type: clearer than zod's generic wording. */
const typeError = (expected: string) => (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${expected}`);
const nonEmpty = z.string({ error: typeError('a non-empty string') }).min(1, 'must be a non-empty string');
const count = z
  .number({ error: typeError('an integer ≥ 0') })
  .int('must be an integer')
  .min(0, 'must be ≥ 0')
  .max(MAX_INSTANCES, `must be ≤ ${MAX_INSTANCES}`);
/** Objects reject unknown fields; a wrong type reads "must be an object" rather than zod's generic wording. */
const objectOf = <S extends z.ZodRawShape>(shape: S) => z.strictObject(shape, { error: typeError('an object') });
/** `__proto__` cannot survive as a plain-object key (it would be dropped or touch the prototype): refuse it. */
const parameterName = nonEmpty.refine((name) => name !== '__proto__', 'is not allowed as a parameter name');

const ParameterDeclarationSchema = objectOf({
  name: parameterName,
  required: z.boolean({ error: typeError('true or false') }).default(false),
  default: z.string({ error: typeError('a string') }).optional(),
  options: z.array(nonEmpty, { error: typeError('a list of strings') }).min(1, 'must list at least one option').optional(),
});

const ScheduleSchema = objectOf({
  cron: z.string({ error: typeError('a cron expression string') }).superRefine((cron, ctx) => {
    try {
      parseCronCached(cron); // memoised (accepted ones only): manifests repeat the same schedules across presets
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof CronError ? err.message : 'invalid cron' });
    }
  }),
  instances: count,
});

const PrebuildsSchema = objectOf({
  instances: count,
  expiration_policy: objectOf({
      ttl: z
        .number({ error: typeError('a number of seconds') })
        .int('must be an integer number of seconds')
        .refine((ttl) => ttl === 0 || (ttl >= TTL_MIN_SECONDS && ttl <= TTL_MAX_SECONDS), {
          message: `must be 0 (disabled) or between ${TTL_MIN_SECONDS} and ${TTL_MAX_SECONDS} seconds`,
        }),
    })
    .optional(),
  scheduling: objectOf({
      timezone: z.string({ error: typeError('an IANA time zone name') }).refine(isValidTimezone, { message: 'must be an IANA time zone name such as Europe/Berlin' }),
      schedule: z.array(ScheduleSchema, { error: typeError('a list of schedules') }).min(1, 'must contain at least one entry'),
    })
    .optional(),
  // Checked by the sizing module (expression syntax and variables, bounds), each problem at its own field path.
  autoscaling: z
    .unknown()
    .superRefine((raw, ctx) => {
      for (const p of checkAutoscaling(raw).problems) ctx.addIssue({ code: 'custom', message: p.message, path: p.path === '(root)' ? [] : [p.path] });
    })
    .transform((raw) => raw as AutoscalingManifest)
    .optional(),
});

const PresetSchema = objectOf({
  name: nonEmpty,
  description: z.string({ error: typeError('a string') }).max(128, 'must be at most 128 characters').optional(),
  default: z.boolean({ error: typeError('true or false') }).default(false),
  prebuilds: PrebuildsSchema.optional(),
  parameters: z.record(nonEmpty, nonEmpty, { error: typeError('a map of parameter names to values') }).default({}),
});

const ManifestSchema = objectOf({
  name: nonEmpty,
  parameters: z.array(ParameterDeclarationSchema, { error: typeError('a list of parameter declarations') }).default([]),
  presets: z.array(PresetSchema, { error: typeError('a list of presets') }).default([]),
  /** What a container provisioner runs for each workspace (optional; see workspace.ts). */
  workspace: WorkspaceSchema.optional(),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type PresetManifest = Manifest['presets'][number];
export type ParameterDeclaration = z.infer<typeof ParameterDeclarationSchema>;
export type ManifestProblem = { path: string; message: string };
export type ManifestValidation =
  | { ok: true; value: Manifest; warnings: string[] }
  | { ok: false; errors: ManifestProblem[] };

/** `['presets', 0, 'prebuilds']` → `presets[0].prebuilds`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? String(part) : `.${String(part)}`;
  return out === '' ? '(root)' : out;
}

function zodProblems(error: z.ZodError): ManifestProblem[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, clip(key, 80)]), message: `unknown field ${echo(key)}` }));
    }
    // A bad map key (the empty parameter name) is reported on the map itself: `parameters.` would read oddly.
    if (issue.code === 'invalid_key') {
      const key = issue.path.at(-1);
      const reason = issue.issues[0]?.message;
      if (key !== '' && reason) return [{ path: formatPath(issue.path), message: reason }];
      return [{ path: formatPath(issue.path.slice(0, -1)), message: 'names must be non-empty strings' }];
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
  });
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const listAt = (value: unknown, key: string): unknown[] => (isRecord(value) && Array.isArray(value[key]) ? value[key] : []);

/** The preset count limit is checked before the schema so a huge manifest is refused cheaply with a clear error. */
function presetCountProblem(input: unknown, limits: Required<ManifestLimits>): ManifestProblem | null {
  const presets = listAt(input, 'presets');
  return presets.length > limits.maxPresets
    ? { path: 'presets', message: `at most ${limits.maxPresets} presets per version (got ${presets.length})` }
    : null;
}

type Declarations = Map<string, { options: string[] | undefined }>;

/** The declared parameters by name; duplicates and defaults outside the options are problems. */
function declaredParameters(input: unknown, problems: ManifestProblem[]): Declarations {
  const declarations: Declarations = new Map();
  listAt(input, 'parameters').forEach((decl, i) => {
    if (!isRecord(decl) || typeof decl.name !== 'string' || decl.name === '') return;
    const options = Array.isArray(decl.options) && decl.options.every((o) => typeof o === 'string') ? (decl.options as string[]) : undefined;
    if (declarations.has(decl.name)) problems.push({ path: `parameters[${i}].name`, message: `duplicate parameter ${echo(decl.name)}` });
    else declarations.set(decl.name, { options });
    if (typeof decl.default === 'string' && options && !options.includes(decl.default)) {
      problems.push({ path: `parameters[${i}].default`, message: `${echo(decl.default)} is not one of the options: ${listed(options)}` });
    }
  });
  return declarations;
}

/** A preset's parameter values: undeclared names warn, values outside the declared options are problems. */
function presetParameterProblems(i: number, parameters: Record<string, unknown>, declarations: Declarations, problems: ManifestProblem[], warnings: string[]): void {
  for (const [name, value] of Object.entries(parameters)) {
    if (name === '__proto__') {
      // zod's record drops this key silently; refuse it rather than lose a value the author wrote.
      problems.push({ path: `presets[${i}].parameters.${name}`, message: 'is not allowed as a parameter name' });
      continue;
    }
    if (name === '' || typeof value !== 'string' || value === '') continue; // the schema reports these
    const decl = declarations.get(name);
    if (!decl) warnings.push(`presets[${i}].parameters.${clip(name, 80)}: parameter ${echo(name)} is not declared by the version`);
    else if (decl.options && !decl.options.includes(value)) {
      problems.push({ path: `presets[${i}].parameters.${clip(name, 80)}`, message: `${echo(value)} is not one of the options: ${listed(decl.options)}` });
    }
  }
}

/** A preset's schedule list: at most `maxSchedulesPerPreset` entries, no two ranges overlapping. */
function scheduleProblems(i: number, preset: Record<string, unknown>, limits: Required<ManifestLimits>): ManifestProblem[] {
  const path = `presets[${i}].prebuilds.scheduling.schedule`;
  const schedule = listAt(isRecord(preset.prebuilds) ? preset.prebuilds.scheduling : undefined, 'schedule');
  if (schedule.length > limits.maxSchedulesPerPreset) return [{ path, message: `at most ${limits.maxSchedulesPerPreset} schedules per preset (got ${schedule.length})` }];
  const ranges = schedule.flatMap((entry) => {
    if (!isRecord(entry) || typeof entry.cron !== 'string') return [];
    try {
      return [parseCronCached(entry.cron)];
    } catch {
      return []; // the schema reports invalid expressions on their own path
    }
  });
  const problems: ManifestProblem[] = [];
  for (let a = 0; a < ranges.length; a++) {
    for (let b = a + 1; b < ranges.length; b++) {
      if (rangesOverlap(ranges[a]!, ranges[b]!)) problems.push({ path, message: `schedules "${ranges[a]!.source}" and "${ranges[b]!.source}" overlap` });
    }
  }
  return problems;
}

/**
 * Rules that span fields (unique names, one default, parameter options, schedule count and overlap). They run on
 * the raw input, reading only well-typed parts, so they are reported together with the schema's problems.
 */
function crossFieldProblems(input: unknown, limits: Required<ManifestLimits>, warnings: string[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const declarations = declaredParameters(input, problems);
  const env = isRecord(input) && isRecord(input.workspace) && isRecord(input.workspace.env) ? input.workspace.env : {};
  for (const { variable, name } of workspaceReferences(env)) {
    if (!declarations.has(name)) {
      problems.push({ path: `workspace.env.${variable}`, message: `\${${name}} names no declared parameter (use $\${ for a literal \${)` });
    }
  }
  const seen = new Map<string, number>();
  let firstDefault: number | undefined;
  listAt(input, 'presets').forEach((preset, i) => {
    if (!isRecord(preset)) return;
    if (typeof preset.name === 'string' && preset.name !== '') {
      const dup = seen.get(preset.name);
      if (dup !== undefined) problems.push({ path: `presets[${i}].name`, message: `duplicate preset name ${echo(preset.name)} (also presets[${dup}])` });
      else seen.set(preset.name, i);
    }
    if (preset.default === true) {
      if (firstDefault !== undefined) problems.push({ path: `presets[${i}].default`, message: `only one preset may be the default (presets[${firstDefault}] already is)` });
      else firstDefault = i;
    }
    if (isRecord(preset.parameters)) presetParameterProblems(i, preset.parameters, declarations, problems, warnings);
    problems.push(...scheduleProblems(i, preset, limits));
  });
  return problems;
}

/**
 * Validates a template version manifest (BEHAVIOUR.md §2). Every problem is reported at once with its path; preset
 * parameters that no declaration names are accepted with a warning. Limits left undefined use the defaults.
 */
export function validateManifest(input: unknown, limits: ManifestLimits = {}): ManifestValidation {
  const effective = {
    maxPresets: limits.maxPresets ?? DEFAULT_MANIFEST_LIMITS.maxPresets,
    maxSchedulesPerPreset: limits.maxSchedulesPerPreset ?? DEFAULT_MANIFEST_LIMITS.maxSchedulesPerPreset,
  };
  const tooMany = presetCountProblem(input, effective);
  if (tooMany) return { ok: false, errors: [tooMany] };
  const parsed = ManifestSchema.safeParse(input);
  const warnings: string[] = [];
  const problems = [...(parsed.success ? [] : zodProblems(parsed.error)), ...crossFieldProblems(input, effective, warnings)];
  if (problems.length || !parsed.success) return { ok: false, errors: capped(problems, (rest) => ({ path: '(root)', message: `and ${rest} more problems not listed` })) };
  return { ok: true, value: parsed.data, warnings: capped(warnings, (rest) => `and ${rest} more warnings not listed`) };
}

/** Most problems (or warnings) one answer lists: the rest are counted, so an answer stays small (issue 21). */
export const MAX_REPORTED_PROBLEMS = 50;

function capped<T>(items: T[], more: (rest: number) => T): T[] {
  return items.length > MAX_REPORTED_PROBLEMS ? [...items.slice(0, MAX_REPORTED_PROBLEMS), more(items.length - MAX_REPORTED_PROBLEMS)] : items;
}

export class ManifestSyntaxError extends Error {
  override name = 'ManifestSyntaxError';
}

/** Parses manifest text: JSON, or YAML when it is not JSON. Throws ManifestSyntaxError with the parser's reason. */
export function parseManifestText(text: string): unknown {
  if (typeof text !== 'string') throw new ManifestSyntaxError('manifest text must be a string');
  // YAML reads empty text as null: say what is wrong instead of "expected object".
  if (text.trim() === '') throw new ManifestSyntaxError('manifest is empty');
  let jsonError: Error;
  try {
    return JSON.parse(text);
  } catch (err) {
    jsonError = err as Error;
  }
  try {
    // YAML is a superset of JSON, so `{name: v1}` (a YAML flow mapping) is accepted here too.
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (yamlError) {
    // Text that starts like JSON was most likely meant as JSON: report the JSON parser's reason.
    if (/^\s*[[{]/.test(text)) throw new ManifestSyntaxError(`invalid JSON: ${clip(jsonError.message, 300)}`);
    throw new ManifestSyntaxError(`invalid YAML: ${clip((yamlError as Error).message, 300)}`);
  }
}
