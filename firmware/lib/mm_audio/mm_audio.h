/* Audio input: a source delivers fixed half-buffers of MM_AUDIO_HALF samples (DMA style)
 * into a ring of MM_AUDIO_SLOTS halves; the app takes hop-sized blocks. No heap: the ring
 * is static, its size fixed by the generated mm_audio_config.h.
 *
 * Sources:
 *   FILE      the emulated board's microphone: 16-bit PCM read from a host file (Arm
 *             semihosting; the board port provides mm_port_file_*), one half per period
 *             of the board's timer (mm_port_audio_timer_start): real-time deadlines;
 *   SILENCE, TONE, NOISE
 *             the signal generator (twin: python/micromel/listen/generator.py), paced by
 *             the same timer;
 *   MIC       the board's microphone driver (PDM/I2S/SAI with DMA, boards/<board>/mic_*.c):
 *             it starts its DMA in mm_port_mic_start and hands each finished half to
 *             mm_audio_deliver from its interrupt.
 * Unpaced (cfg.paced = 0): FILE and the generator deliver a half whenever the app has
 * consumed the previous ones, as fast as it goes (benchmarks, boards without a timer).
 *
 * Overruns: a half that arrives while the ring has no room for it is dropped and counted
 * (overruns, dropped samples), never written over samples the app has not released; the
 * next block carries `gap` so the app can restart its streaming state. Nothing is lost
 * silently. Time stamps are mm_cost counts (mm_cost.h): a half is stamped with the time its
 * last sample arrived (the ideal period end for timer-paced sources, so interrupt latency
 * counts against the app). */
#ifndef MM_AUDIO_H
#define MM_AUDIO_H

#include <stdint.h>

#include "mm_audio_config.h" /* generated: rate, half, slots, generator constants */

enum { MM_AUDIO_SRC_FILE = 1, MM_AUDIO_SRC_SILENCE, MM_AUDIO_SRC_TONE, MM_AUDIO_SRC_NOISE,
       MM_AUDIO_SRC_MIC };
/* mm_audio_start's errors */
enum { MM_AUDIO_ERR_CONFIG = -1, MM_AUDIO_ERR_NO_FILE = -2, MM_AUDIO_ERR_NO_TIMER = -3,
       MM_AUDIO_ERR_NO_MIC = -4 };

typedef struct {
  uint8_t source;        /* MM_AUDIO_SRC_* */
  uint8_t paced;         /* 1: real time (timer or microphone), 0: as fast as consumed */
  uint16_t hop;          /* samples per block given to the app; divides the ring */
  uint16_t tone_hz;      /* TONE */
  int16_t amplitude;     /* TONE peak, NOISE bound */
  uint32_t max_samples;  /* end after this many samples (0: at the end of the file or never) */
  uint32_t period_cost;  /* mm_cost counts per half at the board clock (paced sources) */
  const char *path;      /* FILE */
} mm_audio_cfg;

typedef struct {
  const int16_t *pcm;   /* n samples, valid until mm_audio_release */
  uint32_t n;           /* hop, or fewer for the last block of an ended source */
  uint32_t index;       /* stream index of pcm[0] (dropped samples counted) */
  uint64_t t_last;      /* when pcm[n-1] arrived (mm_cost counts) */
  uint8_t gap;          /* samples were dropped just before this block */
} mm_audio_block;

typedef struct {
  uint32_t periods;     /* halves the source produced */
  uint32_t overruns;    /* halves dropped: the app was behind */
  uint32_t dropped;     /* samples in them */
  uint32_t fill_max;    /* most samples ever queued in the ring */
  uint64_t isr_cost;    /* mm_cost counts spent delivering halves (source interrupts) */
  uint8_t ended;        /* end of file or max_samples reached */
} mm_audio_stats;

/* Start a source; 0, or an MM_AUDIO_ERR_*. A running source is stopped first. */
int mm_audio_start(const mm_audio_cfg *cfg);
void mm_audio_stop(void);
/* The next block: 1 (filled in b), 0 (none yet), -1 (the source ended and is drained:
 * a last partial block has been given, or there was none). */
int mm_audio_next(mm_audio_block *b);
/* 1 if mm_audio_next has something to say (a block, the end, or an unpaced source to run);
 * reads no device register, for the idle loop. */
int mm_audio_ready(void);
void mm_audio_release(void);
void mm_audio_get_stats(mm_audio_stats *s);

/* --- the source side ------------------------------------------------------------ */
/* Timer interrupt of a paced FILE or generator source, once per period. */
void mm_audio_period_end(void);
/* A microphone driver's interrupt: a half of MM_AUDIO_HALF samples just arrived. */
void mm_audio_deliver(const int16_t *pcm, uint32_t n);
/* A microphone driver lost n samples in hardware (its DMA stalled): counted as an overrun. */
void mm_audio_lost(uint32_t n);

/* --- what a board port may provide (weak defaults in mm_audio.c: not available) --- */
int mm_port_audio_timer_start(uint32_t period_cost); /* 0, or -1 without a timer */
void mm_port_audio_timer_stop(void);
int mm_port_mic_start(uint32_t rate, uint32_t half); /* 0, or -1 without a microphone */
void mm_port_mic_stop(void);
/* A driver without an interrupt delivers its finished DMA buffers here (mm_audio calls it
 * whenever the app looks for audio). */
void mm_port_mic_poll(void);
int mm_port_file_open(const char *path);             /* handle >= 0, or -1 */
uint32_t mm_port_file_read(int fd, void *buf, uint32_t n); /* bytes read */
void mm_port_file_close(int fd);

/* The generator (mm_audio_gen.c). */
typedef struct {
  uint32_t phase, step, lcg;
  int16_t amplitude;
  uint8_t kind; /* MM_AUDIO_SRC_SILENCE, _TONE or _NOISE */
} mm_audio_gen;
void mm_audio_gen_init(mm_audio_gen *g, uint8_t kind, uint16_t tone_hz, int16_t amplitude);
void mm_audio_gen_fill(mm_audio_gen *g, int16_t *out, uint32_t n);

#endif
