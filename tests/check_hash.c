/* SPDX-License-Identifier: MIT */
/*
 * The library's own SHA-256, HMAC-SHA256 and MD5 against the published
 * test vectors: FIPS 180-2 appendix B ("abc", the 448-bit message, a
 * million 'a'), RFC 4231 test cases 1 to 7, and the RFC 1321 appendix A.5
 * suite. Incremental hashing is checked against one-shot hashing at every
 * split point around the block and padding boundaries.
 */
#include "internal.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static void sha256_hex(const void *data, size_t len, char *hex)
{
    uint8_t d[RESDELIV__SHA256_LEN];

    resdeliv__sha256(data, len, d);
    resdeliv__hex(d, sizeof(d), hex);
}

static void md5_hex(const char *s, char *hex)
{
    uint8_t d[RESDELIV__MD5_LEN];

    resdeliv__md5(s, strlen(s), d);
    resdeliv__hex(d, sizeof(d), hex);
}

/* Decode a hex literal from the RFCs into bytes. */
static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;

    for (size_t i = 0; i < n; i++) {
        unsigned v = 0;
        for (unsigned j = 0; j < 2; j++) {
            char c = hex[2 * i + j];
            v = v * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        out[i] = (uint8_t)v;
    }
    return n;
}

/* ------------------------------------------------------------- sha256 */

START_TEST(sha256_fips_abc)
{
    char hex[65];

    sha256_hex("abc", 3, hex);
    ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
                          "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(sha256_fips_448bit)
{
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    char hex[65];

    ck_assert_uint_eq(strlen(m), 56);
    sha256_hex(m, strlen(m), hex);
    ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039"
                          "a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(sha256_empty_and_million_a)
{
    char hex[65];
    struct resdeliv__sha256_ctx ctx;
    uint8_t d[RESDELIV__SHA256_LEN];
    char chunk[1000];

    sha256_hex("", 0, hex);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb924"
                          "27ae41e4649b934ca495991b7852b855");
    memset(chunk, 'a', sizeof(chunk));
    resdeliv__sha256_init(&ctx);
    for (int i = 0; i < 1000; i++) {
        resdeliv__sha256_update(&ctx, chunk, sizeof(chunk));
    }
    resdeliv__sha256_final(&ctx, d);
    resdeliv__hex(d, sizeof(d), hex);
    ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67"
                          "f1809a48a497200e046d39ccc7112cd0");
}
END_TEST

START_TEST(sha256_incremental_splits)
{
    uint8_t msg[200];
    uint8_t whole[RESDELIV__SHA256_LEN];
    uint8_t parts[RESDELIV__SHA256_LEN];

    for (size_t i = 0; i < sizeof(msg); i++) {
        msg[i] = (uint8_t)(i * 7 + 3);
    }
    /* Every length around 55/56/64 (padding edges) and every split. */
    for (size_t len = 0; len <= 130; len++) {
        resdeliv__sha256(msg, len, whole);
        for (size_t cut = 0; cut <= len; cut++) {
            struct resdeliv__sha256_ctx ctx;
            resdeliv__sha256_init(&ctx);
            resdeliv__sha256_update(&ctx, msg, cut);
            resdeliv__sha256_update(&ctx, msg + cut, len - cut);
            resdeliv__sha256_final(&ctx, parts);
            ck_assert_msg(memcmp(whole, parts, sizeof(whole)) == 0,
                          "len %zu split at %zu differs", len, cut);
        }
    }
}
END_TEST

/* ---------------------------------------------------------------- hmac */

struct hmac_case {
    const char *key_hex;
    const char *data_hex; /* NULL: use data_str */
    const char *data_str;
    const char *mac; /* full or, for case 5, truncated to 128 bits */
};

