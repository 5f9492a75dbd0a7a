/* The window stage for Cortex-M4/M7/M33 (mm_fe_window.c), the same integers:
 * void mm_fe_window_m4(const int16_t *base, int shift, uint32_t *fft, int rot);
 * Per group g: the four windowed pairs m, m+Q, m+2Q, m+3Q of the frame (SMLABB/SMLATT
 * with the rounding 2^(shift-1), ASR, PKHBT) and the FFT's first radix-4 butterfly on
 * them, stored with one STM: 41 instructions per group. The table mm_fe_window_groups
 * gives 4 m and the four window pairs of each group. rot: the frame's pair i is at
 * base + 4 ((i + rot Q) mod 4Q), rot 0 or 2 (a frame whose halves are swapped in the
 * streaming buffer). */
#include "mm_frontend_config.h"
#include "mm_kernels.h"
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && MM_KERNELS_DSP && \
    MM_FE_FFT_N <= 1024
    .syntax unified
    .thumb
    .section .text.mm_fe_window_m4, "ax", %progbits

    .set    QB, MM_FE_FFT_N                 @ bytes of a quarter frame (Q pairs)

    /* windowed pair at [r12, #off] into y: x lr, w r11, t r10 */
    .macro PAIR y, off
    ldr     lr, [r12, #\off]
    ldr     r11, [r5], #4
    smlabb  r10, lr, r11, r6
    smlatt  lr, lr, r11, r6
    asr     r10, r10, r1
    asr     lr, lr, r1
    pkhbt   \y, r10, lr, lsl #16
    .endm

    .macro GROUPS o0, o1, o2, o3
1:
    ldr     r12, [r5], #4
    add     r12, r0, r12                    @ pair m of the first quarter
    PAIR    r3, \o0
    PAIR    r4, \o1
    PAIR    r8, \o2
    PAIR    r9, \o3
    shadd16 r10, r3, r8                     @ t0
    shsub16 r11, r3, r8                     @ t1
    shadd16 r12, r4, r9                     @ t2
    shsub16 lr, r4, r9                      @ t3
    shadd16 r3, r10, r12
    shsub16 r8, r10, r12
    shsax   r4, r11, lr                     @ (t1 - j t3) / 2
    shasx   r9, r11, lr                     @ (t1 + j t3) / 2
    stm     r2!, {r3, r4, r8, r9}
    cmp     r2, r7
    bne     1b
    .endm

    .global mm_fe_window_m4
    .type   mm_fe_window_m4, %function
    .align  2
mm_fe_window_m4:
    push    {r4-r11, lr}
    ldr     r5, =mm_fe_window_groups
    subs    r6, r1, #1
    movs    r7, #1
    lsl     r6, r7, r6                      @ 2^(shift - 1)
    add     r7, r2, #4*MM_FE_FFT_N          @ the end
    cmp     r3, #0
    bne     2f
    GROUPS  0, QB, 2*QB, 3*QB
    pop     {r4-r11, pc}
2:
    GROUPS  2*QB, 3*QB, 0, QB
    pop     {r4-r11, pc}
    .ltorg
    .size   mm_fe_window_m4, . - mm_fe_window_m4
#endif
