/* SPDX-License-Identifier: MIT */
/*
 * Shared between the files of the resdeliv plugin: the settings read from
 * the configuration document. Hidden in the shared object; named
 * resdeliv__plugin_* so that a host linking the plugin statically next to
 * libresdeliv sees no clash.
 */
#ifndef RESDELIV_PLUGIN_INTERNAL_H
#define RESDELIV_PLUGIN_INTERNAL_H

#include <resdeliv/plugin.h>
#include <resdeliv/resdeliv.h>

/* What create() reads from the configuration document. */
struct resdeliv__plugin_settings {
    struct resdeliv_config *cfg; /* the library's keys, owned */
    char *app[3];                /* app_id, app_key, app_secret or NULL */
    struct resdeliv_pusher_server_options limits; /* the "server" object */
};

void resdeliv__plugin_settings_init(struct resdeliv__plugin_settings *s);
void resdeliv__plugin_settings_clear(struct resdeliv__plugin_settings *s);

/* Reads `json` (`len` bytes; NULL or empty is `{}`). On error a message
 * naming the key is in `err`: RESDELIV_EBADJSON, RESDELIV_EBADCONFIG,
 * RESDELIV_ENOMEM. */
int resdeliv__plugin_settings_parse(struct resdeliv__plugin_settings *s,
                                    const char *json, size_t len, char *err,
                                    size_t errsize);

#endif /* RESDELIV_PLUGIN_INTERNAL_H */
