/* The log stage for Cortex-M4/M7/M33 (mm_fe_log.c), the same integers:
 * void mm_fe_log_m4(const uint64_t *mel, int32_t e16, int8_t *out);
 * e16 = (63 + 2 f + MM_FE_LOG_OFFSET) << 16. Per band: n = leading zeros of the 64-bit
 * sum, top = its 32 bits from the leading one, table index and interpolation weight by
 * UBFX, L = e16 - (n << 16) + interpolated table value, q = high word of
 * L * OUT_MULT + OUT_BIAS: SMMLAR with the bias's high word when its low word is 2^31
 * (0.5 dB steps from an integer number of steps), else SMLAL. About 22 instructions. */
#include "mm_frontend_config.h"
#include "mm_kernels.h"
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && MM_KERNELS_DSP
    .syntax unified
    .thumb
    .section .text.mm_fe_log_m4, "ax", %progbits
    .global mm_fe_log_m4
    .type   mm_fe_log_m4, %function
    .align  2
    /* r0 mel, r1 e16, r2 out, r3 table, r4 mult, r5 bias hi, r12 bias lo, lr bands left */
mm_fe_log_m4:
    push    {r4-r11, lr}
    ldr     r3, =mm_fe_log_table
    ldr     r4, =MM_FE_OUT_MULT
    ldr     r5, =MM_FE_OUT_BIAS_HI
    ldr     r12, =MM_FE_OUT_BIAS_LO
    mov     lr, #MM_FE_N_MELS
1:
    ldrd    r6, r7, [r0], #8            @ lo, hi
    cbz     r7, 5f
    clz     r9, r7                      @ n (< 32)
    lsl     r10, r7, r9
    rsb     r11, r9, #32
    lsr     r11, r6, r11
    orr     r10, r10, r11               @ top
2:
    ubfx    r11, r10, #(31 - MM_FE_LOG_BITS), #MM_FE_LOG_BITS    @ table index
    ubfx    r10, r10, #(15 - MM_FE_LOG_BITS), #16                @ interpolation weight
    add     r11, r3, r11, lsl #2
    ldrd    r6, r8, [r11]               @ T[i], T[i + 1]
    sub     r8, r8, r6
    mul     r8, r8, r10
    add     r6, r6, r8, lsr #16
    add     r6, r6, r1                  @ + e16
    sub     r6, r6, r9, lsl #16         @ - n << 16: L
.if MM_FE_OUT_BIAS_LO == 0x80000000
    smmlar  r6, r6, r4, r5
.else
    mov     r8, r12
    mov     r11, r5
    smlal   r8, r11, r6, r4
    mov     r6, r11
.endif
    ssat    r6, #8, r6
3:
    strb    r6, [r2], #1
    subs    lr, lr, #1
    bne     1b
    pop     {r4-r11, pc}
5:                                      @ hi == 0
    cbz     r6, 6f
    clz     r9, r6
    lsl     r10, r6, r9
    add     r9, r9, #32                 @ n
    b       2b
6:
    mvn     r6, #127                    @ digital silence: -128
    b       3b
    .ltorg
    .size   mm_fe_log_m4, . - mm_fe_log_m4
#endif
