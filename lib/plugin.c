/* SPDX-License-Identifier: MIT */
/*
 * The struct_size rules of the plugin ABI, for both sides: a host checks a
 * plugin's descriptor and copies it into a struct of the size the host was
 * compiled with; a plugin does the same with the host's struct. Keeping the
 * rules here means every host and plugin applies them the same way.
 */
#include "internal.h"

#include <resdeliv/plugin.h>

#include <string.h>

int resdeliv_plugin_check(const struct resdeliv_plugin *d)
{
    if (d == NULL) {
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(d->abi_version) != RESDELIV_ABI_MAJOR ||
        d->struct_size < RESDELIV_PLUGIN_MIN_SIZE) {
        return RESDELIV_EABI;
    }
    if (d->name == NULL || d->version == NULL || d->create == NULL ||
        d->destroy == NULL) {
        return RESDELIV_EINVAL;
    }
    return 0;
}

int resdeliv_plugin_copy(const struct resdeliv_plugin *d,
                         struct resdeliv_plugin *out, size_t out_size)
{
    size_t n;
    int rc;

    if (out == NULL || out_size < RESDELIV_PLUGIN_MIN_SIZE) {
        return RESDELIV_EINVAL;
    }
    rc = resdeliv_plugin_check(d);
    if (rc != 0) {
        return rc;
    }
    n = d->struct_size < out_size ? d->struct_size : out_size;
    /* Only the caller's size is written: a host built against an older
     * header has a smaller struct than this library's. */
    memset(out, 0, out_size);
    memcpy(out, d, n);
    out->struct_size = (uint32_t)n;
    return 0;
}

int resdeliv_plugin_host_copy(const struct resdeliv_plugin_host *in,
                              struct resdeliv_plugin_host *out, size_t out_size)
{
    size_t n;

    if (in == NULL || out == NULL || out_size < RESDELIV_PLUGIN_HOST_MIN_SIZE) {
        return RESDELIV_EINVAL;
    }
    if (RESDELIV_ABI_VERSION_MAJOR(in->abi_version) != RESDELIV_ABI_MAJOR ||
        in->struct_size < RESDELIV_PLUGIN_HOST_MIN_SIZE) {
        return RESDELIV_EABI;
    }
    if (in->transport == NULL) {
        return RESDELIV_EINVAL;
    }
    n = in->struct_size < out_size ? in->struct_size : out_size;
    memset(out, 0, out_size);
    memcpy(out, in, n);
    out->struct_size = (uint32_t)n;
    return 0;
}
