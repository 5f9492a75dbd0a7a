/* The front end's tables, defined once: values generated from the Python FrontendConfig
 * (python/micromel/frontend/header.py). */
#define MM_FE_DEFINE_TABLES
#include "mm_frontend_config.h"
