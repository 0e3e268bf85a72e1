/* UUIDs for records (v7: time-ordered) and runs (v4). */
#ifndef SPZ_UUID_H
#define SPZ_UUID_H

#include <stdint.h>

#define SPZ_UUID_STR 37 /* 36 characters and the NUL */

void spz_uuid_v7(char out[SPZ_UUID_STR], int64_t unix_ms);
void spz_uuid_v4(char out[SPZ_UUID_STR]);

#endif
