/**
 * How far a decoded KV block is from a reference: error statistics per tensor kind and overall.
 * Pure arithmetic on the arrays; greedy-decoding agreement with the real model is measured in the
 * notebooks, which own the model.
 */
import { InvalidInputError } from '../runtime';
import { type KVBlockData, tensorElements, validateBlock } from './types';

/** Error statistics of `b` against the reference `a`. */
export interface KVErrorStats {
  /** Values compared. */
  count: number;
  /** max |a − b| over finite pairs. */
  maxAbsError: number;
  /** mean |a − b| over finite pairs. */
  meanAbsError: number;
  /** sqrt(mean (a − b)²). */
  rmse: number;
  /** sqrt(mean a²): the reference's magnitude, to put the errors in scale. */
  refRms: number;
  /** rmse / refRms (0 when both are 0). */
  relRmse: number;
  /** Signal-to-quantization-noise ratio, 10·log10(Σa² / Σ(a − b)²) in dB (Infinity when exact). */
  sqnrDb: number;
  /** Cosine similarity of a and b as flat vectors (1 when identical; NaN if one is all zeros). */
  cosine: number;
  /** Positions where exactly one side is non-finite, or both are but differ (NaN vs ∞, +∞ vs −∞). */
  nonFiniteMismatches: number;
  /** Positions where both sides are the same non-finite value (excluded from the error sums). */
  nonFiniteMatches: number;
}

/** What {@link compareKV} returns: error statistics over the whole block, for K and V apart, and per layer. */
export interface KVComparison extends KVErrorStats {
  k: KVErrorStats;
  v: KVErrorStats;
  /** Per layer: K and V statistics. */
  layers: { k: KVErrorStats; v: KVErrorStats }[];
}

class Acc {
  count = 0;
  finite = 0;
  maxAbs = 0;
  sumAbs = 0;
  sumSq = 0;
  refSq = 0;
  otherSq = 0;
  dot = 0;
  mismatches = 0;
  matches = 0;

  add(a: Float32Array, b: Float32Array): void {
    this.count += a.length;
    let finite = 0;
    let maxAbs = this.maxAbs;
    let sumAbs = 0;
    let sumSq = 0;
    let refSq = 0;
    let otherSq = 0;
    let dot = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i]!;
      const y = b[i]!;
      const d = x - y;
      // d − d is 0 only when d is finite, i.e. both x and y are finite.
      if (d - d === 0) {
        const ad = d < 0 ? -d : d;
        if (ad > maxAbs) maxAbs = ad;
        sumAbs += ad;
        sumSq += d * d;
        refSq += x * x;
        otherSq += y * y;
        dot += x * y;
        finite++;
      } else if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) {
        this.matches++;
      } else {
        this.mismatches++;
      }
    }
    this.finite += finite;
    this.maxAbs = maxAbs;
    this.sumAbs += sumAbs;
    this.sumSq += sumSq;
    this.refSq += refSq;
    this.otherSq += otherSq;
    this.dot += dot;
  }

  merge(o: Acc): void {
    this.count += o.count;
    this.finite += o.finite;
    this.maxAbs = Math.max(this.maxAbs, o.maxAbs);
    this.sumAbs += o.sumAbs;
    this.sumSq += o.sumSq;
    this.refSq += o.refSq;
    this.otherSq += o.otherSq;
    this.dot += o.dot;
    this.mismatches += o.mismatches;
    this.matches += o.matches;
  }

  stats(): KVErrorStats {
    const n = Math.max(1, this.finite);
    const rmse = Math.sqrt(this.sumSq / n);
    const refRms = Math.sqrt(this.refSq / n);
    return {
      count: this.count,
      maxAbsError: this.maxAbs,
      meanAbsError: this.sumAbs / n,
      rmse,
      refRms,
      relRmse: refRms > 0 ? rmse / refRms : rmse > 0 ? Infinity : 0,
      sqnrDb: this.sumSq === 0 ? Infinity : 10 * Math.log10(this.refSq / this.sumSq),
      cosine: this.dot / Math.sqrt(this.refSq * this.otherSq),
      nonFiniteMismatches: this.mismatches,
      nonFiniteMatches: this.matches,
    };
  }
}

/**
 * Compare block `b` (e.g. decoded) with the reference `a` (e.g. the fp32 original).
 * @throws InvalidInputError when the shapes differ.
 */
export function compareKV(a: KVBlockData, b: KVBlockData): KVComparison {
  validateBlock(a, 'a');
  validateBlock(b, 'b');
  if (a.layers !== b.layers || tensorElements(a) !== tensorElements(b) || a.kvHeads !== b.kvHeads || a.tokens !== b.tokens || a.headDim !== b.headDim) {
    throw new InvalidInputError({
      path: 'b',
      expected: `the shape of a: ${a.layers}×[${a.kvHeads}, ${a.tokens}, ${a.headDim}]`,
      received: `${b.layers}×[${b.kvHeads}, ${b.tokens}, ${b.headDim}]`,
    });
  }
  const all = new Acc();
  const k = new Acc();
  const v = new Acc();
  const layers: KVComparison['layers'] = [];
  for (let l = 0; l < a.layers; l++) {
    const lk = new Acc();
    const lv = new Acc();
    lk.add(a.k[l]!, b.k[l]!);
    lv.add(a.v[l]!, b.v[l]!);
    k.merge(lk);
    v.merge(lv);
    layers.push({ k: lk.stats(), v: lv.stats() });
  }
  all.merge(k);
  all.merge(v);
  return { ...all.stats(), k: k.stats(), v: v.stats(), layers };
}
