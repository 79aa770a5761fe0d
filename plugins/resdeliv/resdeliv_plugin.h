/* SPDX-License-Identifier: MIT */
/*
 * For hosts that link the resdeliv plugin into their program instead of
 * loading libresdeliv_plugin.so: compile plugin.c and plugin_config.c with
 * RESDELIV_PLUGIN_STATIC (meson: resdeliv_plugin_static_dep) and call this
 * entry where a loading host would dlsym resdeliv_plugin_entry. Its name
 * carries the plugin's, so several static plugins fit in one program.
 */
#ifndef RESDELIV_PLUGIN_RESDELIV_H
#define RESDELIV_PLUGIN_RESDELIV_H

#include <resdeliv/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Same contract as resdeliv_plugin_entry (plugin.h). */
const struct resdeliv_plugin *resdeliv_plugin_resdeliv_entry(uint32_t host_abi);

#ifdef __cplusplus
}
#endif

#endif /* RESDELIV_PLUGIN_RESDELIV_H */
