/* SPDX-License-Identifier: MIT */
/*
 * SHA-256 (FIPS 180-4), HMAC-SHA256 (RFC 2104) and MD5 (RFC 1321), the
 * three digests the Pusher protocol needs: channel auth and the HTTP API
 * signature are HMAC-SHA256 hex digests, and the HTTP API's body_md5 is an
 * MD5 hex digest. They live here so that the library depends only on libc,
 * cJSON and optionally hiredis. None of this is used for anything but
 * message authentication; MD5 is only ever an integrity check the protocol
 * mandates, inside a signed string.
 */
#include "internal.h"

#include <string.h>

/* ------------------------------------------------------------- SHA-256 */

static const uint32_t sha256_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu,
    0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u, 0xd807aa98u, 0x12835b01u,
    0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u,
    0xc19bf174u, 0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu,
    0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau, 0x983e5152u,
    0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u,
    0x06ca6351u, 0x14292967u, 0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu,
    0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u,
    0xd6990624u, 0xf40e3585u, 0x106aa070u, 0x19a4c116u, 0x1e376c08u,
    0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu,
    0x682e6ff3u, 0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u,
    0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u,
};

static uint32_t ror32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32u - n));
}

static uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void sha256_block(uint32_t h[8], const uint8_t *block)
{
    uint32_t w[64];
    uint32_t s[8];

    for (unsigned i = 0; i < 16; i++) {
        w[i] = load_be32(block + 4 * i);
    }
    for (unsigned i = 16; i < 64; i++) {
        uint32_t s0 =
            ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 =
            ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    memcpy(s, h, sizeof(s));
    for (unsigned i = 0; i < 64; i++) {
        uint32_t e = s[4];
        uint32_t a = s[0];
        uint32_t t1 = s[7] + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) +
                      ((e & s[5]) ^ (~e & s[6])) + sha256_k[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) +
                      ((a & s[1]) ^ (a & s[2]) ^ (s[1] & s[2]));
        memmove(s + 1, s, 7 * sizeof(s[0]));
        s[4] += t1;
        s[0] = t1 + t2;
    }
    for (unsigned i = 0; i < 8; i++) {
        h[i] += s[i];
    }
}

void resdeliv__sha256_init(struct resdeliv__sha256_ctx *ctx)
{
    static const uint32_t iv[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u,
                                   0xa54ff53au, 0x510e527fu, 0x9b05688cu,
                                   0x1f83d9abu, 0x5be0cd19u};

    memcpy(ctx->h, iv, sizeof(iv));
    ctx->total = 0;
    ctx->used = 0;
}

void resdeliv__sha256_update(struct resdeliv__sha256_ctx *ctx, const void *data,
                             size_t len)
{
    const uint8_t *p = data;

    if (len == 0) {
        return;
    }
    ctx->total += len;
    if (ctx->used > 0) {
        size_t take = 64 - ctx->used < len ? 64 - ctx->used : len;
        memcpy(ctx->buf + ctx->used, p, take);
        ctx->used += take;
        p += take;
        len -= take;
        if (ctx->used < 64) {
            return;
        }
        sha256_block(ctx->h, ctx->buf);
        ctx->used = 0;
    }
    for (; len >= 64; p += 64, len -= 64) {
        sha256_block(ctx->h, p);
    }
    if (len > 0) {
        memcpy(ctx->buf, p, len);
        ctx->used = len;
    }
}

void resdeliv__sha256_final(struct resdeliv__sha256_ctx *ctx,
                            uint8_t out[RESDELIV__SHA256_LEN])
{
    uint64_t bits = ctx->total * 8u;
    uint8_t pad[72] = {0x80};
    /* Pad to 56 mod 64, then the 64-bit big-endian bit length. */
    size_t padlen = ctx->used < 56 ? 56 - ctx->used : 120 - ctx->used;

    for (unsigned i = 0; i < 8; i++) {
        pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
    }
    resdeliv__sha256_update(ctx, pad, padlen + 8);
    for (unsigned i = 0; i < 8; i++) {
        store_be32(out + 4 * i, ctx->h[i]);
    }
    memset(ctx, 0, sizeof(*ctx));
}

void resdeliv__sha256(const void *data, size_t len,
                      uint8_t out[RESDELIV__SHA256_LEN])
{
    struct resdeliv__sha256_ctx ctx;

    resdeliv__sha256_init(&ctx);
    resdeliv__sha256_update(&ctx, data, len);
    resdeliv__sha256_final(&ctx, out);
}

/* --------------------------------------------------------- HMAC-SHA256 */

void resdeliv__hmac_sha256_init(struct resdeliv__hmac_sha256_ctx *ctx,
                                const void *key, size_t keylen)
{
    uint8_t k[64] = {0};
    uint8_t pad[64];

    /* A key longer than the block is replaced by its digest (RFC 2104). */
    if (keylen > sizeof(k)) {
        resdeliv__sha256(key, keylen, k);
    } else if (keylen > 0) {
        memcpy(k, key, keylen);
    }
    for (unsigned i = 0; i < 64; i++) {
        pad[i] = (uint8_t)(k[i] ^ 0x36u);
    }
    resdeliv__sha256_init(&ctx->inner);
    resdeliv__sha256_update(&ctx->inner, pad, sizeof(pad));
    for (unsigned i = 0; i < 64; i++) {
        pad[i] = (uint8_t)(k[i] ^ 0x5cu);
    }
    resdeliv__sha256_init(&ctx->outer);
    resdeliv__sha256_update(&ctx->outer, pad, sizeof(pad));
    memset(k, 0, sizeof(k));
    memset(pad, 0, sizeof(pad));
}

