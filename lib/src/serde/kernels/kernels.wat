;; Hot loops of the serde layer in WebAssembly (SIMD for the conversions, scalar i64 for XXH64).
;; Source of kernels-wasm.ts: edit here, then `npm run build:wasm`; a test fails if the two differ.
;;
;; The functions work on byte offsets into the module's own memory; kernels.ts copies data in and
;; out in chunks that stay in the L2 cache. Callers pass whole groups (8 values, 32-byte stripes);
;; tails are finished in JavaScript.
(module
  (memory (export "memory") 16)

  ;; fp16 → fp32, 8 values per iteration, bit-exact for every input (F. Giesen's "half to float"
  ;; without branches): the 15 exponent+mantissa bits, shifted into fp32 position, are an fp32
  ;; whose value is the half's value × 2^-112 (normals and subnormals alike), so one multiply by
  ;; 2^112 finishes them; Inf/NaN (exponent 31) get the all-ones exponent ORed in, keeping the
  ;; payload; the sign is moved up 16 bits.
  ;; (Written out for both halves of the vector: V8 on Node 20 does not inline wasm calls. The
  ;; constants are locals set before the loop, as in the encoders below: Node 24 ran it 2× slower
  ;; with them inline.)
  (func (export "fp16_to_fp32") (param $src i32) (param $dst i32) (param $groups i32)
    (local $v v128) (local $h v128) (local $em v128) (local $end i32)
    (local $mag v128) (local $up v128) (local $maxfin v128) (local $inf v128)
    (local.set $mag (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff))
    (local.set $up (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000))
    (local.set $maxfin (v128.const i32x4 0x7bff 0x7bff 0x7bff 0x7bff))
    (local.set $inf (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $groups) (i32.const 4))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $v (v128.load (local.get $src)))
        (local.set $h (i32x4.extend_low_i16x8_u (local.get $v)))
        (local.set $em (v128.and (local.get $h) (local.get $mag)))
        (v128.store (local.get $dst)
          (v128.or
            (v128.or
              (f32x4.mul
                (i32x4.shl (local.get $em) (i32.const 13))
                (local.get $up)) ;; 2^112
              (v128.and
                (i32x4.gt_s (local.get $em) (local.get $maxfin))
                (local.get $inf)))
            (i32x4.shl (v128.xor (local.get $h) (local.get $em)) (i32.const 16))))
        (local.set $h (i32x4.extend_high_i16x8_u (local.get $v)))
        (local.set $em (v128.and (local.get $h) (local.get $mag)))
        (v128.store offset=16 (local.get $dst)
          (v128.or
            (v128.or
              (f32x4.mul
                (i32x4.shl (local.get $em) (i32.const 13))
                (local.get $up)) ;; 2^112
              (v128.and
                (i32x4.gt_s (local.get $em) (local.get $maxfin))
                (local.get $inf)))
            (i32x4.shl (v128.xor (local.get $h) (local.get $em)) (i32.const 16))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end))))))

  ;; bf16 → fp32, 8 values per iteration: each 16-bit value becomes the high half of a 32-bit lane
  ;; (one byte shuffle against zeros per 4 values).
  (func (export "bf16_to_fp32") (param $src i32) (param $dst i32) (param $groups i32)
    (local $v v128) (local $end i32) (local $zero v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $groups) (i32.const 4))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $v (v128.load (local.get $src)))
        (v128.store (local.get $dst)
          (i8x16.shuffle 16 16 0 1 16 16 2 3 16 16 4 5 16 16 6 7 (local.get $v) (local.get $zero)))
        (v128.store offset=16 (local.get $dst)
          (i8x16.shuffle 16 16 8 9 16 16 10 11 16 16 12 13 16 16 14 15 (local.get $v) (local.get $zero)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end))))))

  ;; fp32 → fp16, 8 values per iteration, bit-identical to fp16BitsFromFp32Bits (fp16.ts) for every
  ;; input, without branches. The FPU does the rounding: with m = 2^(e+13) for |x| in [2^e, 2^(e+1))
  ;; (e clamped to ≥ -14), |x| + m keeps 11 significant bits of |x| (1 + 10 stored), rounded to
  ;; nearest even, and for |x| < 2^-14 the fp16 subnormal step 2^-24; (|x| + m) − m is that rounded
  ;; value ρ, exactly. ρ · 2^-112 is exact too and is an fp32 whose bits >> 13 are ρ's fp16 bits, for
  ;; normals and subnormals alike (the inverse of fp16_to_fp32's × 2^112); |x| from 65520 up to 2^16
  ;; rounds to 2^16, whose bits give 0x7C00, Infinity.
  ;;
  ;; Two kernels. fp32_to_fp16 is the one that runs on real data: it leaves out what only larger
  ;; values need (the cap at Infinity, NaN payloads; 23 vector operations per 8 values instead of
  ;; 39) and returns 1 when some result came out above 0x7C00, which happens exactly when an input
  ;; was above 2^16 once rounded, ±Inf or NaN (a NaN ρ, and a magic m that overflows for huge |x|,
  ;; land above 0x7C00 too); the caller then reruns fp32_to_fp16_full on that chunk, which handles
  ;; every input. The sign is put back on the 16-bit lanes.
  ;; (Written out for both halves of the 8: V8 on Node 20 does not inline wasm calls. Constants sit
  ;; in locals set before the loop: Node 24's V8 rebuilds a v128.const inside a loop on every
  ;; iteration, which made these loops 2–3× slower there.)
  (func (export "fp32_to_fp16") (param $src i32) (param $dst i32) (param $groups i32) (result i32)
    (local $x0 v128) (local $a0 v128) (local $m0 v128) (local $x1 v128) (local $a1 v128) (local $m1 v128) (local $h v128) (local $acc v128) (local $end i32)
    (local $abs v128) (local $exp v128) (local $emin v128) (local $m13 v128) (local $down v128) (local $sign16 v128)
    (local.set $abs (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
    (local.set $exp (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
    (local.set $emin (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))
    (local.set $m13 (v128.const i32x4 0x06800000 0x06800000 0x06800000 0x06800000))
    (local.set $down (v128.const i32x4 0x07800000 0x07800000 0x07800000 0x07800000))
    (local.set $sign16 (v128.const i16x8 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000 0x8000))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $groups) (i32.const 5))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $x0 (v128.load (local.get $src)))
        (local.set $a0 (v128.and (local.get $x0) (local.get $abs)))
        (local.set $m0 (i32x4.add (i32x4.max_u (v128.and (local.get $a0) (local.get $exp)) (local.get $emin)) (local.get $m13)))
        (local.set $x1 (v128.load offset=16 (local.get $src)))
        (local.set $a1 (v128.and (local.get $x1) (local.get $abs)))
        (local.set $m1 (i32x4.add (i32x4.max_u (v128.and (local.get $a1) (local.get $exp)) (local.get $emin)) (local.get $m13)))
        (local.set $h (i16x8.narrow_i32x4_u
          (i32x4.shr_u
            (f32x4.mul
              (f32x4.sub (f32x4.add (local.get $a0) (local.get $m0)) (local.get $m0))
              (local.get $down)) ;; 2^-112
            (i32.const 13))
          (i32x4.shr_u
            (f32x4.mul
              (f32x4.sub (f32x4.add (local.get $a1) (local.get $m1)) (local.get $m1))
              (local.get $down)) ;; 2^-112
            (i32.const 13))))
        (local.set $acc (i16x8.max_u (local.get $acc) (local.get $h)))
        ;; the sign: the high halves of the inputs (exact in the signed narrowing), bit 15 kept
        (v128.store (local.get $dst)
          (v128.or (local.get $h)
            (v128.and
              (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $x0) (i32.const 16)) (i32x4.shr_s (local.get $x1) (i32.const 16)))
              (local.get $sign16))))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end)))))
    (v128.any_true (i16x8.gt_u (local.get $acc) (v128.const i16x8 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00 0x7c00))))

  ;; fp32 → fp16 for every input: fp32_to_fp16 plus the cap at 0x7C00 (finite overflow and ±Inf;
  ;; NaN and m's overflow land above it too) and NaN as sign | 0x7E00 | the top 10 payload bits.
  (func (export "fp32_to_fp16_full") (param $src i32) (param $dst i32) (param $groups i32)
    (local $x0 v128) (local $a0 v128) (local $m0 v128) (local $x1 v128) (local $a1 v128) (local $m1 v128) (local $end i32)
    (local $abs v128) (local $exp v128) (local $emin v128) (local $m13 v128) (local $down v128) (local $inf v128) (local $pay v128) (local $quiet v128)
    (local.set $abs (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
    (local.set $exp (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
    (local.set $emin (v128.const i32x4 0x38800000 0x38800000 0x38800000 0x38800000))
    (local.set $m13 (v128.const i32x4 0x06800000 0x06800000 0x06800000 0x06800000))
    (local.set $down (v128.const i32x4 0x07800000 0x07800000 0x07800000 0x07800000))
    (local.set $inf (v128.const i32x4 0x7c00 0x7c00 0x7c00 0x7c00))
    (local.set $pay (v128.const i32x4 0x3ff 0x3ff 0x3ff 0x3ff))
    (local.set $quiet (v128.const i32x4 0x200 0x200 0x200 0x200))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $groups) (i32.const 5))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $x0 (v128.load (local.get $src)))
        (local.set $a0 (v128.and (local.get $x0) (local.get $abs)))
        (local.set $m0 (i32x4.add (i32x4.max_u (v128.and (local.get $a0) (local.get $exp)) (local.get $emin)) (local.get $m13)))
        (local.set $x1 (v128.load offset=16 (local.get $src)))
        (local.set $a1 (v128.and (local.get $x1) (local.get $abs)))
        (local.set $m1 (i32x4.add (i32x4.max_u (v128.and (local.get $a1) (local.get $exp)) (local.get $emin)) (local.get $m13)))
        (v128.store (local.get $dst)
          (i16x8.narrow_i32x4_u
            (v128.or
              (v128.or
                (i32x4.min_u
                  (i32x4.shr_u
                    (f32x4.mul
                      (f32x4.sub (f32x4.add (local.get $a0) (local.get $m0)) (local.get $m0))
                      (local.get $down)) ;; 2^-112
                    (i32.const 13))
                  (local.get $inf))
                (v128.and
                  (i32x4.gt_s (local.get $a0) (local.get $exp))
                  (v128.or (v128.and (i32x4.shr_u (local.get $a0) (i32.const 13)) (local.get $pay)) (local.get $quiet))))
              (i32x4.shr_u (v128.xor (local.get $x0) (local.get $a0)) (i32.const 16)))
            (v128.or
              (v128.or
                (i32x4.min_u
                  (i32x4.shr_u
                    (f32x4.mul
                      (f32x4.sub (f32x4.add (local.get $a1) (local.get $m1)) (local.get $m1))
                      (local.get $down)) ;; 2^-112
                    (i32.const 13))
                  (local.get $inf))
                (v128.and
                  (i32x4.gt_s (local.get $a1) (local.get $exp))
                  (v128.or (v128.and (i32x4.shr_u (local.get $a1) (i32.const 13)) (local.get $pay)) (local.get $quiet))))
              (i32x4.shr_u (v128.xor (local.get $x1) (local.get $a1)) (i32.const 16)))))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end))))))

  ;; fp32 → bf16, 8 values per iteration, bit-identical to bf16BitsFromFp32Bits (bf16.ts): add
  ;; 0x7FFF plus the kept LSB (a carry into bit 16 is exactly RNE's round-up; for non-NaN input the
  ;; sum cannot wrap), keep the high half. Every lane ends in [0, 0xFFFF], so the unsigned narrowing
  ;; packs without saturating. As for fp16, NaN is left to a second kernel: fp32_to_bf16 returns 1
  ;; when some input was ±Inf or NaN, and the caller reruns fp32_to_bf16_full on that chunk.
  (func (export "fp32_to_bf16") (param $src i32) (param $dst i32) (param $groups i32) (result i32)
    (local $x0 v128) (local $x1 v128) (local $t0 v128) (local $t1 v128) (local $acc v128) (local $end i32)
    (local $r v128) (local $one v128) (local $r16 v128)
    (local.set $r (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff))
    (local.set $one (v128.const i32x4 1 1 1 1))
    (local.set $r16 (v128.const i16x8 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff 0x7fff))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $groups) (i32.const 5))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $x0 (v128.load (local.get $src)))
        (local.set $x1 (v128.load offset=16 (local.get $src)))
        (local.set $t0 (i32x4.shr_u (local.get $x0) (i32.const 16)))
        (local.set $t1 (i32x4.shr_u (local.get $x1) (i32.const 16)))
        (v128.store (local.get $dst)
          (i16x8.narrow_i32x4_u
            (i32x4.shr_u
              (i32x4.add (i32x4.add (local.get $x0) (local.get $r)) (v128.and (local.get $t0) (local.get $one)))
              (i32.const 16))
            (i32x4.shr_u
              (i32x4.add (i32x4.add (local.get $x1) (local.get $r)) (v128.and (local.get $t1) (local.get $one)))
              (i32.const 16))))
        ;; |x|'s high half: 0x7F80 or more for ±Inf and NaN
        (local.set $acc (i16x8.max_u (local.get $acc) (v128.and (i16x8.narrow_i32x4_u (local.get $t0) (local.get $t1)) (local.get $r16))))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end)))))
    (v128.any_true (i16x8.gt_u (local.get $acc) (v128.const i16x8 0x7f7f 0x7f7f 0x7f7f 0x7f7f 0x7f7f 0x7f7f 0x7f7f 0x7f7f))))

  ;; fp32 → bf16 for every input: NaN lanes take the high half with the quiet bit (0x40) set.
  (func (export "fp32_to_bf16_full") (param $src i32) (param $dst i32) (param $groups i32)
    (local $x0 v128) (local $x1 v128) (local $end i32)
    (local $bquiet v128) (local $r v128) (local $one v128) (local $abs v128) (local $exp v128)
    (local.set $bquiet (v128.const i32x4 0x40 0x40 0x40 0x40))
    (local.set $r (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff))
    (local.set $one (v128.const i32x4 1 1 1 1))
    (local.set $abs (v128.const i32x4 0x7fffffff 0x7fffffff 0x7fffffff 0x7fffffff))
    (local.set $exp (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $groups) (i32.const 5))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $x0 (v128.load (local.get $src)))
        (local.set $x1 (v128.load offset=16 (local.get $src)))
        (v128.store (local.get $dst)
          (i16x8.narrow_i32x4_u
            (v128.bitselect
              (v128.or (i32x4.shr_u (local.get $x0) (i32.const 16)) (local.get $bquiet))
              (i32x4.shr_u
                (i32x4.add (i32x4.add (local.get $x0) (local.get $r)) (v128.and (i32x4.shr_u (local.get $x0) (i32.const 16)) (local.get $one)))
                (i32.const 16))
              (i32x4.gt_s (v128.and (local.get $x0) (local.get $abs)) (local.get $exp)))
            (v128.bitselect
              (v128.or (i32x4.shr_u (local.get $x1) (i32.const 16)) (local.get $bquiet))
              (i32x4.shr_u
                (i32x4.add (i32x4.add (local.get $x1) (local.get $r)) (v128.and (i32x4.shr_u (local.get $x1) (i32.const 16)) (local.get $one)))
                (i32.const 16))
              (i32x4.gt_s (v128.and (local.get $x1) (local.get $abs)) (local.get $exp)))))
        (local.set $src (i32.add (local.get $src) (i32.const 32)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end))))))

  ;; XXH64 (xxhash.com spec, XXH64 of version 0.8), split so JavaScript can feed large inputs in
  ;; chunks: the four lane accumulators live at $st (32 bytes).
  (func $round (param $acc i64) (param $lane i64) (result i64)
    (i64.mul
      (i64.rotl (i64.add (local.get $acc) (i64.mul (local.get $lane) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31))
      (i64.const 0x9E3779B185EBCA87)))

  (func $merge (param $h i64) (param $v i64) (result i64)
    (i64.add
      (i64.mul (i64.xor (local.get $h) (call $round (i64.const 0) (local.get $v))) (i64.const 0x9E3779B185EBCA87))
      (i64.const 0x85EBCA77C2B2AE63)))

  (func (export "xxh64_init") (param $st i32) (param $seed i64)
    (i64.store (local.get $st) (i64.add (local.get $seed) (i64.const 0x60EA27EEADC0B5D6))) ;; seed + P1 + P2
    (i64.store offset=8 (local.get $st) (i64.add (local.get $seed) (i64.const 0xC2B2AE3D27D4EB4F)))
    (i64.store offset=16 (local.get $st) (local.get $seed))
    (i64.store offset=24 (local.get $st) (i64.sub (local.get $seed) (i64.const 0x9E3779B185EBCA87))))

  ;; Fold $stripes 32-byte stripes at $p into the accumulators at $st. The round is written out
  ;; in the loop: V8 (Node 20) does not inline wasm calls, and the call made it 10× slower.
  (func (export "xxh64_stripes") (param $st i32) (param $p i32) (param $stripes i32)
    (local $v1 i64) (local $v2 i64) (local $v3 i64) (local $v4 i64) (local $end i32)
    (local.set $v1 (i64.load (local.get $st)))
    (local.set $v2 (i64.load offset=8 (local.get $st)))
    (local.set $v3 (i64.load offset=16 (local.get $st)))
    (local.set $v4 (i64.load offset=24 (local.get $st)))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $stripes) (i32.const 5))))
    (block $done
      (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
      (loop $next
        (local.set $v1
          (i64.mul
            (i64.rotl (i64.add (local.get $v1) (i64.mul (i64.load (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31))
            (i64.const 0x9E3779B185EBCA87)))
        (local.set $v2
          (i64.mul
            (i64.rotl (i64.add (local.get $v2) (i64.mul (i64.load offset=8 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31))
            (i64.const 0x9E3779B185EBCA87)))
        (local.set $v3
          (i64.mul
            (i64.rotl (i64.add (local.get $v3) (i64.mul (i64.load offset=16 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31))
            (i64.const 0x9E3779B185EBCA87)))
        (local.set $v4
          (i64.mul
            (i64.rotl (i64.add (local.get $v4) (i64.mul (i64.load offset=24 (local.get $p)) (i64.const 0xC2B2AE3D27D4EB4F))) (i64.const 31))
            (i64.const 0x9E3779B185EBCA87)))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br_if $next (i32.lt_u (local.get $p) (local.get $end)))))
    (i64.store (local.get $st) (local.get $v1))
    (i64.store offset=8 (local.get $st) (local.get $v2))
    (i64.store offset=16 (local.get $st) (local.get $v3))
    (i64.store offset=24 (local.get $st) (local.get $v4)))

  ;; The digest: $total bytes were hashed in all; the last $tail (< 32) of them are at $p and were
  ;; not folded; $seed matters only when the input was shorter than one stripe.
  (func (export "xxh64_digest") (param $st i32) (param $p i32) (param $tail i32) (param $total i64) (param $seed i64) (result i64)
    (local $h i64) (local $end i32)
    (if (i64.ge_u (local.get $total) (i64.const 32))
      (then
        (local.set $h
          (i64.add
            (i64.add (i64.rotl (i64.load (local.get $st)) (i64.const 1)) (i64.rotl (i64.load offset=8 (local.get $st)) (i64.const 7)))
            (i64.add (i64.rotl (i64.load offset=16 (local.get $st)) (i64.const 12)) (i64.rotl (i64.load offset=24 (local.get $st)) (i64.const 18)))))
        (local.set $h (call $merge (local.get $h) (i64.load (local.get $st))))
        (local.set $h (call $merge (local.get $h) (i64.load offset=8 (local.get $st))))
        (local.set $h (call $merge (local.get $h) (i64.load offset=16 (local.get $st))))
        (local.set $h (call $merge (local.get $h) (i64.load offset=24 (local.get $st)))))
      (else (local.set $h (i64.add (local.get $seed) (i64.const 0x27D4EB2F165667C5)))))
    (local.set $h (i64.add (local.get $h) (local.get $total)))
    (local.set $end (i32.add (local.get $p) (local.get $tail)))
    (block $d8
      (loop $l8
        (br_if $d8 (i32.gt_u (i32.add (local.get $p) (i32.const 8)) (local.get $end)))
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl (i64.xor (local.get $h) (call $round (i64.const 0) (i64.load (local.get $p)))) (i64.const 27))
              (i64.const 0x9E3779B185EBCA87))
            (i64.const 0x85EBCA77C2B2AE63)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (br $l8)))
    (if (i32.le_u (i32.add (local.get $p) (i32.const 4)) (local.get $end))
      (then
        (local.set $h
          (i64.add
            (i64.mul
              (i64.rotl (i64.xor (local.get $h) (i64.mul (i64.load32_u (local.get $p)) (i64.const 0x9E3779B185EBCA87))) (i64.const 23))
              (i64.const 0xC2B2AE3D27D4EB4F))
            (i64.const 0x165667B19E3779F9)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))))
    (block $d1
      (loop $l1
        (br_if $d1 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $h
          (i64.mul
            (i64.rotl (i64.xor (local.get $h) (i64.mul (i64.load8_u (local.get $p)) (i64.const 0x27D4EB2F165667C5))) (i64.const 11))
            (i64.const 0x9E3779B185EBCA87)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l1)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))) (i64.const 0xC2B2AE3D27D4EB4F)))
    (local.set $h (i64.mul (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 29))) (i64.const 0x165667B19E3779F9)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 32))))
)
