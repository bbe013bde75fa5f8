/**
 * Expression policies (Coder's `desired_instances_expression`), in expr-eval-fork's language: numbers, the inputs
 * below, `+ - * / %  ^`, comparisons, `and`/`or`/`not`, `c ? a : b`, and the helpers min, max, ceil, floor, clamp.
 * Only the parser and its AST interpreter are used (never `toJSFunction`, which builds a Function): an expression
 * can read the inputs it is given and nothing else. Every symbol is checked against the lists below at compile
 * time, so unknown variables, other functions, member access, strings, arrays and assignment are refused at import.
 */
import { LRUCache } from 'lru-cache';
import { Parser, type Expression } from 'expr-eval-fork';

export class ExpressionError extends Error {
  override name = 'ExpressionError';
}

export const DEMAND_WINDOWS_MINUTES = [5, 10, 30, 60, 120] as const;

/** The inputs an expression may read, with what they mean (docs/SIZING.md lists the same). */
export const EXPRESSION_INPUTS: Record<string, string> = {
  scheduled_target: 'the count the schedule (or base instances) asks for now',
  running: 'running prebuilds, expired ones included',
  eligible: 'claimable prebuilds',
  starting: 'prebuild builds in progress',
  stopping: 'prebuilds being stopped',
  deleting: 'prebuilds being deleted',
  expired: 'running prebuilds past their TTL or invalidated',
  hour: 'hour of the day in the preset time zone (0–23; UTC without one)',
  weekday: 'day of the week in the preset time zone (0 = Sunday … 6 = Saturday)',
  ...Object.fromEntries(
    DEMAND_WINDOWS_MINUTES.flatMap((m) => [
      [`claims_${m}m`, `prebuilds claimed in the last ${m} minutes`],
      [`misses_${m}m`, `requests for the preset in the last ${m} minutes that found nothing eligible`],
      [`claim_rate_${m}m`, `requests (claims + misses) per hour over the last ${m} minutes`],
    ]),
  ),
};

export type ExpressionInputs = Record<string, number>;

const clamp = (value: number, lo: number, hi: number) => Math.min(Math.max(value, lo), hi);
const HELPERS = { min: Math.min, max: Math.max, clamp };
const UNARY = new Set(['-', '+', 'not', '!', 'ceil', 'floor']);
const BINARY = new Set(['+', '-', '*', '/', '%', '^', '==', '!=', '>', '<', '>=', '<=', 'and', 'or']);

function createParser(): Parser {
  const parser = new Parser({
    allowMemberAccess: false,
    operators: { assignment: false, fndef: false, concatenate: false, factorial: false, in: false, random: false, length: false },
  });
  // Only the documented helpers: drop the library's other functions, operators and constants (PI, E).
  parser.functions = { ...HELPERS };
  const ops = parser as unknown as { unaryOps: Record<string, unknown>; binaryOps: Record<string, unknown> };
  for (const name of Object.keys(ops.unaryOps)) if (!UNARY.has(name)) delete ops.unaryOps[name];
  for (const name of Object.keys(ops.binaryOps)) if (!BINARY.has(name)) delete ops.binaryOps[name];
  parser.consts = { true: true, false: false };
  return parser;
}
const parser = createParser();

type Token = { type: string; value: unknown };

/** Strings, arrays and nested function definitions are not numbers: refuse them rather than fail at run time. */
function checkTokens(tokens: Token[]): void {
  for (const token of tokens) {
    if (token.type === 'INUMBER' && typeof token.value !== 'number' && typeof token.value !== 'boolean') throw new ExpressionError('only numbers are allowed as literals');
    if (token.type === 'IARRAY') throw new ExpressionError('lists are not allowed');
    if (token.type === 'IEXPR' || token.type === 'IEXPREVAL') checkTokens(token.value as Token[]);
  }
}

export type CompiledExpression = { source: string; evaluate(inputs: ExpressionInputs): number };

/** Valid expressions only (a refusal throws before it is stored), at most MAX_EXPRESSION_LENGTH each. */
const compiled = new LRUCache<string, CompiledExpression>({ max: 1_000 });

/** Parses and checks an expression; throws ExpressionError naming the problem (unknown variable, syntax). Memoised. */
export function compileExpression(source: string): CompiledExpression {
  const cached = compiled.get(source);
  if (cached) return cached;
  let expr: Expression;
  try {
    expr = parser.parse(source);
  } catch (err) {
    throw new ExpressionError((err as Error).message);
  }
  checkTokens((expr as unknown as { tokens: Token[] }).tokens);
  for (const symbol of expr.symbols({ withMembers: true })) {
    if (Object.hasOwn(HELPERS, symbol)) continue;
    if (!Object.hasOwn(EXPRESSION_INPUTS, symbol)) {
      throw new ExpressionError(`unknown variable or function "${symbol}" (inputs: ${Object.keys(EXPRESSION_INPUTS).join(', ')}; helpers: min, max, ceil, floor, clamp)`);
    }
  }
  const result: CompiledExpression = {
    source,
    evaluate(inputs) {
      // A prototype-free copy of the known inputs only: nothing else is reachable by name.
      const values: Record<string, unknown> = Object.create(null);
      for (const name of Object.keys(EXPRESSION_INPUTS)) values[name] = inputs[name] ?? 0;
      Object.assign(values, HELPERS);
      let value: unknown;
      try {
        value = expr.evaluate(values as never);
      } catch (err) {
        throw new ExpressionError((err as Error).message);
      }
      if (typeof value === 'boolean') value = value ? 1 : 0;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new ExpressionError(`the result is not a finite number (${String(value)})`);
      return value;
    },
  };
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(source, result);
  return result;
}
