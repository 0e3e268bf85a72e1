/* spaturzu: attribution of LLM calls to agents and runs.
 *
 * Programs that can call a C function (C, C++, Python ctypes, Ruby fiddle...)
 * may say which agent and run their next LLM calls belong to. With
 * libspaturzu_shim.so preloaded these calls take effect; linked against the
 * no-op libspaturzu (pkg-config spaturzu) without the shim they do nothing,
 * so the program runs unchanged either way.
 *
 * Frames are per thread and nest: spaturzu_begin_run() opens a frame for an
 * agent (the outermost frame of a thread starts a new run; inner frames join
 * it and nest their agent under the outer one), spaturzu_end_run() closes
 * the innermost. Nothing is inherited by other threads. Calls made while a
 * frame is open carry its run id, agent path and tags; a call in an inner
 * frame also carries parentRequestId, the id of the last call made in the
 * enclosing frame before it opened.
 *
 * All functions return 0 on success or a negative errno value (-EINVAL for a
 * bad argument, -ENOMEM, -ENOENT for end without a frame, -ENOSYS from the
 * no-op library). Strings are copied; tag keys are 1-64 bytes, values up to
 * 256 bytes, at most 32 tags. */
#ifndef SPATURZU_H
#define SPATURZU_H

#ifdef __cplusplus
extern "C" {
#endif

#define SPATURZU_API_VERSION 1

/* Opens a frame on this thread for `agent` (NULL: keep the current agent),
 * with extra tags "k=v,k=v" (NULL or "" for none; \, \= \\ escape). */
int spaturzu_begin_run(const char *agent, const char *tags);
/* Closes this thread's innermost frame. */
int spaturzu_end_run(void);
/* Sets the agent of this thread's next calls: of the innermost frame, or of
 * the thread when no frame is open. NULL clears a thread-level agent. */
int spaturzu_set_agent(const char *agent);
/* Sets one tag on the innermost frame, or on the thread when none is open;
 * a NULL value removes the tag. */
int spaturzu_set_tag(const char *key, const char *value);
/* 1 when the shim is active in this process, 0 otherwise. */
int spaturzu_active(void);

#ifdef __cplusplus
}
#endif

#endif
