/* SPDX-License-Identifier: MIT */
/*
 * The public headers compile as strict C99 with -pedantic -Werror, and the
 * version the headers announce is the one the library reports.
 */
#include <resdeliv/resdeliv.h>

#include <stdio.h>
#include <string.h>

int main(void)
{
    struct resdeliv_config cfg;
    struct resdeliv_id id = {1, 2};
    char buf[RESDELIV_ID_BUFSIZE];

    resdeliv_config_init(&cfg);
    if (strcmp(resdeliv_version(), RESDELIV_VERSION_STRING) != 0) {
        fprintf(stderr, "version %s != %s\n", resdeliv_version(),
                RESDELIV_VERSION_STRING);
        return 1;
    }
    if (resdeliv_version_hex() != RESDELIV_VERSION_HEX) {
        fprintf(stderr, "version hex mismatch\n");
        return 1;
    }
    if (resdeliv_id_format(&id, buf, sizeof buf) != 3 ||
        strcmp(buf, "1-2") != 0) {
        fprintf(stderr, "id format through the C99 headers failed\n");
        return 1;
    }
    if (cfg.struct_size != sizeof cfg) {
        fprintf(stderr, "config head not filled\n");
        return 1;
    }
    return 0;
}
