/* SPDX-License-Identifier: MIT */
/*
 * Pusher authentication (auth.h), the HTTP API request signature: checked
 * against the values Pusher publishes and the official server SDKs' own
 * tests (auth_docs.h), then by round trips, by tampering with every part
 * of a signed request, and with malformed, huge and missing input.
 */
#include "auth_docs.h"
#include "internal.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char err[512];

/* Check a request made of these parts at server time `now`. */
static int check(const char *method, const char *path, const char *query,
                 const char *body, uint64_t now)
{
    struct resdeliv_pusher_http_request req = {
        RESDELIV_STRUCT_HEAD(req),
        .method = method,
        .path = path,
        .query = query,
        .query_len = query ? strlen(query) : 0,
        .body = body,
        .body_len = body ? strlen(body) : 0,
    };

    err[0] = '\0';
    return resdeliv_pusher_http_check(&req, KEY, SECRET, now, err, sizeof(err));
}

#define ck_assert_err_has(needle)                                              \
    ck_assert_msg(strstr(err, (needle)) != NULL, "error \"%s\" lacks \"%s\"",  \
                  err, (needle))

/* ------------------------------------------------------------ http docs */

START_TEST(http_docs_example)
{
    ck_assert_int_eq(check("POST", "/apps/3/events",
                           DOC_QUERY "&auth_signature=" DOC_HTTP_SIG, DOC_BODY,
                           DOC_TS + 30),
                     0);
    /* Parameter order on the wire does not matter. */
    ck_assert_int_eq(check("POST", "/apps/3/events",
                           "auth_signature=" DOC_HTTP_SIG "&body_md5=" DOC_MD5
                           "&auth_version=1.0&auth_timestamp=1353088179"
                           "&auth_key=" KEY,
                           DOC_BODY, DOC_TS - 30),
                     0);
}
END_TEST

START_TEST(http_docs_example_signed)
{
    char *q = NULL;

    ck_assert_int_eq(resdeliv_pusher_http_sign(
                         "POST", "/apps/3/events", NULL, 0, KEY, SECRET, DOC_TS,
                         DOC_BODY, strlen(DOC_BODY), &q, err, sizeof(err)),
                     0);
    ck_assert_str_eq(q, DOC_QUERY "&auth_signature=" DOC_HTTP_SIG);
    resdeliv_free(q);
}
END_TEST

START_TEST(http_node_sdk_example)
{
    const char *body = "example body";
    const char *sig =
        "89323a7f200fdefaa992e73e0953534dbb94c4dd2450514bcb4721b28b14fb26";
    char *q = NULL;
    char expect[256];
    struct resdeliv_pusher_http_request req = {
        RESDELIV_STRUCT_HEAD(req), .method = "GET", .path = "/event",
        .body = body, .body_len = strlen(body)};

    ck_assert_int_eq(resdeliv_pusher_http_sign(
                         "GET", "/event", NULL, 0, "f00d", "beef", 1234567890u,
                         body, strlen(body), &q, err, sizeof(err)),
                     0);
    snprintf(expect, sizeof(expect),
             "auth_key=f00d&auth_timestamp=1234567890&auth_version=1.0"
             "&body_md5=165d5e6d7ca8f73b3853ce45addf42fc&auth_signature=%s",
             sig);
    ck_assert_str_eq(q, expect);
    req.query = q;
    req.query_len = strlen(q);
    ck_assert_int_eq(resdeliv_pusher_http_check(&req, "f00d", "beef",
                                                1234567890u, err, sizeof(err)),
                     0);
    resdeliv_free(q);
}
END_TEST

/* GET /apps/3/channels?info=user_count,subscription_count&filter_by_prefix
 * =presence-, signature computed independently over the unescaped string.
 * pusher-http-node sends the values as they are; pusher-http-php escapes
 * them with http_build_query. Both must pass. */
