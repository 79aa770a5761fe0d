/* SPDX-License-Identifier: MIT */
/**
 * @file common.h
 * Shared definitions for every libresdeliv header: the export macro, the
 * C++ guards, error codes and the library allocator's free function.
 *
 * Error codes are fixed negative values. They are never renumbered; new
 * codes are only ever added at the end.
 */
#ifndef RESDELIV_COMMON_H
#define RESDELIV_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define RESDELIV_API
#elif defined(__GNUC__) && __GNUC__ >= 4
#define RESDELIV_API __attribute__((visibility("default")))
#else
#define RESDELIV_API
#endif

#ifdef __cplusplus
#define RESDELIV_BEGIN_DECLS extern "C" {
#define RESDELIV_END_DECLS }
#else
#define RESDELIV_BEGIN_DECLS
#define RESDELIV_END_DECLS
#endif

RESDELIV_BEGIN_DECLS

/** ABI version of every versioned struct (vtables, descriptors). The major
 * part changes only when a struct loses or reorders a member. */
#define RESDELIV_ABI_MAJOR 0u
#define RESDELIV_ABI_MINOR 1u
#define RESDELIV_ABI_VERSION ((RESDELIV_ABI_MAJOR << 16) | RESDELIV_ABI_MINOR)
#define RESDELIV_ABI_VERSION_MAJOR(v) (((uint32_t)(v)) >> 16)

/** Fill the head of a versioned struct in a designated initializer:
 *  `struct resdeliv_store_ops ops = { RESDELIV_STRUCT_HEAD(ops), ... };` */
#define RESDELIV_STRUCT_HEAD(obj)                                              \
    .struct_size = (uint32_t)sizeof(obj), .abi_version = RESDELIV_ABI_VERSION

/** @name Error codes
 * 0 is success; every error is negative. Values are part of the ABI. */
/**@{*/
#define RESDELIV_OK 0
#define RESDELIV_EINVAL (-1)      /**< invalid argument */
#define RESDELIV_ENOMEM (-2)      /**< out of memory */
#define RESDELIV_EBADID (-3)      /**< malformed stream id */
#define RESDELIV_ERANGE (-4)      /**< number out of range / overflow */
#define RESDELIV_EBADJSON (-5)    /**< malformed JSON */
#define RESDELIV_EBADCONFIG (-6)  /**< invalid configuration */
#define RESDELIV_EWHISPER (-7)    /**< client-* events are never logged */
#define RESDELIV_ESTORE (-8)      /**< store failed or is unreachable */
#define RESDELIV_ENOTSUP (-9)     /**< operation not supported */
#define RESDELIV_EABI (-10)       /**< incompatible ABI version */
#define RESDELIV_ENOSPC (-11)     /**< buffer too small */
#define RESDELIV_EOVERFLOW (-12)  /**< bounded queue is full */
#define RESDELIV_EBADFRAME (-13)  /**< malformed protocol frame */
#define RESDELIV_ENOENT (-14)     /**< no such object */
#define RESDELIV_EAGAIN (-15)     /**< would block; retry later */
#define RESDELIV_ECLOSED (-16)    /**< handle or connection closed */
#define RESDELIV_ETIMEDOUT (-17)  /**< operation timed out */
#define RESDELIV_EAUTH (-18)      /**< authentication failed */
#define RESDELIV_EBADURL (-19)    /**< malformed store URL */
#define RESDELIV_ESTALE (-20)     /**< log changed epoch during an operation */
/**@}*/

/** Short English description of an error code; never NULL.
 * Thread: safe. Ownership: static string. */
RESDELIV_API const char *resdeliv_strerror(int err);

/** Symbolic name ("RESDELIV_EBADID") of an error code; never NULL.
 * Thread: safe. Ownership: static string. */
RESDELIV_API const char *resdeliv_err_name(int err);

/** Free memory the library allocated and handed over (frames, strings).
 * Accepts NULL. Thread: safe. */
RESDELIV_API void resdeliv_free(void *ptr);

RESDELIV_END_DECLS

#endif /* RESDELIV_COMMON_H */
