/* The power stage for Cortex-M4/M7/M33 (mm_fe_spectrum.c), the same integers:
 * void mm_fe_power_m4(const mm_fe_cpx *spec, uint32_t *power);
 * For k = 1 .. M/2 (M = MM_FE_FFT_N) bins k and M-k share one product with
 * T_k = mm_fe_split[k]. With S = Z[k] + conj Z[M-k] and D = Z[k] - conj Z[M-k]:
 *   u.re = smulwb(D.re, T) - smulwt(D.im, T),  u.im = smulwt(D.re, T) + smulwb(D.im, T)
 *   X[k]   = ((S.re >> 1) + u.re) >> 1 = (S.re + 2 u.re) >> 2,   same for .im
 *   X[M-k] = ((S.re >> 1) - u.re) >> 1 = (S.re - 2 u.re) >> 2,
 *            (u.im - (S.im >> 1)) >> 1 = (2 u.im - S.im + 1) >> 2
 * (nested floor halvings compose: floor(floor(a / 2) / 2) = floor(a / 4)), then
 * P = re^2 + im^2 (MUL, MLA): 29 instructions per pair of bins with the loop. */
#include "mm_frontend_config.h"
#include "mm_kernels.h"
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && MM_KERNELS_DSP
    .syntax unified
    .thumb
    .section .text.mm_fe_power_m4, "ax", %progbits
    .global mm_fe_power_m4
    .type   mm_fe_power_m4, %function
    .align  2
    /* r0 Z[k], r1 P[k], r2 Z[M-k], r3 P[M-k], r4 T, lr the last k's Z address */
mm_fe_power_m4:
    push    {r4-r11, lr}
    ldr     r5, =8*(MM_FE_FFT_N - 1)   @ (constants too wide for an immediate)
    add     r2, r0, r5
    ldr     r5, =4*(MM_FE_FFT_N - 1)
    add     r3, r1, r5
    add     r0, r0, #8
    add     r1, r1, #4
    ldr     r4, =mm_fe_split + 4
    ldr     r5, =8*(MM_FE_FFT_N / 2 - 1)
    add     lr, r0, r5                  @ Z[M/2]: its own mirror, after the loop
1:
    ldrd    r5, r6, [r0], #8            @ a = Z[k]
    ldrd    r7, r8, [r2], #-8           @ b = Z[M-k]
    ldr     r9, [r4], #4                @ T
    add     r10, r5, r7                 @ S.re
    sub     r11, r6, r8                 @ S.im
    sub     r5, r5, r7                  @ D.re
    add     r6, r6, r8                  @ D.im
    smulwb  r7, r5, r9
    smulwt  r8, r6, r9
    sub     r7, r7, r8                  @ u.re
    smulwt  r8, r5, r9
    smlawb  r8, r6, r9, r8              @ u.im
    add     r5, r10, r7, lsl #1
    asr     r5, r5, #2                  @ X[k].re
    add     r6, r11, r8, lsl #1
    asr     r6, r6, #2                  @ X[k].im
    mul     r9, r5, r5
    mla     r9, r6, r6, r9
    str     r9, [r1], #4
    sub     r5, r10, r7, lsl #1
    asr     r5, r5, #2                  @ X[M-k].re
    rsb     r6, r11, r8, lsl #1
    add     r6, r6, #1
    asr     r6, r6, #2                  @ X[M-k].im
    mul     r9, r5, r5
    mla     r9, r6, r6, r9
    str     r9, [r3], #-4
    cmp     r0, lr
    bne     1b
    @ k = M/2
    ldrd    r5, r6, [r0]
    ldrd    r7, r8, [r2]
    ldr     r9, [r4]
    add     r10, r5, r7
    sub     r11, r6, r8
    sub     r5, r5, r7
    add     r6, r6, r8
    smulwb  r7, r5, r9
    smulwt  r8, r6, r9
    sub     r7, r7, r8
    smulwt  r8, r5, r9
    smlawb  r8, r6, r9, r8
    add     r5, r10, r7, lsl #1
    asr     r5, r5, #2
    add     r6, r11, r8, lsl #1
    asr     r6, r6, #2
    mul     r9, r5, r5
    mla     r9, r6, r6, r9
    str     r9, [r1]
    pop     {r4-r11, pc}
    .ltorg
    .size   mm_fe_power_m4, . - mm_fe_power_m4
#endif