START_TEST(http_sdk_encodings)
{
    const char *auth = "auth_key=" KEY "&auth_timestamp=1353088179"
                       "&auth_version=1.0&auth_signature=ff97d40ab3fbbd1539"
                       "4386a29c12998c33635305357b2e2abd18dc67efe3f87d";
    char q[512];

    snprintf(q, sizeof(q),
             "%s&filter_by_prefix=presence-&info=user_count,"
             "subscription_count",
             auth);
    ck_assert_int_eq(check("GET", "/apps/3/channels", q, NULL, DOC_TS), 0);
    snprintf(q, sizeof(q),
             "%s&filter_by_prefix=presence-&info=user_count%%2Csubscription"
             "_count",
             auth);
    ck_assert_int_eq(check("GET", "/apps/3/channels", q, NULL, DOC_TS), 0);
    snprintf(q, sizeof(q),
             "%s&filter_by_prefix=presence-&info=user_count%%2csubscription"
             "_count&",
             auth);
    ck_assert_int_eq(check("GET", "/apps/3/channels", q, NULL, DOC_TS), 0);
    /* Uppercase names are lowercased before signing. */
    snprintf(q, sizeof(q),
             "%s&Filter_By_Prefix=presence-&INFO=user_count,"
             "subscription_count",
             auth);
    ck_assert_int_eq(check("GET", "/apps/3/channels", q, NULL, DOC_TS), 0);
}
END_TEST

/* ------------------------------------------------------ http round trip */

static const struct resdeliv_pusher_param tricky[] = {
    {"name", "a b&c"},
    {"Channel", "presence-x=1%+~"},
    {"utf8", "\xc3\xa9t\xc3\xa9"},
    {"empty", ""},
};

START_TEST(http_roundtrip_params)
{
    char *q = NULL;
    const char *body = "{\"name\":\"e\",\"channel\":\"c\",\"data\":\"{}\"}";

    ck_assert_int_eq(resdeliv_pusher_http_sign(
                         "POST", "/apps/3/events", tricky, 4, KEY, SECRET,
                         DOC_TS, body, strlen(body), &q, err, sizeof(err)),
                     0);
    /* Reserved characters travel percent-encoded. */
    ck_assert_ptr_nonnull(strstr(q, "name=a%20b%26c"));
    ck_assert_ptr_nonnull(strstr(q, "Channel=presence-x%3D1%25%2B~"));
    ck_assert_ptr_nonnull(strstr(q, "utf8=%C3%A9t%C3%A9"));
    ck_assert_ptr_nonnull(strstr(q, "empty=&"));
    ck_assert_int_eq(check("POST", "/apps/3/events", q, body, DOC_TS + 599), 0);
    ck_assert_int_eq(check("POST", "/apps/3/events", q, body, DOC_TS - 599), 0);
    resdeliv_free(q);
}
END_TEST

START_TEST(http_roundtrip_independent)
{
    /* The signature of "POST\n/apps/3/events\nauth_key=...&body_md5=...
     * &name=a b&c", computed outside this library: a '+' or %20 on the
     * wire is a space, %26 an '&'. */
    const char *base = DOC_QUERY "&auth_signature=561ca6c3a05ca4ee3cd144dd41"
                                 "fe09d44d3fd294d290f7bf8ee1fbda9563970a";
    char q[512];

    snprintf(q, sizeof(q), "%s&name=a+b%%26c", base);
    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS), 0);
    snprintf(q, sizeof(q), "%s&name=a%%20b%%26c", base);
    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS), 0);
    snprintf(q, sizeof(q), "%s&name=a%%2bb%%26c", base);
    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
}
END_TEST

START_TEST(http_roundtrip_decoded_flag)
{
    /* What an HTTP library that already decoded the arguments hands over:
     * '+' and '%' are then literal. */
    const char *q = DOC_QUERY "&auth_signature=561ca6c3a05ca4ee3cd144dd41fe0"
                              "9d44d3fd294d290f7bf8ee1fbda9563970a&name=a b";
    struct resdeliv_pusher_http_request req = {
        RESDELIV_STRUCT_HEAD(req),    .method = "POST",
        .path = "/apps/3/events",     .query = q,
        .query_len = strlen(q),       .body = DOC_BODY,
        .body_len = strlen(DOC_BODY), .flags = RESDELIV_PUSHER_QUERY_DECODED};

    /* "name=a b" without "&c": the '&' split it, so this one fails... */
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&req, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EAUTH);
    /* ...and a decoded query of plain values passes. */
    q = DOC_QUERY "&auth_signature=" DOC_HTTP_SIG;
    req.query = q;
    req.query_len = strlen(q);
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&req, KEY, SECRET, DOC_TS, err, sizeof(err)),
        0);
    /* '%' is kept as is in a decoded query, never an error. */
    char *signed_q = NULL;
    const struct resdeliv_pusher_param pct[] = {{"p", "100%"}};
    ck_assert_int_eq(resdeliv_pusher_http_sign("GET", "/x", pct, 1, KEY, SECRET,
                                               DOC_TS, NULL, 0, &signed_q, err,
                                               sizeof(err)),
                     0);
    char raw[512];
    snprintf(raw, sizeof(raw), "%s", signed_q);
    char *at = strstr(raw, "p=100%25");
    ck_assert_ptr_nonnull(at);
    memmove(at + 6, at + 8, strlen(at + 8) + 1);
    req.method = "GET";
    req.path = "/x";
    req.query = raw;
    req.query_len = strlen(raw);
    req.body = NULL;
    req.body_len = 0;
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&req, KEY, SECRET, DOC_TS, err, sizeof(err)),
        0);
    resdeliv_free(signed_q);
}
END_TEST

