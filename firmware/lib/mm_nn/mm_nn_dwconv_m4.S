/* Depthwise 3x3 for Cortex-M4/M7/M33 with the DSP extension: one output
 * pixel whose window lies inside the rows, every group of 4 channels, fast
 * requantization with the full int8 range. Called by mm_nn_dwconv.c when the
 * exporter wrote the layer's "stream": per group of 4 channels
 *     bias c0..c3                                   (4 words)
 *     9 taps x [(w_c0, w_c2) (w_c1, w_c3)]          (int16 pairs, doubled)
 *     (mult, add, shift) for c0, c1, c2, c3         (12 words)
 *
 * void mm_nn_dw3x3_m4(const int8_t *r0, const int8_t *r1, const int8_t *r2,
 *                     int c, const int32_t *stream, int8_t *out);
 * r0..r2: the window's first pixel in each kernel row; c % 4 == 0. */
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && !defined(MM_NN_NO_ASM)
    .syntax unified
    .thumb
    .text

    /* accumulators r4 (c0), r5 (c1), r6 (c2), r7 (c3); stream r12 */
    .macro TAP addr:vararg
    ldr     r8, \addr
    ldrd    r10, r11, [r12], #8
    sxtb16  r9, r8, ror #8
    sxtb16  r8, r8
    smlabb  r4, r8, r10, r4
    smlatt  r6, r8, r10, r6
    smlabb  r5, r9, r11, r5
    smlatt  r7, r9, r11, r7
    .endm

    .macro ROW r
    TAP     [\r, #4]!
    TAP     [\r, r3]
    TAP     [\r, r3, lsl #1]
    .endm

    /* out at lr */
    .macro STORE a
    ldm     r12!, {r8, r9, r10}
    add     r11, r9, \a, asr #31
    smmlar  \a, \a, r8, r11
    asr     \a, \a, r10
    ssat    \a, #8, \a
    strb    \a, [lr], #1
    .endm

    .global mm_nn_dw3x3_m4
    .type   mm_nn_dw3x3_m4, %function
    .align  2
mm_nn_dw3x3_m4:
    push    {r4-r11, lr}
    ldr     r12, [sp, #36]          /* stream */
    ldr     lr, [sp, #40]           /* out */
    add     r8, lr, r3
    sub     sp, sp, #8
    str     r8, [sp]                /* out + c: the end */
    subs    r0, r0, #4              /* the first tap load is pre-indexed */
    subs    r1, r1, #4
    subs    r2, r2, #4
.Lgroup:
    ldm     r12!, {r4, r5, r6, r7}
    ROW     r0
    ROW     r1
    ROW     r2
    STORE   r4
    STORE   r5
    STORE   r6
    STORE   r7
    ldr     r8, [sp]
    cmp     lr, r8
    bne     .Lgroup
    add     sp, sp, #8
    pop     {r4-r11, pc}
    .size   mm_nn_dw3x3_m4, . - mm_nn_dw3x3_m4
#endif
