/* The matrix engine's hot loop for Cortex-M4/M7/M33 with the DSP extension:
 * every channel pair of a layer for two pixels, accumulation (SMLAD) and the
 * fast requantization with the full int8 range, in one function so nothing
 * is spilled. Called by mm_nn_matmul.c when the exporter wrote the layer's
 * "stream": per channel pair c, c+1
 *     bias c, bias c+1                         (2 words)
 *     groups x [c (w0,w2) (w1,w3), c+1 (w0,w2) (w1,w3)]   (int16 pairs)
 *     mult c, add c, shift c, mult c+1, add c+1, shift c+1
 * (mm_nn_rq fields; see mm_nn_internal.h for the arithmetic).
 *
 * int32_t *mm_nn_mm2x2_m4(const int32_t *x, const int32_t *stream,
 *                         int8_t *out_a, int8_t *out_b, int pairs, int groups);
 * x: the packed pixel pair (mm_nn_pack2 layout); groups >= 1, pairs >= 1.
 * Returns the stream pointer past the last pair. */
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && !defined(MM_NN_NO_ASM)
    .syntax unified
    .thumb
    .text

    /* x at r2, stream at r1; pixel A/B accumulators r4/r5 (channel c),
     * r6/r7 (channel c+1) */
    .macro GROUP
    ldrd    r8, r9, [r2], #8
    ldrd    r10, r11, [r2], #8
    ldrd    r12, lr, [r1], #8
    smlad   r4, r8, r12, r4
    smlad   r5, r10, r12, r5
    smlad   r4, r9, lr, r4
    smlad   r5, r11, lr, r5
    ldrd    r12, lr, [r1], #8
    smlad   r6, r8, r12, r6
    smlad   r7, r10, r12, r7
    smlad   r6, r9, lr, r6
    smlad   r7, r11, lr, r7
    .endm

    /* r8 mult, r9 add, r10 shift; out_a at r2, out_b at r3 */
    .macro STORE a, b
    add     r11, r9, \a, asr #31
    smmlar  \a, \a, r8, r11
    add     r11, r9, \b, asr #31
    smmlar  \b, \b, r8, r11
    asr     \a, \a, r10
    asr     \b, \b, r10
    ssat    \a, #8, \a
    ssat    \b, #8, \b
    strb    \a, [r2], #1
    strb    \b, [r3], #1
    .endm

    .global mm_nn_mm2x2_m4
    .type   mm_nn_mm2x2_m4, %function
    .align  2
mm_nn_mm2x2_m4:
    push    {r4-r11, lr}
    sub     sp, sp, #8
    strd    r2, r3, [sp]            /* out_a, out_b; pairs at [sp, #44], groups at [sp, #48] */
.Lpair:
    ldrd    r4, r6, [r1], #8        /* biases */
    mov     r5, r4
    mov     r7, r6
    mov     r2, r0
    ldr     r3, [sp, #48]
    lsrs    r3, r3, #1              /* r3 = groups / 2, carry = groups odd */
    bcc     .Lloop
    GROUP
    beq     .Lstore                 /* flags still from lsrs: no group pair left */
.Lloop:
    GROUP
    GROUP
    subs    r3, r3, #1
    bne     .Lloop
.Lstore:
    ldrd    r2, r3, [sp]
    ldm     r1!, {r8, r9, r10}
    STORE   r4, r5
    ldm     r1!, {r8, r9, r10}
    STORE   r6, r7
    strd    r2, r3, [sp]
    ldr     r8, [sp, #44]
    subs    r8, r8, #1
    str     r8, [sp, #44]
    bne     .Lpair
    mov     r0, r1
    add     sp, sp, #8
    pop     {r4-r11, pc}
    .size   mm_nn_mm2x2_m4, . - mm_nn_mm2x2_m4

/* int32_t *mm_nn_mm1x2_m4(const int32_t *x, const int32_t *stream,
 *                         int8_t *out_a, int pairs, int groups);
 * The same for pixel A alone (a lone last pixel of a row): the packed
 * pair's B words are skipped. Registers: x r10, accumulators r4, r6. */
    .macro GROUP1
    ldrd    r8, r9, [r10], #16
    ldrd    r12, lr, [r1], #8
    smlad   r4, r8, r12, r4
    smlad   r4, r9, lr, r4
    ldrd    r12, lr, [r1], #8
    smlad   r6, r8, r12, r6
    smlad   r6, r9, lr, r6
    .endm

    .global mm_nn_mm1x2_m4
    .type   mm_nn_mm1x2_m4, %function
    .align  2
mm_nn_mm1x2_m4:
    push    {r4-r11, lr}            /* pairs in r3, groups at [sp, #36] */
    ldr     r7, [sp, #36]
.Lpair1:
    ldrd    r4, r6, [r1], #8
    mov     r5, r7
    mov     r10, r0                 /* x */
.Lloop1:
    GROUP1
    subs    r5, r5, #1
    bne     .Lloop1
    ldm     r1!, {r8, r9, r10}
    add     r11, r9, r4, asr #31
    smmlar  r4, r4, r8, r11
    asr     r4, r4, r10
    ssat    r4, #8, r4
    strb    r4, [r2, #0]
    ldm     r1!, {r8, r9, r10}
    add     r11, r9, r6, asr #31
    smmlar  r6, r6, r8, r11
    asr     r6, r6, r10
    ssat    r6, #8, r6
    strb    r6, [r2, #1]
    add     r2, r2, #2
    subs    r3, r3, #1
    bne     .Lpair1
    mov     r0, r1
    pop     {r4-r11, pc}
    .size   mm_nn_mm1x2_m4, . - mm_nn_mm1x2_m4
#endif
