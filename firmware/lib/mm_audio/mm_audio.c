/* The ring of half-buffers and the sources that fill it (mm_audio.h). The producer is an
 * interrupt (timer or DMA) and the consumer the main loop: they share only the monotonic
 * sample counters wr (committed) and rd (released); each writes one of them. */
#include "mm_audio.h"

#include <string.h>

#include "mm_cost.h"

#define CAP (MM_AUDIO_HALF * MM_AUDIO_SLOTS)

static int16_t ring[CAP] __attribute__((aligned(4)));
static uint64_t stamp[MM_AUDIO_SLOTS];   /* per half slot: when its last sample arrived */
static uint32_t first[MM_AUDIO_SLOTS];   /* per half slot: stream index of its first sample */
static int16_t scratch[MM_AUDIO_HALF] __attribute__((aligned(4))); /* a dropped half */
static volatile uint32_t wr, rd;          /* samples committed / released */
static volatile uint32_t produced;        /* samples the source produced (dropped included) */
static volatile uint8_t ended, running;
static mm_audio_cfg cfg;
static mm_audio_stats st;
static mm_audio_gen gen;
static int fd = -1;
static uint64_t t0;                       /* start: period k ends at t0 + k * period_cost */
static uint32_t next_index;               /* stream index the app expects next */

/* --- weak defaults: a board without these has no such source --------------------- */
__attribute__((weak)) int mm_port_audio_timer_start(uint32_t period_cost) {
  (void)period_cost;
  return -1;
}
__attribute__((weak)) void mm_port_audio_timer_stop(void) {}
__attribute__((weak)) int mm_port_mic_start(uint32_t rate, uint32_t half) {
  (void)rate, (void)half;
  return -1;
}
__attribute__((weak)) void mm_port_mic_stop(void) {}
__attribute__((weak)) void mm_port_mic_poll(void) {}
__attribute__((weak)) int mm_port_file_open(const char *path) {
  (void)path;
  return -1;
}
__attribute__((weak)) uint32_t mm_port_file_read(int h, void *buf, uint32_t n) {
  (void)h, (void)buf, (void)n;
  return 0;
}
__attribute__((weak)) void mm_port_file_close(int h) { (void)h; }

/* --- producer side ------------------------------------------------------------------ */
/* Publish n samples (n <= HALF) that arrived at time t, or drop them if the ring has no
 * room. The ring's slots hold whole halves; only the source's last half may be short. */
static void commit(const int16_t *pcm, uint32_t n, uint64_t t) {
  uint32_t w = wr;
  st.periods++;
  if (w + MM_AUDIO_HALF - rd > CAP) {
    st.overruns++;
    st.dropped += n;
    produced += n;
    return;
  }
  if (pcm != ring + w % CAP) memcpy(ring + w % CAP, pcm, 2u * n);
  stamp[(w / MM_AUDIO_HALF) % MM_AUDIO_SLOTS] = t;
  first[(w / MM_AUDIO_HALF) % MM_AUDIO_SLOTS] = produced;
  __asm__ volatile("" ::: "memory"); /* samples before the counter (single core) */
  wr = w + n;
  produced += n;
  if (wr - rd > st.fill_max) st.fill_max = wr - rd;
}

/* How many samples the next half holds (fewer at max_samples), 0 once ended. */
static uint32_t next_count(void) {
  if (ended) return 0;
  if (!cfg.max_samples) return MM_AUDIO_HALF;
  uint32_t left = cfg.max_samples - produced;
  return left < MM_AUDIO_HALF ? left : MM_AUDIO_HALF;
}

/* Produce one half from FILE or the generator, straight into the ring when it has room. */
static void produce(uint64_t t) {
  uint32_t k = next_count(), n = k;
  int16_t *dst = (wr + MM_AUDIO_HALF - rd <= CAP) ? ring + wr % CAP : scratch;
  if (n == 0) {
    ended = 1;
    return;
  }
  if (cfg.source == MM_AUDIO_SRC_FILE) {
    n = mm_port_file_read(fd, dst, 2u * n) / 2u; /* a short read: the end of the file */
    if (n < k) ended = 1;
  } else {
    mm_audio_gen_fill(&gen, dst, n);
  }
  if (n) commit(dst, n, t);
  if (cfg.max_samples && produced >= cfg.max_samples) ended = 1;
}

void mm_audio_period_end(void) {
  uint64_t t_in = mm_cost_now();
  if (!running || ended) return;
  /* the ideal end of this period, so that interrupt latency counts against the app */
  produce(t0 + (uint64_t)(st.periods + 1u) * cfg.period_cost);
  if (ended) mm_port_audio_timer_stop();
  st.isr_cost += mm_cost_now() - t_in;
}

