/**
 * Serialization of KV blocks: a checksummed binary container (docs/format.md), value encodings
 * (fp32, fp16, bf16, int8, KIVI-style 4/2-bit), codecs (none, pako, node:zlib, with or without a
 * byte shuffle), and error statistics for lossy encodings.
 */
export {
  type KVShape,
  type KVBlockData,
  type KVArrays,
  type KVDtype,
  DTYPES,
  DTYPE_IDS,
  isDtype,
  isQuantized,
  validateBlock,
  tensorElements,
} from './types';
export { type KVCodec, CODECS, CODEC_IDS, isCodec } from './codecs';
export {
  FORMAT_VERSION,
  MAGIC,
  HEADER_BYTES,
  DEFAULT_CODEC,
  DEFAULT_GROUP_SIZES,
  type EncodeOptions,
  DEFAULT_ENCODE_OPTIONS,
  type DecodeOptions,
  DEFAULT_DECODE_OPTIONS,
  type KVBlobHeader,
  formatId,
  encodedSize,
  encodeKV,
  decodeKV,
  readKVHeader,
  verifyKV,
} from './container';
export { type ScaleDtype } from './layout';
export { crc32c } from './crc32c';
export { xxh64, xxh64Reference } from './xxh64';
export { hasWasmKernels, useWasmKernels } from './kernels';
export { fp32ToFp16, fp16ToFp32, fp32ToFp16Bits, fp16BitsToFp32, fp16BitsFromFp32Bits, hasNativeFloat16, useNativeFloat16 } from './fp16';
export { fp32ToBf16, bf16ToFp32, fp32ToBf16Bits, bf16BitsToFp32, bf16BitsFromFp32Bits } from './bf16';
export {
  type HalfConversion,
  type HalfPath,
  type HalfPrecisionPaths,
  type PathReport,
  type PathTiming,
  HALF_CONVERSIONS,
  PATH_CALIBRATION,
  halfPrecisionPaths,
  halfPrecisionReport,
  pinHalfPrecisionPath,
} from './half-paths';
export { quantizeInt8, dequantizeInt8 } from './int8';
export { quantizeKeys, dequantizeKeys, quantizeValues, dequantizeValues, packCodes, unpackCodes, type ScaleStorage } from './lowbit';
export { byteShuffle, byteUnshuffle } from './shuffle';
export { releaseScratch } from './scratch';
export type { TokenSpan } from './payload';
export { type KVErrorStats, type KVComparison, compareKV } from './quality';
export { type SyntheticKVOptions, DEFAULT_SYNTHETIC_KV_OPTIONS, syntheticKV } from './synthetic';
