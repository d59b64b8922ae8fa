;; SIMD dot products of a float32 query with rows encoded as float32, float16 or int8, for the
;; rescoring half of the Matryoshka funnel (src/retrieval/simd-dot.ts copies the shortlisted rows
;; into this module's memory and calls score_*). Built into dot-kernels.wasm.ts by
;; `npm run build:wasm`; test/retrieval/simd-dot.test.ts fails when the two drift.
;;
;; score_X(q, rows, count, stride, n, out): for k < count, out[k] = sum_i<n q[i] * row_k[i], where
;; row_k starts at rows + k * stride bytes and q is n float32 values. Sums run in four float32 lanes
;; twice over (eight at a time), then a scalar tail.
(module
  (import "env" "memory" (memory 1))

  ;; A float16 value as float32, exactly (zero and subnormals included; every finite half is
  ;; representable): sign to bit 31; exponent and mantissa shifted up by 13 with the exponent rebased
  ;; (+112 << 23); below 0x400 (zero, subnormals) the magnitude bits times 2^-24. No Inf/NaN handling:
  ;; rows are finite. $dot_f16 does the same four lanes at a time, inline (V8 does not inline calls).
  (func $half1 (param $h i32) (result f32)
    (local $em i32)
    (local.set $em (i32.and (local.get $h) (i32.const 0x7fff)))
    (f32.reinterpret_i32
      (i32.or
        (i32.shl (i32.and (local.get $h) (i32.const 0x8000)) (i32.const 16))
        (if (result i32) (i32.lt_u (local.get $em) (i32.const 0x400))
          (then (i32.reinterpret_f32 (f32.mul (f32.convert_i32_s (local.get $em)) (f32.const 0x1p-24))))
          (else (i32.add (i32.shl (local.get $em) (i32.const 13)) (i32.const 0x38000000)))))))

  (func $hsum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  (func $dot_f32 (param $q i32) (param $r i32) (param $n i32) (result f32)
    (local $i i32) (local $a0 v128) (local $a1 v128) (local $s f32) (local $qi i32) (local $ri i32)
    (block $done
      (loop $eight
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (local.set $qi (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $ri (i32.add (local.get $r) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $qi)) (v128.load (local.get $ri)))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $qi)) (v128.load offset=16 (local.get $ri)))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $eight)))
    (local.set $s (call $hsum (f32x4.add (local.get $a0) (local.get $a1))))
    (block $end
      (loop $one
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.load (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2))))
                   (f32.load (i32.add (local.get $r) (i32.shl (local.get $i) (i32.const 2)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $one)))
    (local.get $s))

  (func $dot_f16 (param $q i32) (param $r i32) (param $n i32) (result f32)
    (local $i i32) (local $a0 v128) (local $a1 v128) (local $h v128) (local $w v128) (local $em v128) (local $s f32) (local $qi i32)
    (block $done
      (loop $eight
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (local.set $qi (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $h (v128.load (i32.add (local.get $r) (i32.shl (local.get $i) (i32.const 1)))))
        ;; the low four of the eight halves, decoded as $half1 does (signed conversion and compare: the
        ;; magnitude bits are < 2^15, and SSE has no unsigned ones, which V8 emulates slowly)
        (local.set $w (i32x4.extend_low_i16x8_u (local.get $h)))
        (local.set $em (v128.and (local.get $w) (i32x4.splat (i32.const 0x7fff))))
        (local.set $w
          (v128.or
            (i32x4.shl (v128.and (local.get $w) (i32x4.splat (i32.const 0x8000))) (i32.const 16))
            (v128.bitselect
              (f32x4.mul (f32x4.convert_i32x4_s (local.get $em)) (f32x4.splat (f32.const 0x1p-24)))
              (i32x4.add (i32x4.shl (local.get $em) (i32.const 13)) (i32x4.splat (i32.const 0x38000000)))
              (i32x4.lt_s (local.get $em) (i32x4.splat (i32.const 0x400))))))
        (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load (local.get $qi)) (local.get $w))))
        ;; the high four, the same way
        (local.set $w (i32x4.extend_high_i16x8_u (local.get $h)))
        (local.set $em (v128.and (local.get $w) (i32x4.splat (i32.const 0x7fff))))
        (local.set $w
          (v128.or
            (i32x4.shl (v128.and (local.get $w) (i32x4.splat (i32.const 0x8000))) (i32.const 16))
            (v128.bitselect
              (f32x4.mul (f32x4.convert_i32x4_s (local.get $em)) (f32x4.splat (f32.const 0x1p-24)))
              (i32x4.add (i32x4.shl (local.get $em) (i32.const 13)) (i32x4.splat (i32.const 0x38000000)))
              (i32x4.lt_s (local.get $em) (i32x4.splat (i32.const 0x400))))))
        (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (v128.load offset=16 (local.get $qi)) (local.get $w))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $eight)))
    (local.set $s (call $hsum (f32x4.add (local.get $a0) (local.get $a1))))
    (block $end
      (loop $one
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.load (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2))))
                   (call $half1 (i32.load16_u (i32.add (local.get $r) (i32.shl (local.get $i) (i32.const 1))))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $one)))
    (local.get $s))

  (func $dot_i8 (param $q i32) (param $r i32) (param $n i32) (result f32)
    (local $i i32) (local $a0 v128) (local $a1 v128) (local $c v128) (local $s f32) (local $qi i32)
    (block $done
      (loop $eight
        (br_if $done (i32.gt_u (i32.add (local.get $i) (i32.const 8)) (local.get $n)))
        (local.set $qi (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2))))
        (local.set $c (v128.load8x8_s (i32.add (local.get $r) (local.get $i))))
        (local.set $a0 (f32x4.add (local.get $a0)
          (f32x4.mul (v128.load (local.get $qi)) (f32x4.convert_i32x4_s (i32x4.extend_low_i16x8_s (local.get $c))))))
        (local.set $a1 (f32x4.add (local.get $a1)
          (f32x4.mul (v128.load offset=16 (local.get $qi)) (f32x4.convert_i32x4_s (i32x4.extend_high_i16x8_s (local.get $c))))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $eight)))
    (local.set $s (call $hsum (f32x4.add (local.get $a0) (local.get $a1))))
    (block $end
      (loop $one
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (f32.add (local.get $s)
          (f32.mul (f32.load (i32.add (local.get $q) (i32.shl (local.get $i) (i32.const 2))))
                   (f32.convert_i32_s (i32.load8_s (i32.add (local.get $r) (local.get $i)))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $one)))
    (local.get $s))

  (func (export "score_f32") (param $q i32) (param $rows i32) (param $count i32) (param $stride i32) (param $n i32) (param $out i32)
    (local $k i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (call $dot_f32 (local.get $q) (i32.add (local.get $rows) (i32.mul (local.get $k) (local.get $stride))) (local.get $n)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $row))))

  (func (export "score_f16") (param $q i32) (param $rows i32) (param $count i32) (param $stride i32) (param $n i32) (param $out i32)
    (local $k i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (call $dot_f16 (local.get $q) (i32.add (local.get $rows) (i32.mul (local.get $k) (local.get $stride))) (local.get $n)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $row))))

  (func (export "score_i8") (param $q i32) (param $rows i32) (param $count i32) (param $stride i32) (param $n i32) (param $out i32)
    (local $k i32)
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $k) (local.get $count)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $k) (i32.const 2)))
          (call $dot_i8 (local.get $q) (i32.add (local.get $rows) (i32.mul (local.get $k) (local.get $stride))) (local.get $n)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $row)))))