void mm_audio_lost(uint32_t n) {
  st.periods++;
  st.overruns++;
  st.dropped += n;
  produced += n;
}

void mm_audio_deliver(const int16_t *pcm, uint32_t n) {
  uint64_t t_in = mm_cost_now();
  if (!running || ended) return;
  uint32_t k = next_count();
  commit(pcm, n < k ? n : k, t_in);
  if (cfg.max_samples && produced >= cfg.max_samples) {
    ended = 1;
    mm_port_mic_stop();
  }
  st.isr_cost += mm_cost_now() - t_in;
}

/* --- control -------------------------------------------------------------------- */
int mm_audio_start(const mm_audio_cfg *c) {
  mm_audio_stop();
  if (!c->hop || CAP % c->hop || c->hop > CAP / 2u) return MM_AUDIO_ERR_CONFIG;
  if (c->source < MM_AUDIO_SRC_FILE || c->source > MM_AUDIO_SRC_MIC) return MM_AUDIO_ERR_CONFIG;
  if (c->paced && c->source != MM_AUDIO_SRC_MIC && !c->period_cost) return MM_AUDIO_ERR_NO_TIMER;
  if (!c->paced && c->source == MM_AUDIO_SRC_MIC) return MM_AUDIO_ERR_CONFIG;
  cfg = *c;
  memset(&st, 0, sizeof st);
  wr = rd = produced = next_index = 0;
  ended = 0;
  if (cfg.source == MM_AUDIO_SRC_FILE) {
    fd = cfg.path ? mm_port_file_open(cfg.path) : -1;
    if (fd < 0) return MM_AUDIO_ERR_NO_FILE;
    cfg.path = 0; /* the caller's string need not outlive the call */
  } else {
    mm_audio_gen_init(&gen, cfg.source, cfg.tone_hz, cfg.amplitude);
  }
  running = 1;
  t0 = mm_cost_now();
  if (!cfg.paced) return 0;
  int r = cfg.source == MM_AUDIO_SRC_MIC ? mm_port_mic_start(MM_AUDIO_RATE, MM_AUDIO_HALF)
                                         : mm_port_audio_timer_start(cfg.period_cost);
  t0 = mm_cost_now(); /* the first period began as the timer started */
  if (r != 0) {
    running = 0;
    mm_audio_stop();
    return cfg.source == MM_AUDIO_SRC_MIC ? MM_AUDIO_ERR_NO_MIC : MM_AUDIO_ERR_NO_TIMER;
  }
  return 0;
}

void mm_audio_stop(void) {
  if (running && cfg.paced) {
    if (cfg.source == MM_AUDIO_SRC_MIC) {
      mm_port_mic_stop();
    } else {
      mm_port_audio_timer_stop();
    }
  }
  running = 0;
  if (fd >= 0) mm_port_file_close(fd);
  fd = -1;
}

int mm_audio_next(mm_audio_block *b) {
  uint32_t r = rd;
  if (running && cfg.source == MM_AUDIO_SRC_MIC) mm_port_mic_poll();
  if (running && !cfg.paced && wr - r < cfg.hop) produce(mm_cost_now());
  uint32_t avail = wr - r;
  __asm__ volatile("" ::: "memory"); /* the counter before the samples */
  if (avail < cfg.hop && !(ended && avail)) return ended ? -1 : 0;
  uint32_t n = avail < cfg.hop ? avail : cfg.hop;
  uint32_t last = r + n - 1u, after = MM_AUDIO_HALF - 1u - last % MM_AUDIO_HALF;
  b->pcm = ring + r % CAP;
  b->n = n;
  /* the samples of a half after this block's last arrived after it, one per sample period */
  uint64_t per_half = cfg.paced ? cfg.period_cost : 0u;
  b->t_last = stamp[(last / MM_AUDIO_HALF) % MM_AUDIO_SLOTS] - (uint64_t)after * per_half / MM_AUDIO_HALF;
  b->index = first[(r / MM_AUDIO_HALF) % MM_AUDIO_SLOTS] + r % MM_AUDIO_HALF;
  b->gap = b->index != next_index;
  next_index = b->index + n;
  return 1;
}

int mm_audio_ready(void) {
  if (running && cfg.source == MM_AUDIO_SRC_MIC) mm_port_mic_poll();
  return running && (!cfg.paced || ended || wr - rd >= cfg.hop);
}

void mm_audio_release(void) {
  uint32_t avail = wr - rd;
  rd += avail < cfg.hop ? avail : cfg.hop;
}

void mm_audio_get_stats(mm_audio_stats *s) {
  *s = st;
  s->ended = ended;
}
