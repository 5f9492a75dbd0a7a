/* The FFT stages after the first (mm_fe_fft.c) for Cortex-M4/M7/M33, the same integers:
 * void mm_fe_fft_m4(uint32_t *buf, mm_fe_cpx *spec);
 * The 16-bit stages of length 16, 64, ... < MM_FE_FFT_N in place: per butterfly 4 loads,
 * 3 rounded Q15 complex multiplies (SMLSD, SMLADX with a 2^14 accumulator, ASR, PKHBT),
 * 8 halving SIMD adds, 4 stores (30 instructions with the loop), the twiddles of a
 * butterfly index n kept in registers across the groups. Then the exact 32-bit last
 * stage into spec (37 instructions per butterfly, its twiddles from the triplet table
 * mm_fe_twiddle3). Offsets are immediates from the generated config (FFT_N <= 256 here;
 * larger FFTs take the C code). */
#include "mm_frontend_config.h"
#include "mm_kernels.h"
#if defined(__arm__) && defined(__ARM_FEATURE_DSP) && MM_KERNELS_DSP && \
    MM_FE_FFT_N <= 256 && MM_FE_FFT_N >= 16
    .syntax unified
    .thumb
    .section .text.mm_fe_fft_m4, "ax", %progbits

    .set    M, MM_FE_FFT_N
    .set    Q, M / 4
    .if M == 16
    .set    LGM, 4
    .elseif M == 64
    .set    LGM, 6
    .else
    .set    LGM, 8
    .endif

    /* rounded Q15 complex multiply of x (packed) by w: x = (re, im) packed again;
     * r6 holds 2^14, t is scratch */
    .macro CMUL x, w, t
    smlsd   \t, \x, \w, r6
    smladx  \x, \x, \w, r6
    asr     \t, \t, #15
    pkhbt   \x, \t, \x, lsl #1
    .endm

    /* the radix-4 butterfly on a r7, b r8, c r9, d r10 (b, c, d rotated), halving
     * twice; to [r0], [r0, #4q], [r0, #8q], [r0, #12q], r0 += 4 len (r11, r12 scratch) */
    .macro BFLY q, len
    shadd16 r11, r7, r9                 @ t0
    shsub16 r7, r7, r9                  @ t1
    shadd16 r12, r8, r10                @ t2
    shsub16 r8, r8, r10                 @ t3
    shadd16 r9, r11, r12
    shsub16 r11, r11, r12
    shsax   r10, r7, r8                 @ (t1 - j t3) / 2
    shasx   r7, r7, r8                  @ (t1 + j t3) / 2
    str     r10, [r0, #4*\q]
    str     r11, [r0, #8*\q]
    str     r7, [r0, #12*\q]
    .if 4*\len < 256
    str     r9, [r0], #4*\len
    .else
    str     r9, [r0]
    add     r0, r0, #4*\len
    .endif
    .endm

    /* one 16-bit stage of length len (log2 lglen) on buf (r2, preserved): for each n the
     * groups (r0 from buf + n, r1 = end); twiddles w^n, w^2n, w^3n (stride M / len) in
     * r3 r4 r5; n in lr */
    .macro STAGE16 len, lglen
    @ n = 0: no twiddles
    mov     r0, r2
    add     r1, r2, #4*M
1:
    ldr     r8, [r0, #\len]
    ldr     r9, [r0, #2*\len]
    ldr     r10, [r0, #3*\len]
    ldr     r7, [r0]
    BFLY    (\len/4), \len
    cmp     r0, r1
    bne     1b
    movs    lr, #1
2:
    ldr     r12, =mm_fe_twiddle
    add     r0, r2, lr, lsl #2
    add     r1, r0, #4*M
    add     r12, r12, lr, lsl #(2 + LGM - \lglen)
    ldr     r3, [r12]                       @ w^n
    add     r12, r12, lr, lsl #(2 + LGM - \lglen)
    ldr     r4, [r12]                       @ w^2n
    add     r12, r12, lr, lsl #(2 + LGM - \lglen)
    ldr     r5, [r12]                       @ w^3n
3:
    ldr     r8, [r0, #\len]
    CMUL    r8, r3, r11
    ldr     r9, [r0, #2*\len]
    CMUL    r9, r4, r11
    ldr     r10, [r0, #3*\len]
    CMUL    r10, r5, r11
    ldr     r7, [r0]
    BFLY    (\len/4), \len
    cmp     r0, r1
    bne     3b
    add     lr, lr, #1
    cmp     lr, #(\len/4)
    bne     2b
    .endm

    /* the outputs of one last-stage butterfly: t0 (lr, r11), t1 (r12, r4), t2 (r5, r10),
     * t3 (r9, r8) to spec[n], [n + Q], [n + 2Q], [n + 3Q] at r1 (r1 += 8) */
    .macro OUT32
    add     r3, lr, r5                      @ t0 + t2
    sub     lr, lr, r5                      @ t0 - t2
    add     r5, r11, r10
    sub     r11, r11, r10
    strd    r3, r5, [r1], #8
    add     r3, r12, r8                     @ (t1r + t3i, t1i - t3r)
    sub     r5, r4, r9
    strd    r3, r5, [r1, #8*Q - 8]
    sub     r12, r12, r8                    @ (t1r - t3i, t1i + t3r)
    add     r4, r4, r9
    add     r10, r1, #16*Q - 8
    strd    lr, r11, [r10]
    strd    r12, r4, [r10, #8*Q]
    .endm

    .global mm_fe_fft_m4
    .type   mm_fe_fft_m4, %function
    .align  2
mm_fe_fft_m4:
    push    {r4-r11, lr}
    push    {r1}                            @ spec
    mov     r2, r0
    mov     r6, #0x4000
    .if M > 16
    STAGE16 16, 4
    .endif
    .if M > 64
    STAGE16 64, 6
    .endif
    /* the last stage: spec[n + j Q] from buf[n + j Q], exact in 32 bits */
    pop     {r1}
    mov     r0, r2
    @ n = 0: no twiddles
    ldr     r8, [r0, #4*Q]
    ldr     r3, [r0, #12*Q]
    sxth    r9, r8                          @ br
    asr     r8, r8, #16                     @ bi
    sxth    r10, r3                         @ dr
    asr     r3, r3, #16                     @ di
    add     r5, r9, r10                     @ t2r
    sub     r9, r9, r10                     @ t3r
    add     r10, r8, r3                     @ t2i
    sub     r8, r8, r3                      @ t3i
    ldr     r3, [r0, #8*Q]
    sxth    r11, r3                         @ cr
    asr     r3, r3, #16                     @ ci
    ldr     r4, [r0], #4
    sxth    r12, r4                         @ ar
    asr     r4, r4, #16                     @ ai
    add     lr, r12, r11                    @ t0r
    sub     r12, r12, r11                   @ t1r
    add     r11, r4, r3                     @ t0i
    sub     r4, r4, r3                      @ t1i
    OUT32
    ldr     r2, =mm_fe_twiddle3 + 12        @ from n = 1
    add     r7, r0, #4*(Q - 1)              @ the end
4:
    ldm     r2!, {r3, r4, r5}               @ w^n, w^2n, w^3n
    ldr     r8, [r0, #4*Q]                  @ b
    smlsd   r9, r8, r3, r6
    smladx  r8, r8, r3, r6
    ldr     r3, [r0, #12*Q]                 @ d
    smlsd   r10, r3, r5, r6
    smladx  r3, r3, r5, r6
    asr     r9, r9, #15                     @ br
    add     r5, r9, r10, asr #15            @ t2r
    sub     r9, r9, r10, asr #15            @ t3r
    asr     r8, r8, #15                     @ bi
    add     r10, r8, r3, asr #15            @ t2i
    sub     r8, r8, r3, asr #15             @ t3i
    ldr     r3, [r0, #8*Q]                  @ c
    smlsd   r11, r3, r4, r6
    smladx  r3, r3, r4, r6
    ldr     r4, [r0], #4                    @ a
    sxth    r12, r4                         @ ar
    asr     r4, r4, #16                     @ ai
    add     lr, r12, r11, asr #15           @ t0r
    sub     r12, r12, r11, asr #15          @ t1r
    add     r11, r4, r3, asr #15            @ t0i
    sub     r4, r4, r3, asr #15             @ t1i
    OUT32
    cmp     r0, r7
    bne     4b
    pop     {r4-r11, pc}
    .ltorg
    .size   mm_fe_fft_m4, . - mm_fe_fft_m4
#endif
