export {
  AUTOSCALING_CAP,
  DEFAULT_LEAD_TIME_SECONDS,
  DEFAULT_STABILIZATION_SECONDS,
  checkAutoscaling,
  parseStoredAutoscaling,
  type AutoscalingPolicy,
  type AutoscalingManifest,
  type ExpressionPolicy,
  type ForecastPolicy,
  type PolicyProblem,
} from './policy.js';
export { compileExpression, ExpressionError, EXPRESSION_INPUTS, DEMAND_WINDOWS_MINUTES, type CompiledExpression, type ExpressionInputs } from './expression.js';
export {
  FORECAST,
  poissonQuantile,
  indexHistory,
  seasonalRate,
  levelFactor,
  poolForRate,
  forecastTarget,
  type DemandBucket,
  type DemandHistory,
  type IndexedHistory,
  type ForecastInput,
  type ForecastResult,
} from './forecast.js';
export { sizeTarget, expressionInputs, type SizingInput, type SizingResult, type TargetSource, type DemandEvent, type PoolCounts } from './target.js';
export { replay, toHourly, type ReplayInput, type ReplayHour, type ReplayResult, type ReplayTotals } from './replay.js';
export { sizePreset, usesDemand, type PresetDemand, type SizingView } from './preset.js';
export { planManifestChanges, type PoolChange, type StoredPresetShape } from './dry-run.js';
