/* Depthwise 3x3 for Cortex-M4/M7/M33 with the DSP extension: one output
 * pixel, every group of 4 channels, fast requantization with the full int8
 * range. The layer's stream (engine/kernels.py) holds, per group of 4
 * channels,
 *     bias c0..c3                                   (4 words, doubled)
 *     9 taps x [(w_c0, w_c2) (w_c1, w_c3)]          (int16 pairs, doubled)
 *     (mult, add, shift) for c0, c1, c2, c3         (12 words)
 *
 * or, with int8 weights (the .tflite's bytes), the 4 biases (not doubled), per
 * tap one word (w_c0, w_c1, w_c2, w_c3), then the records: two more SXTB16
 * per tap, and the accumulator is doubled before requantization.
 *
 * void mm_nn_dw3x3_m4(const int8_t *r0, const int8_t *r1, const int8_t *r2,
 *                     int c, const int32_t *stream, int8_t *out, int32_t zp4);
 * (int8 weights: mm_nn_dw3x3_w8_m4 ...)
 * and mm_nn_dw3x3_left_m4 / mm_nn_dw3x3_right_m4 (same arguments) for a
 * pixel whose first / last kernel column is padding: those taps read zp4
 * (the input zero point in each byte) instead of the row, so border pixels
 * cost what interior ones do and need no second copy of the weights.
 * r0..r2: the window's first pixel in each kernel row; c % 4 == 0.
 * 8 instructions per tap of 4 channels (LDR, LDRD, 2 SXTB16, 4 SMLAxx),
 * 6 per requantized output. */
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && !defined(MM_NN_NO_ASM)
    .syntax unified
    .thumb

    /* accumulators r4 (c0), r5 (c1), r6 (c2), r7 (c3); stream r12 */
    .macro TAPX
    .if W8
    ldr     r10, [r12], #4
    sxtb16  r11, r10, ror #8
    sxtb16  r10, r10
    .else
    ldrd    r10, r11, [r12], #8
    .endif
    sxtb16  r9, r8, ror #8
    sxtb16  r8, r8
    smlabb  r4, r8, r10, r4
    smlatt  r6, r8, r10, r6
    smlabb  r5, r9, r11, r5
    smlatt  r7, r9, r11, r7
    .endm

    .macro TAP addr:vararg
    ldr     r8, \addr
    TAPX
    .endm

    /* a padding tap: the zero points (at [sp, #4]) */
    .macro TAPZ
    ldr     r8, [sp, #4]
    TAPX
    .endm

    .macro ROW r, edge
    .if \edge == 1
    adds    \r, \r, #4
    TAPZ
    .else
    TAP     [\r, #4]!
    .endif
    TAP     [\r, r3]
    .if \edge == 2
    TAPZ
    .else
    TAP     [\r, r3, lsl #1]
    .endif
    .endm

    /* out at lr */
    .macro STORE a
    ldm     r12!, {r8, r9, r10}
    .if W8
    lsl     \a, \a, #1
    .endif
    add     r11, r9, \a, asr #31
    smmlar  \a, \a, r8, r11
    asr     \a, \a, r10
    ssat    \a, #8, \a
    strb    \a, [lr], #1
    .endm

    .macro DW3 name, edge
    .section .text.\name, "ax", %progbits
    .global \name
    .type   \name, %function
    .align  2
\name:
    push    {r4-r11, lr}
    ldr     r12, [sp, #36]          /* stream */
    ldr     lr, [sp, #40]           /* out */
    ldr     r8, [sp, #44]           /* zp4 */
    add     r9, lr, r3
    sub     sp, sp, #8
    strd    r9, r8, [sp]            /* out + c: the end; the zero points */
    subs    r0, r0, #4              /* the first tap load is pre-indexed */
    subs    r1, r1, #4
    subs    r2, r2, #4
1:
    ldm     r12!, {r4, r5, r6, r7}
    ROW     r0, \edge
    ROW     r1, \edge
    ROW     r2, \edge
    STORE   r4
    STORE   r5
    STORE   r6
    STORE   r7
    ldr     r8, [sp]
    cmp     lr, r8
    bne     1b
    add     sp, sp, #8
    pop     {r4-r11, pc}
    .size   \name, . - \name
    .endm

    .set    W8, 0
    DW3     mm_nn_dw3x3_m4, 0
    DW3     mm_nn_dw3x3_left_m4, 1
    DW3     mm_nn_dw3x3_right_m4, 2
    .set    W8, 1
    DW3     mm_nn_dw3x3_w8_m4, 0
    DW3     mm_nn_dw3x3_w8_left_m4, 1
    DW3     mm_nn_dw3x3_w8_right_m4, 2
#endif
