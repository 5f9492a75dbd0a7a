/* State the message groups in src/app_*.c share (internal to the application). */
#ifndef APP_SHARED_H
#define APP_SHARED_H

#include "mm_frontend.h"

/* The front end's scratch (FFT, spectrum, mel energies: a few KB). Its contents live only
 * during one mm_fe_process call and the main loop handles one message at a time, so the
 * FEATURES/BENCH messages (app_frontend.c) and the audio messages (app_audio.c) use one
 * buffer. Each keeps its own mm_fe_state: that does persist between messages. */
extern mm_fe_scratch app_fe_scratch;

#endif
