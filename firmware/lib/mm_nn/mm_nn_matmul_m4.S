/* The matrix engine's hot loops for Cortex-M4/M7/M33 with the DSP extension:
 * every channel pair of a layer for a packed pixel pair (or a lone pixel),
 * accumulation (SMLAD) and the fast requantization with the full int8 range
 * in one function so nothing is spilled. Layouts: mm_nn_matmul.c.
 *
 * const int32_t *mm_nn_mm8_2x2_m4(const int32_t *x, const int32_t *stream,
 *                                 int8_t *out_a, int8_t *out_b, int pairs, int groups);
 * const int32_t *mm_nn_mm8_1x2_m4(const int32_t *x, const int32_t *stream,
 *                                 int8_t *out_a, int pairs, int groups);
 * and mm_nn_mm16_* for the int16 weight layout. x: the packed pair (its two
 * correction words first); pairs >= 1, groups >= 1. Return the stream
 * pointer past the last pair. Each function has its own section: only what
 * a model uses is linked.
 *
 * Per group of 4 values, pixel pair and channel pair (16 MACs): one LDM of
 * the pixels' four words, one LDRD of the weights, 8 SMLAD, and 2 SXTB16
 * (int8 weights) or a second LDRD (int16): 12 or 11 instructions. The
 * loops run 4 groups per turn and enter the first turn part-way (TBB), so
 * any number of groups costs 2 instructions per 4 of loop control. */
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && !defined(MM_NN_NO_ASM)
    .syntax unified
    .thumb

    /* accumulators: r4 (A, c), r5 (B, c), r6 (A, c+1), r7 (B, c+1);
     * x at r0, stream at r1 */
    .macro G8
    ldm     r0!, {r8, r9, r10, r11}     @ XA YA XB YB
    ldrd    r12, lr, [r1], #8           @ raw int8 weights of c, c+1
    smlad   r4, r8, r12, r4
    smlad   r5, r10, r12, r5
    sxtb16  r12, r12, ror #8
    smlad   r4, r9, r12, r4
    smlad   r5, r11, r12, r5
    smlad   r6, r8, lr, r6
    smlad   r7, r10, lr, r7
    sxtb16  lr, lr, ror #8
    smlad   r6, r9, lr, r6
    smlad   r7, r11, lr, r7
    .endm

    .macro G16
    ldm     r0!, {r8, r9, r10, r11}     @ XA_e XA_o XB_e XB_o
    ldrd    r12, lr, [r1], #8           @ c (w0,w2) (w1,w3)
    smlad   r4, r8, r12, r4
    smlad   r5, r10, r12, r5
    smlad   r4, r9, lr, r4
    smlad   r5, r11, lr, r5
    ldrd    r12, lr, [r1], #8           @ c+1
    smlad   r6, r8, r12, r6
    smlad   r7, r10, r12, r7
    smlad   r6, r9, lr, r6
    smlad   r7, r11, lr, r7
    .endm

    /* requantize a (pixel A) and b (pixel B) of one channel: r8 mult, r9 add,
     * r10 shift, r11 scratch; out_a at r12, out_b at lr. dbl: the
     * accumulators hold acc (int8 weights) and are doubled first. */
    .macro STORE2 a, b, dbl
    .if \dbl
    lsl     \a, \a, #1
    lsl     \b, \b, #1
    .endif
    add     r11, r9, \a, asr #31
    smmlar  \a, \a, r8, r11
    add     r11, r9, \b, asr #31
    smmlar  \b, \b, r8, r11
    asr     \a, \a, r10
    asr     \b, \b, r10
    ssat    \a, #8, \a
    ssat    \b, #8, \b
    strb    \a, [r12], #1
    strb    \b, [lr], #1
    .endm

    /* pixel A alone: out_a at r12 */
    .macro STORE1 a, dbl
    .if \dbl
    lsl     \a, \a, #1
    .endif
    add     r11, r9, \a, asr #31
    smmlar  \a, \a, r8, r11
    asr     \a, \a, r10
    ssat    \a, #8, \a
    strb    \a, [r12], #1
    .endm

    /* The pixel-pair function. w8: 1 for int8 weights. Frame: 9 pushed
     * registers + 16 bytes: [sp] out_a, [sp+4] out_b, [sp+8] loop turns,
     * [sp+12] entry (groups % 4); pairs at [sp+52] (then the stream's end),
     * groups at [sp+56]. */
    .macro MM2X2 name, w8
    .section .text.\name, "ax", %progbits
    .global \name
    .type   \name, %function
    .align  2
