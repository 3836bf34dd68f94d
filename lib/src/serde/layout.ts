/**
 * Where everything sits in an encoded payload (before any codec). Layers in order; within a
 * layer K then V; each tensor is self-contained:
 *   fp32 / fp16 / bf16:  values, [kvHeads, tokens, headDim] order, 4 / 2 / 2 bytes each
 *   int8:                scales (fp32, one per group) · codes (int8, one per value)
 *   kivi4 / kivi2:       scales · mins (fp16 or fp32, one each per group) · packed codes
 * See docs/format.md for the full byte-by-byte description.
 */
import { groupsPerRow } from './int8';
import { keyGroupCount, packedBytes, valueGroupCount } from './lowbit';
import { codeBits, type KVDtype, type KVShape, isQuantized, tensorElements } from './types';

/** Precision of stored scales: none (float dtypes), fp32, or fp16. */
export type ScaleDtype = 'none' | 'fp32' | 'fp16';

/** Ids of {@link ScaleDtype} in the header (byte 28). */
export const SCALE_DTYPE_IDS: Readonly<Record<ScaleDtype, number>> = { none: 0, fp32: 1, fp16: 2 };

export function scaleDtypeFromId(id: number): ScaleDtype | undefined {
  return (Object.keys(SCALE_DTYPE_IDS) as ScaleDtype[]).find((s) => SCALE_DTYPE_IDS[s] === id);
}

/** Byte layout of one tensor (one layer's K or V). */
export interface TensorLayout {
  /** Values in the tensor. */
  elements: number;
  /** (scale[, min]) groups; 0 for float dtypes. */
  groups: number;
  /** Bytes of the scales section (0 for float dtypes). */
  scaleBytes: number;
  /** Bytes of the mins section (kivi only). */
  minBytes: number;
  /** Bytes of the values / codes section. */
  codeBytes: number;
  /** Total bytes. */
  bytes: number;
}

export function tensorLayout(shape: KVShape, dtype: KVDtype, kind: 'k' | 'v', groupSize: number, scaleDtype: ScaleDtype): TensorLayout {
  const elements = tensorElements(shape);
  if (!isQuantized(dtype)) {
    const codeBytes = elements * (dtype === 'fp32' ? 4 : 2);
    return { elements, groups: 0, scaleBytes: 0, minBytes: 0, codeBytes, bytes: codeBytes };
  }
  const sb = scaleDtype === 'fp16' ? 2 : 4;
  if (dtype === 'int8') {
    const groups = shape.kvHeads * shape.tokens * groupsPerRow(shape.headDim, groupSize);
    return { elements, groups, scaleBytes: groups * sb, minBytes: 0, codeBytes: elements, bytes: groups * sb + elements };
  }
  const groups =
    kind === 'k'
      ? keyGroupCount(shape.kvHeads, shape.tokens, shape.headDim, groupSize)
      : valueGroupCount(shape.kvHeads, shape.tokens, shape.headDim, groupSize);
  const codeBytes = packedBytes(elements, codeBits(dtype));
  return { elements, groups, scaleBytes: groups * sb, minBytes: groups * sb, codeBytes, bytes: 2 * groups * sb + codeBytes };
}

/** Bytes of the whole encoded payload (all layers, K and V), before any codec. */
export function payloadBytes(shape: KVShape, dtype: KVDtype, groupSize: number, scaleDtype: ScaleDtype): number {
  return shape.layers * (tensorLayout(shape, dtype, 'k', groupSize, scaleDtype).bytes + tensorLayout(shape, dtype, 'v', groupSize, scaleDtype).bytes);
}
