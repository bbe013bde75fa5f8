import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { CronError, parseCron } from './cron.js';
import { isValidTimezone, validateSchedules } from './schedule.js';

/** Size limits of one version's manifest (SPEC §2 defaults; configurable by the caller). */
export type ManifestLimits = { maxPresets?: number; maxSchedulesPerPreset?: number };
export const DEFAULT_MANIFEST_LIMITS = { maxPresets: 100, maxSchedulesPerPreset: 64 } as const;

export const TTL_MIN_SECONDS = 3600;
export const TTL_MAX_SECONDS = 31_536_000;

const nonEmpty = z.string().min(1, 'must be a non-empty string');
const count = z.number().int('must be an integer').min(0, 'must be ≥ 0');

const ParameterDeclarationSchema = z.strictObject({
  name: nonEmpty,
  required: z.boolean().default(false),
  default: z.string().optional(),
  options: z.array(nonEmpty).min(1, 'must list at least one option').optional(),
});

const ScheduleSchema = z.strictObject({
  cron: z.string().superRefine((cron, ctx) => {
    try {
      parseCron(cron);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: err instanceof CronError ? err.message : 'invalid cron' });
    }
  }),
  instances: count,
});

const PrebuildsSchema = z.strictObject({
  instances: count,
  expiration_policy: z
    .strictObject({
      ttl: z
        .number()
        .int('must be an integer number of seconds')
        .refine((ttl) => ttl === 0 || (ttl >= TTL_MIN_SECONDS && ttl <= TTL_MAX_SECONDS), {
          message: `must be 0 (disabled) or between ${TTL_MIN_SECONDS} and ${TTL_MAX_SECONDS} seconds`,
        }),
    })
    .optional(),
  scheduling: z
    .strictObject({
      timezone: z.string().refine(isValidTimezone, { message: 'must be an IANA time zone name such as Europe/Berlin' }),
      schedule: z.array(ScheduleSchema).min(1, 'must contain at least one entry'),
    })
    .optional(),
});

const PresetSchema = z.strictObject({
  name: nonEmpty,
  description: z.string().max(128, 'must be at most 128 characters').optional(),
  default: z.boolean().default(false),
  prebuilds: PrebuildsSchema.optional(),
  parameters: z.record(nonEmpty, nonEmpty).default({}),
});

const ManifestSchema = z.strictObject({
  name: nonEmpty,
  parameters: z.array(ParameterDeclarationSchema).default([]),
  presets: z.array(PresetSchema).default([]),
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
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }))
      : [{ path: formatPath(issue.path), message: issue.message }],
  );
}

/** Size limits are checked before the schema so a huge manifest is refused cheaply with a clear error. */
function sizeProblems(input: unknown, limits: Required<ManifestLimits>): ManifestProblem[] {
  if (typeof input !== 'object' || input === null) return [];
  const presets = (input as { presets?: unknown }).presets;
  if (!Array.isArray(presets)) return [];
  if (presets.length > limits.maxPresets) {
    return [{ path: 'presets', message: `at most ${limits.maxPresets} presets per version (got ${presets.length})` }];
  }
  const problems: ManifestProblem[] = [];
  presets.forEach((preset: unknown, i) => {
    const schedule = (preset as { prebuilds?: { scheduling?: { schedule?: unknown } } } | null)?.prebuilds?.scheduling?.schedule;
    if (Array.isArray(schedule) && schedule.length > limits.maxSchedulesPerPreset) {
      problems.push({
        path: `presets[${i}].prebuilds.scheduling.schedule`,
        message: `at most ${limits.maxSchedulesPerPreset} schedules per preset (got ${schedule.length})`,
      });
    }
  });
  return problems;
}

/** Rules that span fields: unique names, one default, parameter options, overlapping schedules. */
function crossFieldProblems(manifest: Manifest, warnings: string[]): ManifestProblem[] {
  const problems: ManifestProblem[] = [];
  const declarations = new Map<string, ParameterDeclaration>();
  manifest.parameters.forEach((decl, i) => {
    if (declarations.has(decl.name)) problems.push({ path: `parameters[${i}].name`, message: `duplicate parameter "${decl.name}"` });
    declarations.set(decl.name, decl);
    if (decl.default !== undefined && decl.options && !decl.options.includes(decl.default)) {
      problems.push({ path: `parameters[${i}].default`, message: `"${decl.default}" is not one of the options` });
    }
  });
  const seen = new Map<string, number>();
  let firstDefault: number | undefined;
  manifest.presets.forEach((preset, i) => {
    const dup = seen.get(preset.name);
    if (dup !== undefined) problems.push({ path: `presets[${i}].name`, message: `duplicate preset name "${preset.name}" (also presets[${dup}])` });
    else seen.set(preset.name, i);
    if (preset.default) {
      if (firstDefault !== undefined) problems.push({ path: `presets[${i}].default`, message: `only one preset may be the default (presets[${firstDefault}] already is)` });
      else firstDefault = i;
    }
    for (const [name, value] of Object.entries(preset.parameters)) {
      const decl = declarations.get(name);
      if (!decl) warnings.push(`presets[${i}].parameters.${name}: parameter "${name}" is not declared by the version`);
      else if (decl.options && !decl.options.includes(value)) {
        problems.push({ path: `presets[${i}].parameters.${name}`, message: `"${value}" is not one of the options: ${decl.options.join(', ')}` });
      }
    }
    const schedule = preset.prebuilds?.scheduling?.schedule ?? [];
    const crons = schedule.map((s) => s.cron);
    for (const message of validateSchedules(crons)) {
      if (message.includes(' overlap')) problems.push({ path: `presets[${i}].prebuilds.scheduling.schedule`, message });
    }
  });
  return problems;
}

/**
 * Validates a template version manifest (SPEC §2). Every problem is reported at once with its path; preset
 * parameters that no declaration names are accepted with a warning.
 */
export function validateManifest(input: unknown, limits: ManifestLimits = {}): ManifestValidation {
  const effective = { ...DEFAULT_MANIFEST_LIMITS, ...limits };
  const size = sizeProblems(input, effective);
  if (size.length) return { ok: false, errors: size };
  const parsed = ManifestSchema.safeParse(input);
  if (!parsed.success) return { ok: false, errors: zodProblems(parsed.error) };
  const warnings: string[] = [];
  const problems = crossFieldProblems(parsed.data, warnings);
  return problems.length ? { ok: false, errors: problems } : { ok: true, value: parsed.data, warnings };
}

export class ManifestSyntaxError extends Error {
  override name = 'ManifestSyntaxError';
}

/** Parses manifest text: JSON, or YAML when it is not JSON. Throws ManifestSyntaxError with the parser's reason. */
export function parseManifestText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (jsonError) {
    if (/^\s*[[{]/.test(text)) throw new ManifestSyntaxError(`invalid JSON: ${(jsonError as Error).message}`);
  }
  try {
    return parseYaml(text, { maxAliasCount: 100 });
  } catch (yamlError) {
    throw new ManifestSyntaxError(`invalid YAML: ${(yamlError as Error).message}`);
  }
}
