/* The mel filterbank's bin walk for Cortex-M4/M7/M33 (mm_fe_filterbank.c):
 * void mm_fe_filterbank_m4(const uint32_t *power_from_bin_lo, uint64_t *mel);
 * Per segment s (mm_fe_mel_seg_bins[s] bins), each bin's power times its two
 * weights (mm_fe_mel_weights: down, up) into the 64-bit sums of band s - 1
 * (r9:r10) and band s (r11:r12) with UMLAL; two bins per loop turn (LDRD of
 * the powers, two LDRD of the weights, 4 UMLAL, SUBS, BNE). */
#include "mm_frontend_config.h"
#include "mm_kernels.h"
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && MM_KERNELS_DSP
    .syntax unified
    .thumb
    .section .text.mm_fe_filterbank_m4, "ax", %progbits

    /* the bins of one segment: count at r4 (clobbered) */
    .macro BINS
    lsrs    r4, r4, #1
    bcc     1f
    ldr     r5, [r0], #4
    ldrd    r7, r8, [r3], #8
    umlal   r9, r10, r5, r7
    umlal   r11, r12, r5, r8
1:
    cbz     r4, 3f
2:
    ldrd    r5, r6, [r0], #8
    ldrd    r7, r8, [r3], #8
    umlal   r9, r10, r5, r7
    umlal   r11, r12, r5, r8
    ldrd    r7, r8, [r3], #8
    umlal   r9, r10, r6, r7
    umlal   r11, r12, r6, r8
    subs    r4, r4, #1
    bne     2b
3:
    .endm

    /* the same with the accumulators named: band s - 1 in dl:dh, band s in ul:uh */
    .macro BINS_S dl, dh, ul, uh
    lsrs    r4, r4, #1
    bcc     1f
    ldr     r5, [r0], #4
    ldrd    r7, r8, [r3], #8
    umlal   \dl, \dh, r5, r7
    umlal   \ul, \uh, r5, r8
1:
    cbz     r4, 3f
2:
    ldrd    r5, r6, [r0], #8
    ldrd    r7, r8, [r3], #8
    umlal   \dl, \dh, r5, r7
    umlal   \ul, \uh, r5, r8
    ldrd    r7, r8, [r3], #8
    umlal   \dl, \dh, r6, r7
    umlal   \ul, \uh, r6, r8
    subs    r4, r4, #1
    bne     2b
3:
    .endm

    .global mm_fe_filterbank_m4
    .type   mm_fe_filterbank_m4, %function
    .align  2
mm_fe_filterbank_m4:
    push    {r4-r11, lr}
    ldr     r2, =mm_fe_mel_seg_bins
    ldr     r3, =mm_fe_mel_weights
    movs    r9, #0                      @ segment 0: band -1 does not exist
    movs    r10, #0
    movs    r11, #0
    movs    r12, #0
    ldrh    r4, [r2], #2
    BINS
    /* two segments per turn, the roles of the register pairs swapped in between so
     * no sum is moved: band s - 1 in r9:r10 and band s in r11:r12, then the reverse */
    mov     lr, #(MM_FE_N_MELS / 2)
4:
    movs    r9, #0
    movs    r10, #0
    ldrh    r4, [r2], #2
    BINS_S  r11, r12, r9, r10
    strd    r11, r12, [r1], #8
    movs    r11, #0
    movs    r12, #0
    ldrh    r4, [r2], #2
    BINS
    strd    r9, r10, [r1], #8
    subs    lr, lr, #1
    bne     4b
    .if MM_FE_N_MELS % 2
    movs    r9, #0
    movs    r10, #0
    ldrh    r4, [r2], #2
    BINS_S  r11, r12, r9, r10
    strd    r11, r12, [r1], #8
    .endif
    pop     {r4-r11, pc}
    .ltorg
    .size   mm_fe_filterbank_m4, . - mm_fe_filterbank_m4
#endif