void resdeliv__hmac_sha256_update(struct resdeliv__hmac_sha256_ctx *ctx,
                                  const void *data, size_t len)
{
    resdeliv__sha256_update(&ctx->inner, data, len);
}

void resdeliv__hmac_sha256_final(struct resdeliv__hmac_sha256_ctx *ctx,
                                 uint8_t out[RESDELIV__SHA256_LEN])
{
    uint8_t ih[RESDELIV__SHA256_LEN];

    resdeliv__sha256_final(&ctx->inner, ih);
    resdeliv__sha256_update(&ctx->outer, ih, sizeof(ih));
    resdeliv__sha256_final(&ctx->outer, out);
    memset(ih, 0, sizeof(ih));
}

void resdeliv__hmac_sha256(const void *key, size_t keylen, const void *msg,
                           size_t len, uint8_t out[RESDELIV__SHA256_LEN])
{
    struct resdeliv__hmac_sha256_ctx ctx;

    resdeliv__hmac_sha256_init(&ctx, key, keylen);
    resdeliv__hmac_sha256_update(&ctx, msg, len);
    resdeliv__hmac_sha256_final(&ctx, out);
}

/* ----------------------------------------------------------------- MD5 */

/* Per-round left rotations and the sine table of RFC 1321 section 3.4. */
static const uint8_t md5_r[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

static const uint32_t md5_k[64] = {
    0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu, 0xf57c0fafu,
    0x4787c62au, 0xa8304613u, 0xfd469501u, 0x698098d8u, 0x8b44f7afu,
    0xffff5bb1u, 0x895cd7beu, 0x6b901122u, 0xfd987193u, 0xa679438eu,
    0x49b40821u, 0xf61e2562u, 0xc040b340u, 0x265e5a51u, 0xe9b6c7aau,
    0xd62f105du, 0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u, 0x21e1cde6u,
    0xc33707d6u, 0xf4d50d87u, 0x455a14edu, 0xa9e3e905u, 0xfcefa3f8u,
    0x676f02d9u, 0x8d2a4c8au, 0xfffa3942u, 0x8771f681u, 0x6d9d6122u,
    0xfde5380cu, 0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u,
    0x289b7ec6u, 0xeaa127fau, 0xd4ef3085u, 0x04881d05u, 0xd9d4d039u,
    0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u, 0xf4292244u, 0x432aff97u,
    0xab9423a7u, 0xfc93a039u, 0x655b59c3u, 0x8f0ccc92u, 0xffeff47du,
    0x85845dd1u, 0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u,
    0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu, 0xeb86d391u,
};

static uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static void md5_block(uint32_t h[4], const uint8_t *block)
{
    uint32_t m[16];
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];

    for (unsigned i = 0; i < 16; i++) {
        m[i] = load_le32(block + 4 * i);
    }
    for (unsigned i = 0; i < 64; i++) {
        uint32_t f;
        unsigned g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) % 16;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) % 16;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) % 16;
        }
        uint32_t t = d;
        d = c;
        c = b;
        f += a + md5_k[i] + m[g];
        b += (f << md5_r[i]) | (f >> (32u - md5_r[i]));
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

void resdeliv__md5(const void *data, size_t len, uint8_t out[RESDELIV__MD5_LEN])
{
    uint32_t h[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    const uint8_t *p = data;
    uint64_t bits = (uint64_t)len * 8u;
    uint8_t tail[128] = {0};
    size_t rest;

    for (rest = len; rest >= 64; p += 64, rest -= 64) {
        md5_block(h, p);
    }
    if (rest > 0) {
        memcpy(tail, p, rest);
    }
    tail[rest] = 0x80;
    /* The tail is one block, or two when the length does not fit. */
    size_t tlen = rest < 56 ? 64 : 128;
    for (unsigned i = 0; i < 8; i++) {
        tail[tlen - 8 + i] = (uint8_t)(bits >> (8 * i));
    }
    md5_block(h, tail);
    if (tlen == 128) {
        md5_block(h, tail + 64);
    }
    for (unsigned i = 0; i < 4; i++) {
        for (unsigned j = 0; j < 4; j++) {
            out[4 * i + j] = (uint8_t)(h[i] >> (8 * j));
        }
    }
}

/* ------------------------------------------------------------- helpers */

void resdeliv__hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0fu];
    }
    out[2 * len] = '\0';
}

int resdeliv__ct_equal(const void *a, const void *b, size_t len)
{
    const volatile uint8_t *x = a;
    const volatile uint8_t *y = b;
    uint8_t diff = 0;

    for (size_t i = 0; i < len; i++) {
        diff |= (uint8_t)(x[i] ^ y[i]);
    }
    return diff == 0;
}