/* Cases 6 and 7 use a 131-byte key of 0xaa (262 hex digits). */
#define KEY_131_AA                                                             \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"     \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"     \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"     \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* RFC 4231 section 4, HMAC-SHA-256 results. */
static const struct hmac_case rfc4231[7] = {
    {"0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", NULL, "Hi There",
     "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
    {"4a656665", NULL, "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
     "dddddddddddddddddddddddddddddddd",
     NULL, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
    {"0102030405060708090a0b0c0d0e0f10111213141516171819",
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"
     "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
     NULL, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
    {"0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c", NULL, "Test With Truncation",
     "a3b6167473100ee06e0c796c2955552b"},
    {KEY_131_AA, NULL, "Test Using Larger Than Block-Size Key - Hash Key First",
     "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
    {KEY_131_AA, NULL,
     "This is a test using a larger than block-size key and a larger than "
     "block-size data. The key needs to be hashed before being used by the "
     "HMAC algorithm.",
     "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
};

START_TEST(hmac_rfc4231)
{
    const struct hmac_case *c = &rfc4231[_i];
    uint8_t key[200], data[200], mac[RESDELIV__SHA256_LEN];
    char hex[65];
    size_t klen = unhex(c->key_hex, key);
    size_t dlen;

    if (_i == 5 || _i == 6) {
        ck_assert_uint_eq(klen, 131);
    }
    if (c->data_hex != NULL) {
        dlen = unhex(c->data_hex, data);
    } else {
        dlen = strlen(c->data_str);
        memcpy(data, c->data_str, dlen);
    }
    resdeliv__hmac_sha256(key, klen, data, dlen, mac);
    resdeliv__hex(mac, sizeof(mac), hex);
    ck_assert_msg(strncmp(hex, c->mac, strlen(c->mac)) == 0,
                  "RFC 4231 case %d: got %s", _i + 1, hex);
}
END_TEST

START_TEST(hmac_incremental_and_key_sizes)
{
    const char *msg = "1234.1234:private-foobar";
    uint8_t a[RESDELIV__SHA256_LEN], b[RESDELIV__SHA256_LEN];
    struct resdeliv__hmac_sha256_ctx ctx;
    char hex[65];

    resdeliv__hmac_sha256("7ad3773142a6692b25b8", 20, msg, strlen(msg), a);
    resdeliv__hmac_sha256_init(&ctx, "7ad3773142a6692b25b8", 20);
    resdeliv__hmac_sha256_update(&ctx, "1234.1234", 9);
    resdeliv__hmac_sha256_update(&ctx, ":", 1);
    resdeliv__hmac_sha256_update(&ctx, "private-foobar", 14);
    resdeliv__hmac_sha256_final(&ctx, b);
    ck_assert_mem_eq(a, b, sizeof(a));
    resdeliv__hex(a, sizeof(a), hex);
    ck_assert_str_eq(hex, "58df8b0c36d6982b82c3ecf6b4662e34"
                          "fe8c25bba48f5369f135bf843651c3a4");

    /* A 64-byte key is used as is; 65 bytes is hashed first: they differ,
     * and the empty key still works. */
    uint8_t k[65];
    memset(k, 'k', sizeof(k));
    resdeliv__hmac_sha256(k, 64, "m", 1, a);
    resdeliv__hmac_sha256(k, 65, "m", 1, b);
    ck_assert(memcmp(a, b, sizeof(a)) != 0);
    resdeliv__hmac_sha256("", 0, "", 0, a);
    resdeliv__hex(a, sizeof(a), hex);
    ck_assert_str_eq(hex, "b613679a0814d9ec772f95d778c35fc5"
                          "ff1697c493715653c6c712144292c5ad");
}
END_TEST

/* ----------------------------------------------------------------- md5 */

/* RFC 1321 appendix A.5 test suite. */
static const char *const md5_suite[7][2] = {
    {"", "d41d8cd98f00b204e9800998ecf8427e"},
    {"a", "0cc175b9c0f1b6a831c399e269772661"},
    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
     "d174ab98d277d9f5a5611c2c9f419d9f"},
    {"1234567890123456789012345678901234567890123456789012345678901234567"
     "8901234567890",
     "57edf4a22be3c955ac49da2e2107b67a"},
};

START_TEST(md5_rfc1321)
{
    char hex[33];

    md5_hex(md5_suite[_i][0], hex);
    ck_assert_str_eq(hex, md5_suite[_i][1]);
}
END_TEST

START_TEST(md5_padding_edges)
{
    char hex[33];
    char buf[130];

    /* 55, 56 and 64 bytes: the length field fits, just misses, and a
     * whole block of data (values from Python's hashlib). */
    memset(buf, 'a', sizeof(buf));
    buf[55] = '\0';
    md5_hex(buf, hex);
    ck_assert_str_eq(hex, "ef1772b6dff9a122358552954ad0df65");
    memset(buf, 'a', sizeof(buf));
    buf[56] = '\0';
    md5_hex(buf, hex);
    ck_assert_str_eq(hex, "3b0c8ac703f828b04c6c197006d17218");
    memset(buf, 'a', sizeof(buf));
    buf[64] = '\0';
    md5_hex(buf, hex);
    ck_assert_str_eq(hex, "014842d480b571495a4a0363793f7367");
    /* The Pusher HTTP API docs' worked example body. */
    md5_hex("{\"name\":\"foo\",\"channels\":[\"project-3\"],"
            "\"data\":\"{\\\"some\\\":\\\"data\\\"}\"}",
            hex);
    ck_assert_str_eq(hex, "ec365a775a4cd0599faeb73354201b6f");
}
END_TEST

/* ------------------------------------------------------------- helpers */

START_TEST(hex_and_ct_equal)
{
    const uint8_t bytes[] = {0x00, 0x0f, 0xa5, 0xff};
    char hex[9];

    resdeliv__hex(bytes, sizeof(bytes), hex);
    ck_assert_str_eq(hex, "000fa5ff");
    resdeliv__hex(bytes, 0, hex);
    ck_assert_str_eq(hex, "");
    ck_assert_int_eq(resdeliv__ct_equal("abcd", "abcd", 4), 1);
    ck_assert_int_eq(resdeliv__ct_equal("abcd", "abce", 4), 0);
    ck_assert_int_eq(resdeliv__ct_equal("xbcd", "abcd", 4), 0);
    ck_assert_int_eq(resdeliv__ct_equal("a", "b", 0), 1);
}
END_TEST

static Suite *hash_suite(void)
{
    Suite *s = suite_create("hash");
    TCase *tc = tcase_create("sha256");

    tcase_add_test(tc, sha256_fips_abc);
    tcase_add_test(tc, sha256_fips_448bit);
    tcase_add_test(tc, sha256_empty_and_million_a);
    tcase_add_test(tc, sha256_incremental_splits);
    suite_add_tcase(s, tc);

    tc = tcase_create("hmac");
    tcase_add_loop_test(tc, hmac_rfc4231, 0, 7);
    tcase_add_test(tc, hmac_incremental_and_key_sizes);
    suite_add_tcase(s, tc);

    tc = tcase_create("md5");
    tcase_add_loop_test(tc, md5_rfc1321, 0, 7);
    tcase_add_test(tc, md5_padding_edges);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_add_test(tc, hex_and_ct_equal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(hash_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
