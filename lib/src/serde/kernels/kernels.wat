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
  ;; (Written out for both halves of the vector: V8 on Node 20 does not inline wasm calls.)
  (func (export "fp16_to_fp32") (param $src i32) (param $dst i32) (param $groups i32)
    (local $v v128) (local $h v128) (local $em v128) (local $end i32)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $groups) (i32.const 4))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $v (v128.load (local.get $src)))
        (local.set $h (i32x4.extend_low_i16x8_u (local.get $v)))
        (local.set $em (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)))
        (v128.store (local.get $dst)
          (v128.or
            (v128.or
              (f32x4.mul
                (i32x4.shl (local.get $em) (i32.const 13))
                (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000)) ;; 2^112
              (v128.and
                (i32x4.gt_s (local.get $em) (v128.const i32x4 0x7bff 0x7bff 0x7bff 0x7bff))
                (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
            (i32x4.shl (v128.xor (local.get $h) (local.get $em)) (i32.const 16))))
        (local.set $h (i32x4.extend_high_i16x8_u (local.get $v)))
        (local.set $em (v128.and (local.get $h) (v128.const i32x4 0x7fff 0x7fff 0x7fff 0x7fff)))
        (v128.store offset=16 (local.get $dst)
          (v128.or
            (v128.or
              (f32x4.mul
                (i32x4.shl (local.get $em) (i32.const 13))
                (v128.const i32x4 0x77800000 0x77800000 0x77800000 0x77800000)) ;; 2^112
              (v128.and
                (i32x4.gt_s (local.get $em) (v128.const i32x4 0x7bff 0x7bff 0x7bff 0x7bff))
                (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000)))
            (i32x4.shl (v128.xor (local.get $h) (local.get $em)) (i32.const 16))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
        (br_if $next (i32.lt_u (local.get $src) (local.get $end))))))

  ;; bf16 → fp32, 8 values per iteration: each 16-bit value becomes the high half of a 32-bit lane
  ;; (one byte shuffle against zeros per 4 values).
  (func (export "bf16_to_fp32") (param $src i32) (param $dst i32) (param $groups i32)
    (local $v v128) (local $end i32)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $groups) (i32.const 4))))
    (block $done
      (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
      (loop $next
        (local.set $v (v128.load (local.get $src)))
        (v128.store (local.get $dst)
          (i8x16.shuffle 16 16 0 1 16 16 2 3 16 16 4 5 16 16 6 7 (local.get $v) (v128.const i32x4 0 0 0 0)))
        (v128.store offset=16 (local.get $dst)
          (i8x16.shuffle 16 16 8 9 16 16 10 11 16 16 12 13 16 16 14 15 (local.get $v) (v128.const i32x4 0 0 0 0)))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
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