/* ----------------------------------------------------------- http tamper */

START_TEST(http_tamper_request)
{
    const char *q = DOC_QUERY "&auth_signature=" DOC_HTTP_SIG;
    char buf[512];

    ck_assert_int_eq(check("GET", "/apps/3/events", q, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("bad auth_signature");
    ck_assert_err_has("GET\\n/apps/3/events\\nauth_key=" KEY);
    ck_assert_ptr_null(strstr(err, SECRET));
    ck_assert_int_eq(check("post", "/apps/3/events", q, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("bad auth_signature");
    ck_assert_int_eq(check("POST", "/apps/4/events", q, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("POST\\n/apps/4/events\\n");
    ck_assert_int_eq(check("POST", "/apps/3/events/", q, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    /* An added parameter, a changed one. */
    snprintf(buf, sizeof(buf), "%s&socket_id=1.1", q);
    ck_assert_int_eq(check("POST", "/apps/3/events", buf, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("&socket_id=1.1\"");
    ck_assert_int_eq(check("POST", "/apps/3/events",
                           "auth_key=" KEY "&auth_timestamp=1353088180"
                           "&auth_version=1.0&body_md5=" DOC_MD5
                           "&auth_signature=" DOC_HTTP_SIG,
                           DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("bad auth_signature");
    /* A changed signature digit. */
    ck_assert_int_eq(check("POST", "/apps/3/events",
                           DOC_QUERY "&auth_signature=ea454824c97ba181a32ccc"
                                     "17a72625ba02771f50b50e1e7430e47a1f3f45"
                                     "7e6c",
                           DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("bad auth_signature");
    ck_assert_int_eq(check("POST", "/apps/3/events",
                           DOC_QUERY "&auth_signature=" DOC_HTTP_SIG "0",
                           DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    /* Another secret. */
    struct resdeliv_pusher_http_request req = {
        RESDELIV_STRUCT_HEAD(req),   .method = "POST",
        .path = "/apps/3/events",    .query = q,
        .query_len = strlen(q),      .body = DOC_BODY,
        .body_len = strlen(DOC_BODY)};
    ck_assert_int_eq(resdeliv_pusher_http_check(&req, KEY, "not-the-secret",
                                                DOC_TS, err, sizeof(err)),
                     RESDELIV_EAUTH);
    ck_assert_err_has("bad auth_signature");
}
END_TEST

START_TEST(http_tamper_body)
{
    const char *q = DOC_QUERY "&auth_signature=" DOC_HTTP_SIG;
    char body[128];

    snprintf(body, sizeof(body), "%s", DOC_BODY);
    body[10] = 'x';
    ck_assert_int_eq(check("POST", "/apps/3/events", q, body, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("bad body_md5");
    ck_assert_int_eq(check("POST", "/apps/3/events", q, NULL, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("bad body_md5");
    ck_assert_err_has("d41d8cd98f00b204e9800998ecf8427e");
    /* body_md5 left out, with a body: named as missing. */
    ck_assert_int_eq(check("POST", "/apps/3/events",
                           "auth_key=" KEY "&auth_timestamp=1353088179"
                           "&auth_version=1.0&auth_signature=" DOC_HTTP_SIG,
                           DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("missing body_md5");
    /* Hex case of body_md5 does not matter; its value does. */
    ck_assert_int_eq(check("POST", "/apps/3/events",
                           "auth_key=" KEY "&auth_timestamp=1353088179"
                           "&auth_version=1.0&body_md5="
                           "EC365A775A4CD0599FAEB73354201B6F"
                           "&auth_signature=" DOC_HTTP_SIG,
                           DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("bad auth_signature");
}
END_TEST

START_TEST(http_tamper_timestamp)
{
    const char *q = DOC_QUERY "&auth_signature=" DOC_HTTP_SIG;

    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS + 600),
                     RESDELIV_EAUTH);
    ck_assert_err_has("expired auth_timestamp 1353088179");
    ck_assert_err_has("600 s before");
    ck_assert_int_eq(
        check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS + 86400),
        RESDELIV_EAUTH);
    ck_assert_err_has("expired auth_timestamp");
    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS - 600),
                     RESDELIV_EAUTH);
    ck_assert_err_has("future auth_timestamp 1353088179");
    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, 0),
                     RESDELIV_EAUTH);
    ck_assert_err_has("future auth_timestamp");
    /* A narrower window of the server's choosing. */
    struct resdeliv_pusher_http_request req = {
        RESDELIV_STRUCT_HEAD(req),   .method = "POST",
        .path = "/apps/3/events",    .query = q,
        .query_len = strlen(q),      .body = DOC_BODY,
        .body_len = strlen(DOC_BODY)};
    ck_assert_int_eq(resdeliv_pusher_http_check_window(
                         &req, KEY, SECRET, DOC_TS + 10, 30, err, sizeof(err)),
                     0);
    ck_assert_int_eq(resdeliv_pusher_http_check_window(
                         &req, KEY, SECRET, DOC_TS + 30, 30, err, sizeof(err)),
                     RESDELIV_EAUTH);
    ck_assert_err_has("limit 30 s");
    /* Malformed timestamps. */
    static const char *const bad[] = {"",
                                      "-1",
                                      "+1",
                                      "1e9",
                                      " 1",
                                      "0x10",
                                      "99999999999999999999",
                                      "123456789012345678901"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf),
                 "auth_key=" KEY "&auth_timestamp=%s&auth_version=1.0"
                 "&body_md5=" DOC_MD5 "&auth_signature=" DOC_HTTP_SIG,
                 bad[i]);
        ck_assert_int_eq(check("POST", "/apps/3/events", buf, DOC_BODY, DOC_TS),
                         RESDELIV_EAUTH);
        ck_assert_err_has("bad auth_timestamp");
    }
}
END_TEST

START_TEST(http_missing_params)
{
    static const struct {
        const char *query;
        const char *msg;
    } cases[] = {
        {"auth_timestamp=1353088179&auth_version=1.0&body_md5=" DOC_MD5
         "&auth_signature=" DOC_HTTP_SIG,
         "missing auth_key"},
        {"auth_key=" KEY "&auth_timestamp=1353088179&auth_version=1.0"
         "&body_md5=" DOC_MD5,
         "missing auth_signature"},
        {"auth_key=" KEY "&auth_timestamp=1353088179&body_md5=" DOC_MD5
         "&auth_signature=" DOC_HTTP_SIG,
         "missing auth_version"},
        {"auth_key=" KEY "&auth_version=1.0&body_md5=" DOC_MD5
         "&auth_signature=" DOC_HTTP_SIG,
         "missing auth_timestamp"},
        {"auth_key=other&auth_timestamp=1353088179&auth_version=1.0"
         "&body_md5=" DOC_MD5 "&auth_signature=" DOC_HTTP_SIG,
         "unknown auth_key \"other\""},
        {"auth_key=" KEY "&auth_timestamp=1353088179&auth_version=2.0"
         "&body_md5=" DOC_MD5 "&auth_signature=" DOC_HTTP_SIG,
         "unsupported auth_version \"2.0\""},
        {"", "missing auth_key"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(
            check("POST", "/apps/3/events", cases[i].query, DOC_BODY, DOC_TS),
            RESDELIV_EAUTH);
        ck_assert_err_has(cases[i].msg);
    }
    ck_assert_int_eq(check("POST", "/apps/3/events", NULL, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("missing auth_key");
}
END_TEST

/* -------------------------------------------------------- http bad input */

START_TEST(http_malformed_query)
{
    static const struct {
        const char *query;
        const char *msg;
    } cases[] = {
        {DOC_QUERY "&auth_key=" KEY, "duplicate query parameter \"auth_key\""},
        {DOC_QUERY "&x=1&X=2", "duplicate query parameter \"x\""},
        {DOC_QUERY "&Auth_Key=" KEY, "duplicate query parameter \"auth_key\""},
        {DOC_QUERY "&flag", "query parameter \"flag\" has no '='"},
        {DOC_QUERY "&=v", "query parameter \"=v\" has no name"},
        {DOC_QUERY "&x=%4", "\"x=%4\" has bad percent-encoding"},
        {DOC_QUERY "&x=%zz", "has bad percent-encoding"},
        {DOC_QUERY "&x=%", "has bad percent-encoding"},
        {DOC_QUERY "&x%=1", "has bad percent-encoding"},
        {DOC_QUERY "&x=a%00b", "has a NUL byte"},
        {DOC_QUERY "&auth_signature=" DOC_HTTP_SIG "&x=\x01\x7f", "&x=??\""},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc =
            check("POST", "/apps/3/events", cases[i].query, DOC_BODY, DOC_TS);
        ck_assert_int_eq(rc, RESDELIV_EAUTH);
        ck_assert_err_has(cases[i].msg);
    }
    /* Control bytes in a value are signed as sent and quoted as '?'. */
    ck_assert_ptr_null(strchr(err, '\x01'));
}
END_TEST

START_TEST(http_huge_inputs)
{
    size_t n = RESDELIV_PUSHER_MAX_QUERY + 1;
    char *q = malloc(n + 1);
    char *p;

    ck_assert_ptr_nonnull(q);
    memset(q, 'a', n);
    memcpy(q, "x=", 2);
    q[n] = '\0';
    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("query string too long (8193 bytes, limit 8192)");
    /* 65 parameters. */
    p = q;
    for (unsigned i = 0; i <= RESDELIV_PUSHER_MAX_PARAMS; i++) {
        p += sprintf(p, "p%u=1&", i);
    }
    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("too many query parameters (limit 64)");
    /* A long name is cut short in the message. */
    memset(q, 'n', 4000);
    q[4000] = '\0';
    ck_assert_int_eq(check("POST", "/apps/3/events", q, DOC_BODY, DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("nnn...\" has no '='");
    ck_assert_uint_lt(strlen(err), 120);
    free(q);
    /* A path past the limit. */
    char *path = malloc(RESDELIV_PUSHER_MAX_PATH + 2);
    ck_assert_ptr_nonnull(path);
    memset(path, '/', RESDELIV_PUSHER_MAX_PATH + 1);
    path[RESDELIV_PUSHER_MAX_PATH + 1] = '\0';
    ck_assert_int_eq(check("POST", path, DOC_QUERY, DOC_BODY, DOC_TS),
                     RESDELIV_EINVAL);
    free(path);
}
END_TEST

START_TEST(http_bad_arguments)
{
    const char *q = DOC_QUERY "&auth_signature=" DOC_HTTP_SIG;
    struct resdeliv_pusher_http_request req = {
        RESDELIV_STRUCT_HEAD(req),   .method = "POST",
        .path = "/apps/3/events",    .query = q,
        .query_len = strlen(q),      .body = DOC_BODY,
        .body_len = strlen(DOC_BODY)};
    struct resdeliv_pusher_http_request bad;

    ck_assert_int_eq(
        resdeliv_pusher_http_check(NULL, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_http_check(&req, NULL, SECRET, DOC_TS, err,
                                                sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&req, KEY, NULL, DOC_TS, err, sizeof(err)),
        RESDELIV_EINVAL);
    /* No error buffer is fine. */
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&req, KEY, SECRET, DOC_TS, NULL, 0), 0);
    bad = req;
    bad.struct_size = 0;
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&bad, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EINVAL);
    ck_assert_err_has("RESDELIV_STRUCT_HEAD");
    bad = req;
    bad.abi_version = (RESDELIV_ABI_MAJOR + 1) << 16;
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&bad, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EABI);
    /* An older caller's struct without `flags` is still read. */
    bad = req;
    bad.struct_size =
        (uint32_t)offsetof(struct resdeliv_pusher_http_request, flags);
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&bad, KEY, SECRET, DOC_TS, err, sizeof(err)),
        0);
    bad = req;
    bad.method = "";
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&bad, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EINVAL);
    bad = req;
    bad.body = NULL;
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&bad, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EINVAL);
    bad = req;
    bad.query = NULL;
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&bad, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EINVAL);
}
END_TEST

START_TEST(http_query_len_bounds)
{
    const char *q = DOC_QUERY "&auth_signature=" DOC_HTTP_SIG;
    char raw[256];
    struct resdeliv_pusher_http_request req = {
        RESDELIV_STRUCT_HEAD(req),   .method = "POST",
        .path = "/apps/3/events",    .query = raw,
        .query_len = strlen(q),      .body = DOC_BODY,
        .body_len = strlen(DOC_BODY)};

    /* query_len bounds the query: a NUL-less buffer is read no further,
     * and the body is the body_len bytes, not up to a NUL. */
    memcpy(raw, q, strlen(q));
    memset(raw + strlen(q), 'x', sizeof(raw) - strlen(q));
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&req, KEY, SECRET, DOC_TS, err, sizeof(err)),
        0);
    req.query_len++;
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&req, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EAUTH);
    req.query_len--;
    req.body_len--;
    ck_assert_int_eq(
        resdeliv_pusher_http_check(&req, KEY, SECRET, DOC_TS, err, sizeof(err)),
        RESDELIV_EAUTH);
    ck_assert_err_has("bad body_md5");
}
END_TEST

START_TEST(http_sign_bad_arguments)
{
    char *q = (char *)"untouched";
    const struct resdeliv_pusher_param reserved[] = {{"Auth_Key", "x"}};
    const struct resdeliv_pusher_param md5[] = {{"body_md5", "x"}};
    const struct resdeliv_pusher_param dup[] = {{"a", "1"}, {"A", "2"}};
    const struct resdeliv_pusher_param noval[] = {{"a", NULL}};
    const struct resdeliv_pusher_param noname[] = {{"", "1"}};

    ck_assert_int_eq(resdeliv_pusher_http_sign("POST", "/p", reserved, 1, KEY,
                                               SECRET, 1, NULL, 0, &q, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_err_has("\"auth_key\" is set by the signer");
    ck_assert_int_eq(resdeliv_pusher_http_sign("POST", "/p", md5, 1, KEY,
                                               SECRET, 1, NULL, 0, &q, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_http_sign("POST", "/p", dup, 2, KEY,
                                               SECRET, 1, NULL, 0, &q, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_err_has("\"a\" given twice");
    ck_assert_int_eq(resdeliv_pusher_http_sign("POST", "/p", noval, 1, KEY,
                                               SECRET, 1, NULL, 0, &q, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_http_sign("POST", "/p", noname, 1, KEY,
                                               SECRET, 1, NULL, 0, &q, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_http_sign("POST", "/p", NULL, 1, KEY,
                                               SECRET, 1, NULL, 0, &q, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_http_sign("", "/p", NULL, 0, KEY, SECRET,
                                               1, NULL, 0, &q, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_http_sign("POST", "/p", NULL, 0, KEY,
                                               SECRET, 1, NULL, 5, &q, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_int_eq(resdeliv_pusher_http_sign("POST", "/p", NULL, 0, KEY,
                                               SECRET, 1, NULL, 0, NULL, err,
                                               sizeof(err)),
                     RESDELIV_EINVAL);
    ck_assert_str_eq(q, "untouched");
    /* No body: no body_md5, and the result checks. */
    ck_assert_int_eq(resdeliv_pusher_http_sign("GET", "/apps/3/channels", NULL,
                                               0, KEY, SECRET, DOC_TS, NULL, 0,
                                               &q, err, sizeof(err)),
                     0);
    ck_assert_ptr_null(strstr(q, "body_md5"));
    ck_assert_int_eq(check("GET", "/apps/3/channels", q, NULL, DOC_TS), 0);
    ck_assert_int_eq(check("GET", "/apps/3/channels", q, "x", DOC_TS),
                     RESDELIV_EAUTH);
    ck_assert_err_has("missing body_md5");
    resdeliv_free(q);
}
END_TEST

static Suite *auth_http_suite(void)
{
    Suite *s = suite_create("auth_http");
    TCase *tc;

    tc = tcase_create("http_published");
    tcase_add_test(tc, http_docs_example);
    tcase_add_test(tc, http_docs_example_signed);
    tcase_add_test(tc, http_node_sdk_example);
    tcase_add_test(tc, http_sdk_encodings);
    suite_add_tcase(s, tc);

    tc = tcase_create("http_roundtrip");
    tcase_add_test(tc, http_roundtrip_params);
    tcase_add_test(tc, http_roundtrip_independent);
    tcase_add_test(tc, http_roundtrip_decoded_flag);
    suite_add_tcase(s, tc);

    tc = tcase_create("http_tamper");
    tcase_add_test(tc, http_tamper_request);
    tcase_add_test(tc, http_tamper_body);
    tcase_add_test(tc, http_tamper_timestamp);
    tcase_add_test(tc, http_missing_params);
    suite_add_tcase(s, tc);

    tc = tcase_create("http_bad_input");
    tcase_add_test(tc, http_malformed_query);
    tcase_add_test(tc, http_huge_inputs);
    tcase_add_test(tc, http_bad_arguments);
    tcase_add_test(tc, http_query_len_bounds);
    tcase_add_test(tc, http_sign_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(auth_http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
