/* SPDX-License-Identifier: MIT */
/*
 * Stream ids (`MS-SEQ`, two uint64) and log epochs.
 *
 * Parsing and formatting run for every published and delivered message, so
 * both are written by hand: no strtoull (it accepts signs, spaces and
 * "0x") and no snprintf. Leading zeros are accepted ("007-1" is 7-1), the
 * way Redis reads ids, so an id a Redis client echoes back always parses;
 * formatting never writes them.
 *
 * Epochs come from getrandom(2), falling back to /dev/urandom where the
 * syscall is missing; a predictable generator would let two incarnations of
 * a log share an epoch and pass lost history off as continuous.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* UINT64_MAX / 10 and UINT64_MAX % 10, for the overflow test. */
#define U64_DIV10 1844674407370955161ull
#define U64_MOD10 5u

/*
 * Read one decimal part starting at text[*pos], stopping at a '-' or the
 * end. Digits past an overflow are still consumed so that a malformed id
 * reports EBADID before a long but well-formed one reports ERANGE.
 */
static int parse_part(const char *text, size_t len, size_t *pos, uint64_t *out,
                      int *overflow)
{
    uint64_t v = 0;
    size_t i = *pos;
    size_t start = i;
    /* Up to 19 digits cannot overflow: no test per digit there. */
    size_t quick = len - i < 19 ? len : i + 19;

    for (; i < quick; i++) {
        unsigned d = (unsigned char)text[i] - (unsigned)'0';
        if (d > 9) {
            break;
        }
        v = v * 10 + d;
    }
    for (; i < len && text[i] != '-'; i++) {
        unsigned d = (unsigned char)text[i] - (unsigned)'0';
        if (d > 9) {
            return RESDELIV_EBADID;
        }
        if (v > U64_DIV10 || (v == U64_DIV10 && d > U64_MOD10)) {
            *overflow = 1;
        }
        v = v * 10 + d;
    }
    if (i == start) {
        return RESDELIV_EBADID;
    }
    *pos = i;
    *out = v;
    return 0;
}

int resdeliv_id_parse(const char *text, size_t len, struct resdeliv_id *out)
{
    struct resdeliv_id id;
    size_t pos = 0;
    int overflow = 0;
    int rc;

    if (text == NULL || out == NULL) {
        return RESDELIV_EINVAL;
    }
    rc = parse_part(text, len, &pos, &id.ms, &overflow);
    if (rc != 0) {
        return rc;
    }
    if (pos == len) {
        return RESDELIV_EBADID; /* bare "MS": the form is always MS-SEQ */
    }
    pos++;
    rc = parse_part(text, len, &pos, &id.seq, &overflow);
    if (rc != 0) {
        return rc;
    }
    if (pos != len) {
        return RESDELIV_EBADID; /* a second '-' */
    }
    if (overflow) {
        return RESDELIV_ERANGE;
    }
    *out = id;
    return 0;
}

/* "00" to "99": two digits per division halves the divisions. */
static const char digit_pairs[201] =
    "0001020304050607080910111213141516171819"
    "2021222324252627282930313233343536373839"
    "4041424344454647484950515253545556575859"
    "6061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* Exactly four digits of v < 10000 at p. */
static void put4(char *p, uint32_t v)
{
    memcpy(p, digit_pairs + 2 * (v / 100), 2);
    memcpy(p + 2, digit_pairs + 2 * (v % 100), 2);
}

/*
 * Write v's digits so that they end just before `end`; return how many.
 * Eight digits at a time in two independent halves of four, in 32-bit
 * arithmetic: a millisecond clock has 13 digits, and short chains of
 * divisions are what makes this fast.
 */
static size_t u64_write(char *end, uint64_t v)
{
    char *p = end;
    uint32_t w;

    while (v >= 100000000u) {
        uint32_t lo = (uint32_t)(v % 100000000u);
        v /= 100000000u;
        p -= 8;
        put4(p, lo / 10000);
        put4(p + 4, lo % 10000);
    }
    w = (uint32_t)v;
    while (w >= 100) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * (w % 100), 2);
        w /= 100;
    }
    if (w >= 10) {
        p -= 2;
        memcpy(p, digit_pairs + 2 * w, 2);
    } else {
        *--p = (char)('0' + w);
    }
    return (size_t)(end - p);
}

