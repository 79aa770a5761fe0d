// SPDX-License-Identifier: MIT
// The public headers compile as C++ (extern "C" linkage, no C-only syntax)
// and link against the C library.
#include <resdeliv/resdeliv.h>

#include <cstdio>
#include <cstring>

int main()
{
    resdeliv_id id{};
    if (resdeliv_id_parse("42-7", 4, &id) != 0 || id.ms != 42 ||
        id.seq != 7) {
        std::fprintf(stderr, "id parse through the C++ headers failed\n");
        return 1;
    }
    if (std::strcmp(resdeliv_err_name(RESDELIV_EBADID), "RESDELIV_EBADID")) {
        std::fprintf(stderr, "err name mismatch\n");
        return 1;
    }
    return 0;
}
