/* The pixel and channel loops of mm_nn_conv_window.c for Cortex-M4/M7/M33
 * with the DSP extension, fast requantization with the full int8 range:
 *
 * void mm_nn_conv_window_m4(const int8_t *const *rows, int n,
 *                           const int32_t *stream, int8_t *out,
 *                           int out_c, int step);
 *
 * rows: the first pixel's window, one pointer per kernel row (3); n pixels,
 * `step` input bytes apart; out: n * out_c outputs; stream: per output
 * channel its doubled bias, five weight pairs, (mult, add, shift). Per pixel
 * three word loads and seven extends make the five pairs; per channel one
 * LDM of bias and weights, five SMLAD, one LDM of the record, 5 to
 * requantize and store: 12 instructions per 9 MACs, two channels per loop
 * turn (an odd count enters at the second). */
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && !defined(MM_NN_NO_ASM)
    .syntax unified
    .thumb

    /* pairs r0-r4, accumulator r5, weights r6-r10, stream r11, out r12 */
    .macro CHANNEL
    ldm     r11!, {r5, r6, r7, r8, r9, r10}
    smlad   r5, r0, r6, r5
    smlad   r5, r1, r7, r5
    smlad   r5, r2, r8, r5
    smlad   r5, r3, r9, r5
    smlad   r5, r4, r10, r5
    ldm     r11!, {r6, r7, r8}
    add     r7, r7, r5, asr #31
    smmlar  r5, r5, r6, r7
    asr     r5, r5, r8
    ssat    r5, #8, r5
    strb    r5, [r12], #1
    .endm

    /* frame: [sp] the three row pointers, [sp, #12] pixels left, [sp, #16]
     * the stream; after the 9 pushed registers, out_c at [sp, #56] and step
     * at [sp, #60] */
    .section .text.mm_nn_conv_window_m4, "ax", %progbits
    .global mm_nn_conv_window_m4
    .type   mm_nn_conv_window_m4, %function
    .align  2
mm_nn_conv_window_m4:
    push    {r4-r11, lr}
    sub     sp, sp, #20
    ldm     r0, {r4, r5, r6}
    stm     sp, {r4, r5, r6}
    strd    r1, r2, [sp, #12]
    mov     r12, r3
3:
    ldm     sp, {r4, r5, r6}
    ldr     r7, [sp, #60]
    ldr     r8, [r4]
    ldr     r9, [r5]
    ldr     r10, [r6]
    add     r4, r4, r7
    add     r5, r5, r7
    add     r6, r6, r7
    stm     sp, {r4, r5, r6}
    sxtb16  r0, r8
    sxtb16  r1, r9
    sxtb16  r2, r10
    sxtb16  r8, r8, ror #8
    sxtb16  r9, r9, ror #8
    pkhbt   r3, r8, r9, lsl #16     /* (a1, b1) */
    sxtb16  r4, r10, ror #8         /* (c1, c3) */
    ldr     r11, [sp, #16]
    ldr     lr, [sp, #56]
    tst     lr, #1
    add     lr, r12, lr             /* the end of this pixel's outputs */
    bne     2f
1:
    CHANNEL
2:
    CHANNEL
    cmp     r12, lr
    bne     1b
    ldr     r0, [sp, #12]
    subs    r0, r0, #1
    str     r0, [sp, #12]
    bne     3b
    add     sp, sp, #20
    pop     {r4-r11, pc}
    .size   mm_nn_conv_window_m4, . - mm_nn_conv_window_m4
#endif
