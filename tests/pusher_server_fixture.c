/* SPDX-License-Identifier: MIT */
/*
 * The Pusher server tests' shared fixture (pusher_server_fixture.h).
 */
#include "pusher_server_fixture.h"

struct thost H;

static void setup(void)
{
    t_setup(&H, NULL);
}

static void teardown(void)
{
    t_teardown(&H);
}

cJSON *error_data(const struct tconn *c, size_t i)
{
    cJSON *f = t_frame(c, i), *d = t_data(f);

    cJSON_Delete(f);
    ck_assert_ptr_nonnull(d);
    return d;
}

int error_code(const struct tconn *c, size_t i)
{
    cJSON *d = error_data(c, i);
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(d, "code");
    int v = cJSON_IsNumber(code) ? code->valueint : 0;

    cJSON_Delete(d);
    return v;
}

void fill_log(const char *channel, char *id, size_t size)
{
    char body[256];
    struct tresp r;

    for (int n = 1; n <= 3; n++) {
        snprintf(body, sizeof(body),
                 "{\"name\":\"e\",\"channel\":\"%s\","
                 "\"data\":\"{\\\"n\\\":%d}\"}",
                 channel, n);
        ck_assert_int_eq(t_publish(&H, body, &r), 0);
        ck_assert_int_eq(r.status, 200);
        t_resp_clear(&r);
    }
    ck_assert_int_eq(snprintf(id, size, "0-0"), 3);
}

TCase *tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, teardown);
    return tc;
}
