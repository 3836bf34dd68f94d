/**
 * Return on investment of a KV cache, in months: the GPU prefill time the cache saves each month
 * ({@link projectCost}, from measured H100 prefill speeds and a measured reuse), minus what the
 * store costs each month, against a one-time engineering cost. Every input is explicit and returned
 * with the result; none is a measurement of ours except the reuse the caller passes in.
 */
import { InvalidInputError } from '../runtime/errors';
import { loadPrefillTable, projectCost, type CostInputs, type CostProjection } from './cost';

/** What {@link projectRoi} needs: the cost projection's inputs, the monthly volume and what the store and its adoption cost. */
export interface RoiInputs extends CostInputs {
  /** Prompt tokens the deployment prefills in a month (all requests, cached or not). */
  promptTokensPerMonth: number;
  /** Store nodes billed (masters and replicas), e.g. `masters × (1 + replicasPerMaster)` from `sizeRedis()`. */
  storeNodes: number;
  /** Price of one store node for a month, in dollars — an input you choose (your provider's price list). */
  dollarsPerNodeMonth: number;
  /**
   * One-time cost of adopting the cache (engineering, testing, rollout), in dollars.
   * @default 0
   */
  engineeringDollars?: number;
}

/** The defaults of {@link RoiInputs}: no one-time cost (set yours). */
export const DEFAULT_ROI_INPUTS = { engineeringDollars: 0 } as const;

/** What {@link projectRoi} returns: its inputs, the cost projection and the monthly money. */
export interface RoiProjection {
  inputs: Required<RoiInputs>;
  /** The per-million-token projection the monthly figures scale. */
  cost: CostProjection;
  /** GPU dollars a month spent on prefill without the cache. */
  gpuDollarsPerMonthNoCache: number;
  /** GPU dollars a month spent on prefill with it (the cheaper of loading and recomputing, per `projectCost`). */
  gpuDollarsPerMonthWithCache: number;
  gpuSavingPerMonth: number;
  /** storeNodes × dollarsPerNodeMonth. */
  storeDollarsPerMonth: number;
  /** gpuSavingPerMonth − storeDollarsPerMonth: negative when the store costs more than it saves. */
  netSavingPerMonth: number;
  /** Months until the net saving repays the one-time cost; `null` when the net saving is not positive (never). */
  breakEvenMonths: number | null;
  /** 12 × netSavingPerMonth − engineeringDollars. */
  firstYearNet: number;
}

/**
 * Months until a monthly net saving repays a one-time cost: `oneTime / netPerMonth`, 0 when there is
 * nothing to repay, `null` when the net saving is zero or negative (it never pays back).
 */
export function paybackMonths(oneTimeDollars: number, netSavingPerMonth: number): number | null {
  if (typeof oneTimeDollars !== 'number' || !(oneTimeDollars >= 0) || !Number.isFinite(oneTimeDollars)) throw InvalidInputError.at('oneTimeDollars', 'a finite number ≥ 0', oneTimeDollars);
  if (typeof netSavingPerMonth !== 'number' || !Number.isFinite(netSavingPerMonth)) throw InvalidInputError.at('netSavingPerMonth', 'a finite number', netSavingPerMonth);
  if (netSavingPerMonth <= 0) return null;
  return oneTimeDollars / netSavingPerMonth;
}

function checkRoiInputs(i: RoiInputs): Required<RoiInputs> {
  const nonNegative = (name: string, v: unknown, integer = false): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isInteger(v))) {
      throw InvalidInputError.at(`inputs.${name}`, integer ? 'a whole number ≥ 0' : 'a finite number ≥ 0', v);
    }
  };
  nonNegative('promptTokensPerMonth', i.promptTokensPerMonth);
  nonNegative('storeNodes', i.storeNodes, true);
  nonNegative('dollarsPerNodeMonth', i.dollarsPerNodeMonth);
  const full = { ...DEFAULT_ROI_INPUTS, ...i };
  nonNegative('engineeringDollars', full.engineeringDollars);
  return full as Required<RoiInputs>;
}

/**
 * Monthly GPU saving, store cost, net saving and months to break even. The GPU figures count prefill
 * only, at the measured speed of one H100 per `projectCost`; they turn into money only if the freed
 * GPU time is used (fewer GPUs, or more traffic on the same ones).
 */
export function projectRoi(inputs: RoiInputs, table = loadPrefillTable().rows): RoiProjection {
  const i = checkRoiInputs(inputs);
  const { promptTokensPerMonth, storeNodes, dollarsPerNodeMonth, engineeringDollars, ...costInputs } = i;
  const cost = projectCost(costInputs, table);
  const millions = promptTokensPerMonth / 1e6;
  const noCache = cost.dollarsPerMillionNoCache * millions;
  const withCache = cost.dollarsPerMillionWithCache * millions;
  const store = storeNodes * dollarsPerNodeMonth;
  const net = noCache - withCache - store;
  return {
    inputs: i,
    cost,
    gpuDollarsPerMonthNoCache: noCache,
    gpuDollarsPerMonthWithCache: withCache,
    gpuSavingPerMonth: noCache - withCache,
    storeDollarsPerMonth: store,
    netSavingPerMonth: net,
    breakEvenMonths: paybackMonths(engineeringDollars, net),
    firstYearNet: 12 * net - engineeringDollars,
  };
}

/**
 * The monthly prompt-token volume at which the GPU saving equals the store's monthly cost: below it
 * the cache costs more than it saves, whatever the engineering cost. `null` when the cache saves
 * nothing per token (e.g. the store is slower than recomputing).
 */
export function breakEvenTokensPerMonth(cost: CostProjection, storeDollarsPerMonth: number): number | null {
  const savedPerMillion = cost.dollarsPerMillionNoCache - cost.dollarsPerMillionWithCache;
  if (!(savedPerMillion > 0)) return null;
  return (storeDollarsPerMonth / savedPerMillion) * 1e6;
}