int resdeliv_id_format(const struct resdeliv_id *id, char *buf, size_t size)
{
    char tmp[RESDELIV_ID_BUFSIZE];
    char *end = tmp + sizeof(tmp);
    size_t nseq;
    size_t total;

    if (id == NULL || buf == NULL) {
        return RESDELIV_EINVAL;
    }
    /* Right to left into tmp, which always holds 20 + 1 + 20 bytes. */
    nseq = u64_write(end, id->seq);
    *(end - nseq - 1) = '-';
    total = u64_write(end - nseq - 1, id->ms) + 1 + nseq;
    if (size < total + 1) {
        return RESDELIV_ENOSPC;
    }
    resdeliv__copy(buf, end - total, total);
    buf[total] = '\0';
    return (int)total;
}

int resdeliv__id_format_seq(const struct resdeliv_id *id, char *buf,
                            size_t *ms_len)
{
    char tmp[RESDELIV_ID_BUFSIZE];
    char *end = tmp + sizeof(tmp);
    size_t nseq;

    if (id == NULL || buf == NULL || ms_len == NULL) {
        return RESDELIV_EINVAL;
    }
    /* Right to left into tmp, as resdeliv_id_format() does. */
    nseq = u64_write(end, id->seq);
    *(end - nseq - 1) = '-';
    if (*ms_len == 0) {
        *ms_len = u64_write(end - nseq - 1, id->ms);
        resdeliv__copy(buf, end - nseq - 1 - *ms_len, *ms_len + 1 + nseq);
    } else {
        resdeliv__copy(buf + *ms_len, end - nseq - 1, nseq + 1);
    }
    buf[*ms_len + 1 + nseq] = '\0';
    return (int)(*ms_len + 1 + nseq);
}

int resdeliv_id_cmp(const struct resdeliv_id *a, const struct resdeliv_id *b)
{
    if (a == NULL || b == NULL) {
        /* NULL sorts first so a careless caller gets an order, not a
         * crash. */
        return (a != NULL) - (b != NULL);
    }
    if (a->ms != b->ms) {
        return a->ms < b->ms ? -1 : 1;
    }
    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }
    return 0;
}

int resdeliv_id_is_zero(const struct resdeliv_id *id)
{
    return id != NULL && id->ms == 0 && id->seq == 0;
}

int resdeliv_id_next(const struct resdeliv_id *id, struct resdeliv_id *out)
{
    if (id == NULL || out == NULL) {
        return RESDELIV_EINVAL;
    }
    if (id->seq != UINT64_MAX) {
        out->ms = id->ms;
        out->seq = id->seq + 1;
        return 0;
    }
    if (id->ms == UINT64_MAX) {
        return RESDELIV_ERANGE;
    }
    out->ms = id->ms + 1;
    out->seq = 0;
    return 0;
}

/* The bytes an epoch may hold: [0-9a-zA-Z_-]. Checked for every published
 * message; a table lookup is one load a byte. */
static const unsigned char epoch_byte[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['a'] = 1, ['b'] = 1,
    ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1,
    ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1, ['_'] = 1, ['-'] = 1,
};

int resdeliv_epoch_check(const char *epoch, size_t len)
{
    if (epoch == NULL || len == 0 || len > RESDELIV_EPOCH_MAX) {
        return RESDELIV_EINVAL;
    }
    for (size_t i = 0; i < len; i++) {
        if (!epoch_byte[(unsigned char)epoch[i]]) {
            return RESDELIV_EINVAL;
        }
    }
    return 0;
}

static int urandom_fill(unsigned char *p, size_t n)
{
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    size_t got = 0;

    if (fd < 0) {
        return -1;
    }
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            close(fd);
            return -1;
        }
        got += (size_t)r;
    }
    close(fd);
    return 0;
}

static int random_fill(unsigned char *p, size_t n)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            /* ENOSYS (old kernel) or a seccomp filter: use the device. */
            return urandom_fill(p, n);
        }
        got += (size_t)r;
    }
    return 0;
}

int resdeliv_epoch_new(char *buf, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[8];

    if (buf == NULL) {
        return RESDELIV_EINVAL;
    }
    if (size < RESDELIV_EPOCH_BUFSIZE) {
        return RESDELIV_ENOSPC;
    }
    if (random_fill(raw, sizeof(raw)) != 0) {
        return RESDELIV_ENOTSUP; /* no usable random source at all */
    }
    for (size_t i = 0; i < sizeof(raw); i++) {
        buf[2 * i] = hex[raw[i] >> 4];
        buf[2 * i + 1] = hex[raw[i] & 0x0f];
    }
    buf[2 * sizeof(raw)] = '\0';
    return 0;
}