\name:
    push    {r4-r11, lr}
    sub     sp, sp, #16
    strd    r2, r3, [sp]
    ldrd    r3, r12, [sp, #52]          @ pairs, groups
    .if \w8
    lsl     r4, r12, #1                 @ words per pair: 8 + 2 groups
    .else
    lsl     r4, r12, #2                 @ 8 + 4 groups
    .endif
    add     r4, r4, #8
    mul     r4, r4, r3
    add     r4, r1, r4, lsl #2
    str     r4, [sp, #52]               @ the stream's end
    add     r3, r12, #3
    lsr     r3, r3, #2
    and     r12, r12, #3
    strd    r3, r12, [sp, #8]
    add     r2, r0, #8                  @ the groups, past the correction words
1:
    ldrd    r4, r6, [r1], #8            @ biases of c, c+1
    .if \w8
    ldrd    r8, r9, [r2, #-8]           @ the pixels' corrections
    add     r5, r4, r9
    add     r4, r4, r8
    add     r7, r6, r9
    add     r6, r6, r8
    .else
    mov     r5, r4
    mov     r7, r6
    .endif
    mov     r0, r2
    ldrd    r3, r12, [sp, #8]
    tbb     [pc, r12]
2:
    .byte   (3f - 2b) / 2, (6f - 2b) / 2, (5f - 2b) / 2, (4f - 2b) / 2
    .align  1
3:
    .if \w8
    G8
4:  G8
5:  G8
6:  G8
    .else
    G16
4:  G16
5:  G16
6:  G16
    .endif
    subs    r3, r3, #1
    bne     3b
    ldrd    r12, lr, [sp]
    ldm     r1!, {r8, r9, r10}
    STORE2  r4, r5, \w8
    ldm     r1!, {r8, r9, r10}
    STORE2  r6, r7, \w8
    strd    r12, lr, [sp]
    ldr     r3, [sp, #52]
    cmp     r1, r3
    bne     1b
    mov     r0, r1
    add     sp, sp, #16
    pop     {r4-r11, pc}
    .size   \name, . - \name
    .endm

    /* pixel A alone: accumulators r4 (c), r6 (c+1); x at r0 (B skipped) */
    .macro G8A
    ldrd    r8, r9, [r0], #16           @ XA YA
    ldrd    r10, lr, [r1], #8
    smlad   r4, r8, r10, r4
    sxtb16  r10, r10, ror #8
    smlad   r4, r9, r10, r4
    smlad   r6, r8, lr, r6
    sxtb16  lr, lr, ror #8
    smlad   r6, r9, lr, r6
    .endm

    .macro G16A
    ldrd    r8, r9, [r0], #16
    ldrd    r10, lr, [r1], #8
    smlad   r4, r8, r10, r4
    smlad   r4, r9, lr, r4
    ldrd    r10, lr, [r1], #8
    smlad   r6, r8, r10, r6
    smlad   r6, r9, lr, r6
    .endm

    /* The lone-pixel function: pixel A's words of the packed pair. pairs in
     * r3, groups at [sp+36] (after the push); out_a at r12; loop turns in r7,
     * entry (groups % 4) in r5 during the pair loop. */
    .macro MM1X2 name, w8
    .section .text.\name, "ax", %progbits
    .global \name
    .type   \name, %function
    .align  2
\name:
    push    {r4-r11, lr}
    mov     r12, r2
    ldr     r7, [sp, #36]               @ groups
    and     r5, r7, #3
    add     r7, r7, #3
    lsr     r7, r7, #2
    add     r2, r0, #8
1:
    ldrd    r4, r6, [r1], #8
    .if \w8
    ldr     r8, [r2, #-8]
    add     r4, r4, r8
    add     r6, r6, r8
    .endif
    mov     r0, r2
    mov     r11, r7
    tbb     [pc, r5]
2:
    .byte   (3f - 2b) / 2, (6f - 2b) / 2, (5f - 2b) / 2, (4f - 2b) / 2
    .align  1
3:
    .if \w8
    G8A
4:  G8A
5:  G8A
6:  G8A
    .else
    G16A
4:  G16A
5:  G16A
6:  G16A
    .endif
    subs    r11, r11, #1
    bne     3b
    ldm     r1!, {r8, r9, r10}
    STORE1  r4, \w8
    ldm     r1!, {r8, r9, r10}
    STORE1  r6, \w8
    subs    r3, r3, #1
    bne     1b
    mov     r0, r1
    pop     {r4-r11, pc}
    .size   \name, . - \name
    .endm

    MM2X2   mm_nn_mm8_2x2_m4, 1
    MM2X2   mm_nn_mm16_2x2_m4, 0
    MM1X2   mm_nn_mm8_1x2_m4, 1
    MM1X2   mm_nn_mm16_1x2_m4, 0
#endif
