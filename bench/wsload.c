/*
 * wsload.c - WebSocket fan-out load client for `python -m bench` (Linux, epoll, libc only).
 *
 * Opens N client connections to one ws:// URL, sends one masked text frame (the hello) on
 * each after the upgrade, then only reads. Once every connection is up (or failed), it waits
 * a warm-up, then counts complete messages per connection over a measured window. At the end
 * it prints ONE JSON object on stdout. stderr gets one line "ready open=N failed=M" when the
 * connect phase ends (the RSS phase of the harness waits for it) and diagnostics.
 *
 * Protocol coverage (RFC 6455): 7/16/64-bit payload lengths, frames split across reads,
 * fragmented messages (continuation frames, control frames interleaved), ping -> pong with
 * the same payload, close -> close reply with the same code, then the socket is dropped.
 * Sec-WebSocket-Accept is checked. permessage-deflate (RFC 7692) is offered with -z; with
 * -DHAVE_ZLIB compressed messages are inflated (needed for latency/sequence scanning and for
 * payload byte counts), without zlib they are counted but not decoded.
 *
 * Optional per-message analysis (first fragment of each message, after inflate):
 *   -t FIELD  latency = CLOCK_REALTIME at the read() that delivered the message minus the
 *             ISO-8601 time in "FIELD":"YYYY-MM-DDTHH:MM:SS.fffffffZ" (any fraction length)
 *   -n FIELD  same from an integer epoch-nanoseconds field
 *   -s        sequence gaps per (type, symbol_id): for each stream the first "sequence" seen is
 *             the baseline, then every jump > +1 adds the missing count to seq_missing
 *
 * Build: cc -O2 -o wsload wsload.c        or   cc -O2 -DHAVE_ZLIB -o wsload wsload.c -lz
 * Not a conformance client: no TLS, no client-side compression, no UTF-8 validation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_ZLIB
#include <zlib.h>
#endif

#define RX_START   (64 * 1024)          /* initial receive buffer per connection */
#define FRAME_MAX  ((uint64_t)1 << 28)  /* a bigger frame is a protocol error here */
#define INFL_CHUNK (64 * 1024)

/* ------------------------------------------------------------------ small helpers */
static void fatal(const char *what) { perror(what); exit(2); }
static void *grow(void *p, size_t n) { void *q = realloc(p, n); if (!q) fatal("realloc"); return q; }
static double now_mono(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static int64_t now_real_ns(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static double cpu_s(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static uint64_t rng_state = 88172645463325252ULL;
static uint32_t rnd32(void) {             /* xorshift64: masks only need to be unpredictable-ish */
    rng_state ^= rng_state << 13; rng_state ^= rng_state >> 7; rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* ------------------------------------------------------------------ SHA-1 + base64 (handshake check) */
static uint32_t rol(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }
static void sha1(const uint8_t *msg, size_t len, uint8_t out[20]) {
    uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0 };
    size_t total = ((len + 8) / 64 + 1) * 64;
    uint8_t *m = calloc(total, 1); if (!m) fatal("calloc");
    memcpy(m, msg, len); m[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) m[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    for (size_t off = 0; off < total; off += 64) {
        uint32_t w[80];
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)m[off + 4 * i] << 24 | m[off + 4 * i + 1] << 16 | m[off + 4 * i + 2] << 8 | m[off + 4 * i + 3];
        for (int i = 16; i < 80; i++) w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) { f = (b & c) | (~b & d); k = 0x5A827999; }
            else if (i < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1; }
            else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDC; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6; }
            uint32_t t = rol(a, 5) + f + e + k + w[i];
            e = d; d = c; c = rol(b, 30); b = a; a = t;
        }
        h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
    }
    free(m);
    for (int i = 0; i < 5; i++) for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}
static void base64(const uint8_t *in, size_t n, char *out) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tbl[v >> 18 & 63]; out[o++] = tbl[v >> 12 & 63];
        out[o++] = i + 1 < n ? tbl[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = 0;
}

/* ------------------------------------------------------------------ latency histogram */
/* Log-linear: values < 256 ns exact; above, 128 sub-buckets per power of two (<0.8% error). */
#define SUB 128
#define NBUCKET (2 * SUB + 56 * SUB)
static uint64_t lat_hist[NBUCKET], lat_count, lat_max_ns, lat_negative, lat_missing;
static double lat_sum_ns;
static int lat_index(uint64_t v) {
    if (v < 2 * SUB) return (int)v;
    int e = 63 - __builtin_clzll(v);                       /* 2^e <= v, e >= 8 */
    return 2 * SUB + (e - 8) * SUB + (int)((v >> (e - 7)) & (SUB - 1));
}
static double lat_value(int i) {                          /* bucket midpoint */
    if (i < 2 * SUB) return i;
    int e = (i - 2 * SUB) / SUB + 8, s = (i - 2 * SUB) % SUB;
    double lo = (double)(SUB + s) * (double)(1ULL << (e - 7)), width = (double)(1ULL << (e - 7));
    return lo + width / 2;
}
static void lat_add(int64_t d) {
    if (d < 0) { lat_negative++; d = 0; }
    lat_hist[lat_index((uint64_t)d)]++; lat_count++; lat_sum_ns += (double)d;
    if ((uint64_t)d > lat_max_ns) lat_max_ns = (uint64_t)d;
}
static double lat_quantile_us(double q) {
    if (!lat_count) return 0;
    uint64_t rank = (uint64_t)(q * (double)lat_count), seen = 0;
    if (rank >= lat_count) rank = lat_count - 1;
    for (int i = 0; i < NBUCKET; i++) {
        seen += lat_hist[i];
        if (seen > rank) { double v = lat_value(i); return (v > lat_max_ns ? lat_max_ns : v) / 1e3; }
    }
    return lat_max_ns / 1e3;
}

/* ------------------------------------------------------------------ options and totals */
static int opt_conns = 1, opt_inflight = 64, opt_deflate = 0, opt_seq = 0, opt_busy = 0, opt_lat_iso = 1;
static double opt_warm = 2, opt_secs = 10, opt_connect_timeout = 30;
static const char *opt_hello = NULL, *opt_lat_field = NULL, *opt_url = NULL;
static char url_host[256], url_port[16] = "80", url_path[1024] = "/";
static char lat_key[300]; static size_t lat_key_len;
static char ws_key[32], ws_accept[40];

static int epfd, measuring;
static int n_open, n_pending, n_failed, n_disconnected, n_server_close, last_close_code = -1, n_proto_err;
static uint64_t wire_bytes, payload_bytes;   /* inside the window */
static int64_t read_real_ns;                 /* CLOCK_REALTIME of the current read() */
static uint64_t seq_missing, seq_gap_events, seq_backwards, seq_checked, seq_streams, seq_unparsed;

/* ------------------------------------------------------------------ per-stream sequence table */
/* Streams are keyed by a 64-bit hash of "type|symbol_id" only (16 bytes a slot: 100 connections x
 * 10k symbols stay small); a false match needs a 64-bit collision among a few thousand keys. */
typedef struct { uint64_t hash; uint32_t last; uint32_t used; } stream_t;
typedef struct { stream_t *slot; size_t cap, len; } seqtab_t;

static uint64_t fnv1a(const char *p, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    while (n--) { h ^= (uint8_t)*p++; h *= 1099511628211ULL; }
    return h ? h : 1;
}
static stream_t *seq_find(seqtab_t *t, const char *key, size_t n, int *fresh) {
    if ((t->len + 1) * 2 > t->cap) {                       /* keep load <= 50% */
        size_t cap = t->cap ? t->cap * 2 : 256;
        stream_t *old = t->slot; size_t ocap = t->cap;
        t->slot = calloc(cap, sizeof *t->slot); if (!t->slot) fatal("calloc"); t->cap = cap;
        for (size_t i = 0; i < ocap; i++) if (old[i].used) {
            size_t j = old[i].hash & (cap - 1);
            while (t->slot[j].used) j = (j + 1) & (cap - 1);
            t->slot[j] = old[i];
        }
        free(old);
    }
    uint64_t h = fnv1a(key, n);
    size_t j = h & (t->cap - 1);
    for (;;) {
        stream_t *s = &t->slot[j];
        if (!s->used) { s->used = 1; s->hash = h; t->len++; *fresh = 1; return s; }
        if (s->hash == h) { *fresh = 0; return s; }
        j = (j + 1) & (t->cap - 1);
    }
}

/* Text of the string value of "name": in p[0..n), or NULL. */
static const char *json_str(const char *p, size_t n, const char *name, size_t name_len, size_t *out_len) {
    const char *end = p + n, *at = memmem(p, n, name, name_len);
    if (!at) return NULL;
    at += name_len;
    while (at < end && (*at == ' ' || *at == ':')) at++;
    if (at >= end || *at != '"') return NULL;
    const char *v = ++at;
    while (at < end && *at != '"') at++;
    if (at >= end) return NULL;
    *out_len = (size_t)(at - v);
    return v;
}

/* ------------------------------------------------------------------ connections */
enum { C_CONNECTING, C_UPGRADING, C_OPEN, C_DEAD };

typedef struct {
    int fd, state, ever_open, want_write;
    uint8_t *rx; size_t rx_len, rx_cap;      /* bytes read, not yet consumed */
    uint8_t *tx; size_t tx_len, tx_cap;      /* bytes to send */
    uint64_t msgs_window, msgs_total;
    int in_message, msg_compressed, msg_scanned; /* state of the message being assembled */
    int pmd, pmd_reset;                      /* deflate negotiated / server_no_context_takeover */
    seqtab_t seq;
#ifdef HAVE_ZLIB
    z_stream z; int z_ready;
#endif
} conn_t;

static conn_t *conns;

static void watch(conn_t *c, int want_write) {
    if (c->want_write == want_write) return;
    struct epoll_event ev = { .events = EPOLLIN | (want_write ? EPOLLOUT : 0), .data.ptr = c };
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0) c->want_write = want_write;
}

static void drop(conn_t *c) {
    if (c->state == C_DEAD) return;
    if (c->state == C_OPEN) { n_open--; n_disconnected++; }
    else { n_pending--; n_failed++; }
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->state = C_DEAD;
}

static void pump_tx(conn_t *c) {
    size_t done = 0;
    while (done < c->tx_len) {
        ssize_t w = send(c->fd, c->tx + done, c->tx_len - done, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            drop(c); return;
        }
        done += (size_t)w;
    }
    if (done) { memmove(c->tx, c->tx + done, c->tx_len - done); c->tx_len -= done; }
    watch(c, c->tx_len > 0);
}

static void tx_reserve(conn_t *c, size_t more) {
    if (c->tx_len + more > c->tx_cap) { c->tx_cap = (c->tx_len + more) * 2; c->tx = grow(c->tx, c->tx_cap); }
}

/* A client frame: FIN set, always masked (RFC 6455 section 5.3). */
static void send_masked(conn_t *c, int opcode, const uint8_t *data, size_t n) {
    tx_reserve(c, n + 14);
    uint8_t *h = c->tx + c->tx_len; size_t hl;
    h[0] = (uint8_t)(0x80 | opcode);
    if (n < 126) { h[1] = (uint8_t)(0x80 | n); hl = 2; }
    else if (n <= 0xFFFF) { h[1] = 0x80 | 126; h[2] = (uint8_t)(n >> 8); h[3] = (uint8_t)n; hl = 4; }
    else { h[1] = 0x80 | 127; for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)((uint64_t)n >> (56 - 8 * i)); hl = 10; }
    uint32_t m = rnd32(); uint8_t *mask = h + hl; memcpy(mask, &m, 4); hl += 4;
    for (size_t i = 0; i < n; i++) h[hl + i] = data[i] ^ mask[i & 3];
    c->tx_len += hl + n;
    pump_tx(c);
}

static int64_t parse_iso_ns(const char *s, const char *end) {
    /* YYYY-MM-DDTHH:MM:SS[.fraction]Z, UTC */
    if (end - s < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return -1;
#define D2(p) (((p)[0] - '0') * 10 + ((p)[1] - '0'))
    int year = D2(s) * 100 + D2(s + 2), mon = D2(s + 5), day = D2(s + 8);
    int64_t secs_of_day = D2(s + 11) * 3600 + D2(s + 14) * 60 + D2(s + 17);
#undef D2
    /* days since 1970-01-01 (proleptic Gregorian), shifted year starting in March */
    int y = year - (mon <= 2), mp = (mon + 9) % 12;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * mp + 2) / 5 + day - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    int64_t frac = 0, scale = 100000000;                  /* first fraction digit = 0.1 s */
    const char *p = s + 19;
    if (p < end && *p == '.')
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) { frac += (*p - '0') * scale; scale /= 10; }
    return (days * 86400 + secs_of_day) * 1000000000LL + frac;
}

/* Called once per message on (the start of) its payload: latency and sequence checks. */
static void inspect(conn_t *c, const char *p, size_t n) {
    if (opt_lat_field && measuring) {
        const char *at = memmem(p, n, lat_key, lat_key_len), *end = p + n;
        int64_t ts = -1;
        if (at) {
            at += lat_key_len;
            while (at < end && (*at == ' ' || *at == ':')) at++;
            if (opt_lat_iso) { if (at < end && *at == '"') ts = parse_iso_ns(at + 1, end); }
            else { int64_t v = 0; const char *d = at; while (at < end && *at >= '0' && *at <= '9') v = v * 10 + (*at++ - '0'); if (at > d) ts = v; }
        }
        if (ts < 0) lat_missing++; else lat_add(read_real_ns - ts);
    }
    if (opt_seq) {
        size_t tl = 0, sl = 0;
        const char *type = json_str(p, n, "\"type\"", 6, &tl), *sym = json_str(p, n, "\"symbol_id\"", 11, &sl);
        const char *sq = memmem(p, n, "\"sequence\":", 11);
        if (!type || !sym || !sq) { seq_unparsed++; return; }
        char key[160]; size_t kl;
        if (tl > 20) tl = 20;
        if (sl > 120) sl = 120;
        memcpy(key, type, tl); kl = tl; key[kl++] = '|'; memcpy(key + kl, sym, sl); kl += sl;
        uint64_t v = 0; const char *d = sq + 11, *end = p + n;
        while (d < end && *d == ' ') d++;
        if (d >= end || *d < '0' || *d > '9') { seq_unparsed++; return; }
        while (d < end && *d >= '0' && *d <= '9') v = v * 10 + (uint64_t)(*d++ - '0');
        int fresh; stream_t *s = seq_find(&c->seq, key, kl, &fresh);
        if (fresh) seq_streams++;
        else {
            seq_checked++;
            if (v == (uint64_t)s->last + 1) { /* in order */ }
            else if (v > s->last) { seq_missing += v - s->last - 1; seq_gap_events++; }
            else seq_backwards++;                         /* duplicate, reorder, or 2^31 wrap */
        }
        s->last = (uint32_t)v;
    }
}

/* Payload of one data frame (first or continuation). fin ends the message. */
static void on_payload(conn_t *c, const uint8_t *p, size_t n, int fin) {
#ifdef HAVE_ZLIB
    if (c->msg_compressed) {
        static uint8_t out[INFL_CHUNK];
        static const uint8_t tail[4] = { 0x00, 0x00, 0xff, 0xff };   /* RFC 7692 7.2.2 */
        if (!c->z_ready) {
            memset(&c->z, 0, sizeof c->z);
            if (inflateInit2(&c->z, -15) != Z_OK) { fprintf(stderr, "wsload: inflateInit2 failed\n"); exit(2); }
            c->z_ready = 1;
        }
        for (int pass = 0; pass < (fin ? 2 : 1); pass++) {
            c->z.next_in = (Bytef *)(pass ? tail : p); c->z.avail_in = pass ? 4 : (uInt)n;
            do {
                c->z.next_out = out; c->z.avail_out = sizeof out;
                int rc = inflate(&c->z, Z_SYNC_FLUSH);
                if (rc != Z_OK && rc != Z_BUF_ERROR) { fprintf(stderr, "wsload: inflate error %d\n", rc); n_proto_err++; drop(c); return; }
                size_t got = sizeof out - c->z.avail_out;
                if (measuring) payload_bytes += got;
                if (got && !c->msg_scanned) { inspect(c, (const char *)out, got); c->msg_scanned = 1; }
            } while (c->z.avail_out == 0);
        }
        if (fin && c->pmd_reset) inflateReset(&c->z);
    } else
#endif
    {
        if (measuring) payload_bytes += n;
        if (!c->msg_scanned && !c->msg_compressed) { inspect(c, (const char *)p, n); c->msg_scanned = 1; }
    }
    if (fin) {
        c->msgs_total++;
        if (measuring) c->msgs_window++;
        c->in_message = 0; c->msg_scanned = 0; c->msg_compressed = 0;
    }
}

static void protocol_error(conn_t *c, const char *why) {
    fprintf(stderr, "wsload: protocol error: %s\n", why);
    n_proto_err++;
    drop(c);
}

static void consume_frames(conn_t *c) {
    size_t at = 0, need = 0;
    while (c->state == C_OPEN) {
        uint8_t *f = c->rx + at; size_t have = c->rx_len - at;
        if (have < 2) break;
        size_t head = 2; uint64_t len = f[1] & 0x7F;
        if (len == 126) { if (have < 4) break; len = (uint64_t)f[2] << 8 | f[3]; head = 4; }
        else if (len == 127) { if (have < 10) break; len = 0; for (int i = 2; i < 10; i++) len = len << 8 | f[i]; head = 10; }
        int masked = f[1] & 0x80;
        if (masked) head += 4;                            /* servers must not mask; tolerate it */
        if (len > FRAME_MAX) { protocol_error(c, "frame too large"); return; }
        if (have < head + len) { need = head + len; break; }   /* incomplete: read more */
        uint8_t *data = f + head;
        if (masked) for (uint64_t i = 0; i < len; i++) data[i] ^= f[head - 4 + (i & 3)];
        int fin = f[0] >> 7, rsv1 = (f[0] >> 6) & 1, op = f[0] & 0x0F;
        at += head + len;
        if (op == 0x1 || op == 0x2) {
            if (c->in_message) { protocol_error(c, "new message inside a fragmented one"); return; }
            if (rsv1 && !c->pmd) { protocol_error(c, "RSV1 without permessage-deflate"); return; }
            c->in_message = 1; c->msg_compressed = rsv1; c->msg_scanned = 0;
            on_payload(c, data, len, fin);
        } else if (op == 0x0) {
            if (!c->in_message) { protocol_error(c, "continuation without a message"); return; }
            on_payload(c, data, len, fin);
        } else if (op == 0x8) {                           /* close: answer with the same code, drop */
            last_close_code = len >= 2 ? (data[0] << 8 | data[1]) : 1005;
            n_server_close++;
            if (n_server_close <= 3)
                fprintf(stderr, "wsload: server closed with %d %.*s\n", last_close_code, len > 2 ? (int)len - 2 : 0, (const char *)data + 2);
            send_masked(c, 0x8, data, len >= 2 ? 2 : 0);
            drop(c); return;
        } else if (op == 0x9) {
            send_masked(c, 0xA, data, len);
        } else if (op == 0xA) {
            /* unsolicited pong: ignore */
        } else { protocol_error(c, "reserved opcode"); return; }
    }
    if (c->state == C_DEAD) return;
    if (at) { memmove(c->rx, c->rx + at, c->rx_len - at); c->rx_len -= at; }
    if (need + 4096 > c->rx_cap) { c->rx_cap = need + 4096; c->rx = grow(c->rx, c->rx_cap); }
}

static void on_upgrade_reply(conn_t *c) {
    uint8_t *end = memmem(c->rx, c->rx_len, "\r\n\r\n", 4);
    if (!end) { if (c->rx_len >= 16384) protocol_error(c, "oversized upgrade reply"); return; }
    size_t hl = (size_t)(end + 4 - c->rx);
    char *hdr = malloc(hl + 1); if (!hdr) fatal("malloc");
    memcpy(hdr, c->rx, hl); hdr[hl] = 0;
    if (strncmp(hdr, "HTTP/1.1 101", 12) != 0) {
        if (n_failed < 3) fprintf(stderr, "wsload: upgrade refused: %.*s\n", (int)strcspn(hdr, "\r\n"), hdr);
        free(hdr); drop(c); return;
    }
    if (!strcasestr(hdr, ws_accept)) {
        fprintf(stderr, "wsload: bad Sec-WebSocket-Accept\n");
        free(hdr); drop(c); return;
    }
    char *ext = strcasestr(hdr, "\r\nSec-WebSocket-Extensions:");
    if (ext && opt_deflate) {
        char *eol = strstr(ext + 2, "\r\n"); char save = *eol; *eol = 0;
        c->pmd = strcasestr(ext, "permessage-deflate") != NULL;
        c->pmd_reset = strcasestr(ext, "server_no_context_takeover") != NULL;
        *eol = save;
    }
    free(hdr);
    memmove(c->rx, c->rx + hl, c->rx_len - hl); c->rx_len -= hl;
    c->state = C_OPEN; c->ever_open = 1; n_pending--; n_open++;
    if (opt_hello) send_masked(c, 0x1, (const uint8_t *)opt_hello, strlen(opt_hello));
    if (c->state == C_OPEN) consume_frames(c);
}

static void on_readable(conn_t *c) {
    for (int round = 0; round < 4 && c->state != C_DEAD; round++) {
        if (c->rx_cap - c->rx_len < 4096) { c->rx_cap = c->rx_cap * 2; c->rx = grow(c->rx, c->rx_cap); }
        ssize_t r = recv(c->fd, c->rx + c->rx_len, c->rx_cap - c->rx_len, 0);
        if (r < 0) { if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return; drop(c); return; }
        if (r == 0) { drop(c); return; }
        if (opt_lat_field) read_real_ns = now_real_ns();
        if (measuring) wire_bytes += (uint64_t)r;
        c->rx_len += (size_t)r;
        if (c->state == C_UPGRADING) on_upgrade_reply(c); else consume_frames(c);
        if ((size_t)r < 16384) return;                   /* socket probably drained */
    }
}

static struct addrinfo *target;

static void start_conn(conn_t *c) {
    c->fd = socket(target->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) fatal("socket");
    int one = 1; setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->rx_cap = RX_START; c->rx = grow(NULL, c->rx_cap);
    c->state = C_CONNECTING; n_pending++;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
    c->want_write = 1;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) fatal("epoll_ctl");
    if (connect(c->fd, target->ai_addr, target->ai_addrlen) < 0 && errno != EINPROGRESS) drop(c);
}

static void on_connected(conn_t *c) {
    int err = 0; socklen_t el = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) { drop(c); return; }
    char req[2048];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s"
                     "User-Agent: wsload\r\n\r\n",
                     url_path, url_host, url_port, ws_key,
                     opt_deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "");
    c->state = C_UPGRADING;
    tx_reserve(c, (size_t)n); memcpy(c->tx + c->tx_len, req, (size_t)n); c->tx_len += (size_t)n;
    pump_tx(c);
}

/* ------------------------------------------------------------------ main */
static void usage(void) {
    fputs("usage: wsload [options] ws://HOST:PORT/PATH\n"
          "  -c N     connections (1)                -w S  warm-up seconds after connect (2)\n"
          "  -d S     measured seconds (10)          -b N  handshakes in flight (64)\n"
          "  -m TEXT  hello sent after the upgrade   -f F  hello read from file F\n"
          "  -t FIELD latency from ISO-8601 field    -n FIELD latency from epoch-ns integer field\n"
          "  -s       count sequence gaps per (type, symbol_id)\n"
          "  -z       offer permessage-deflate       -T S  connect-phase timeout (30)\n"
          "  -B       busy-poll (epoll timeout 0)\n", stderr);
    exit(2);
}

static const char *slurp(const char *path) {
    FILE *f = fopen(path, "rb"); if (!f) fatal(path);
    static char buf[65536]; size_t n = fread(buf, 1, sizeof buf - 1, f); fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    buf[n] = 0; return buf;
}

int main(int argc, char **argv) {
    static const struct option longopts[] = { { "deflate", no_argument, 0, 'z' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 } };
    int o;
    while ((o = getopt_long(argc, argv, "c:w:d:b:m:f:t:n:szT:Bh", longopts, NULL)) != -1) {
        switch (o) {
        case 'c': opt_conns = atoi(optarg); break;
        case 'w': opt_warm = atof(optarg); break;
        case 'd': opt_secs = atof(optarg); break;
        case 'b': opt_inflight = atoi(optarg); break;
        case 'm': opt_hello = optarg; break;
        case 'f': opt_hello = slurp(optarg); break;
        case 't': opt_lat_field = optarg; opt_lat_iso = 1; break;
        case 'n': opt_lat_field = optarg; opt_lat_iso = 0; break;
        case 's': opt_seq = 1; break;
        case 'z': opt_deflate = 1; break;
        case 'T': opt_connect_timeout = atof(optarg); break;
        case 'B': opt_busy = 1; break;
        default: usage();
        }
    }
    if (optind != argc - 1 || opt_conns < 1 || opt_inflight < 1) usage();
    opt_url = argv[optind];
    if (strncmp(opt_url, "ws://", 5) != 0) { fprintf(stderr, "wsload: only ws:// URLs\n"); return 2; }
    {   /* ws://host[:port][/path] */
        const char *h = opt_url + 5, *slash = strchr(h, '/'), *hend = slash ? slash : h + strlen(h);
        const char *colon = memchr(h, ':', (size_t)(hend - h));
        size_t hl = (size_t)((colon ? colon : hend) - h);
        if (!hl || hl >= sizeof url_host) usage();
        memcpy(url_host, h, hl); url_host[hl] = 0;
        if (colon) { size_t pl = (size_t)(hend - colon - 1); if (!pl || pl >= sizeof url_port) usage(); memcpy(url_port, colon + 1, pl); url_port[pl] = 0; }
        if (slash) { if (strlen(slash) >= sizeof url_path) usage(); strcpy(url_path, slash); }
    }
    if (opt_lat_field) lat_key_len = (size_t)snprintf(lat_key, sizeof lat_key, "\"%s\"", opt_lat_field);
#ifndef HAVE_ZLIB
    if (opt_deflate) fprintf(stderr, "wsload: built without zlib: compressed messages are counted, not inflated\n");
#endif
    rng_state ^= (uint64_t)now_real_ns() * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
    {   /* one random key for all connections; expected accept computed once */
        uint8_t raw[16]; for (int i = 0; i < 16; i += 4) { uint32_t r = rnd32(); memcpy(raw + i, &r, 4); }
        base64(raw, 16, ws_key);
        char cat[128]; int n = snprintf(cat, sizeof cat, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", ws_key);
        uint8_t dig[20]; sha1((const uint8_t *)cat, (size_t)n, dig); base64(dig, 20, ws_accept);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    getrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)opt_conns + 32 > rl.rlim_cur) {
        fprintf(stderr, "wsload: ulimit -n is %lu, need %d: raise the hard limit\n", (unsigned long)rl.rlim_cur, opt_conns + 32);
        return 2;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    int gai = getaddrinfo(url_host, url_port, &hints, &target);
    if (gai) { fprintf(stderr, "wsload: %s: %s\n", url_host, gai_strerror(gai)); return 2; }
    if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) fatal("epoll_create1");
    conns = calloc((size_t)opt_conns, sizeof *conns); if (!conns) fatal("calloc");

    struct epoll_event events[512];
    int next = 0, phase = 0;                 /* 0 connecting, 1 warm-up, 2 measuring */
    double t_start = now_mono(), t_ready = 0, t_measure = 0, t_stop = 0, cpu_measure = 0, cpu_stop = 0;
    for (;;) {
        while (next < opt_conns && n_pending < opt_inflight) start_conn(&conns[next++]);
        double t = now_mono();
        if (phase == 0 && ((next == opt_conns && n_pending == 0) || t - t_start > opt_connect_timeout)) {
            phase = 1; t_ready = t;
            fprintf(stderr, "ready open=%d failed=%d connect_s=%.3f\n", n_open, n_failed + n_pending, t - t_start);
            fflush(stderr);
        }
        if (phase == 1 && t - t_ready >= opt_warm) { phase = 2; measuring = 1; t_measure = t; cpu_measure = cpu_s(); }
        if (phase == 2 && t - t_measure >= opt_secs) { t_stop = t; cpu_stop = cpu_s(); break; }
        if (phase >= 1 && n_open == 0 && n_pending == 0) {    /* nothing left to measure */
            if (phase == 1) { t_measure = t; cpu_measure = cpu_s(); }
            t_stop = t; cpu_stop = cpu_s(); break;
        }
        double deadline = phase == 0 ? t + 0.05 : phase == 1 ? t_ready + opt_warm : t_measure + opt_secs;
        int timeout = (int)((deadline - t) * 1000) + 1;
        if (timeout > 50) timeout = 50;
        if (opt_busy && phase) timeout = 0;
        int k = epoll_wait(epfd, events, 512, timeout);
        if (k < 0 && errno != EINTR) fatal("epoll_wait");
        for (int i = 0; i < k; i++) {
            conn_t *c = events[i].data.ptr;
            uint32_t e = events[i].events;
            if (c->state == C_DEAD) continue;
            if (c->state == C_CONNECTING) { if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(c); continue; }
            if ((e & EPOLLOUT) && c->tx_len) pump_tx(c);
            if (c->state != C_DEAD && (e & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(c);
        }
    }

    double secs = t_stop - t_measure; if (secs <= 0) secs = 1e-9;
    uint64_t msgs = 0, total = 0, lo = UINT64_MAX, hi = 0; int established = 0, pmd = 0;
    for (int i = 0; i < opt_conns; i++) {
        conn_t *c = &conns[i];
        if (!c->ever_open) continue;
        established++; pmd += c->pmd; msgs += c->msgs_window; total += c->msgs_total;
        if (c->msgs_window < lo) lo = c->msgs_window;
        if (c->msgs_window > hi) hi = c->msgs_window;
    }
    if (!established) lo = 0;
    printf("{\"url\":\"%s\",\"connections\":%d,\"established\":%d,\"open_at_end\":%d,\"connect_failures\":%d,"
           "\"disconnects\":%d,\"server_closes\":%d,\"last_close_code\":%d,\"protocol_errors\":%d,\"deflate_conns\":%d,"
           "\"seconds\":%.3f,\"messages\":%llu,\"messages_total\":%llu,\"msgs_per_s\":%.1f,"
           "\"per_conn_min_msgs\":%llu,\"per_conn_max_msgs\":%llu,"
           "\"wire_bytes\":%llu,\"payload_bytes\":%llu,\"wire_bytes_per_s\":%.1f,\"payload_bytes_per_s\":%.1f,"
           "\"wire_bytes_per_msg\":%.2f,\"payload_bytes_per_msg\":%.2f,\"client_cpu_pct\":%.1f",
           opt_url, opt_conns, established, n_open, n_failed + n_pending, n_disconnected, n_server_close,
           last_close_code, n_proto_err, pmd, secs, (unsigned long long)msgs, (unsigned long long)total, msgs / secs,
           (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)wire_bytes,
           (unsigned long long)payload_bytes, wire_bytes / secs, payload_bytes / secs,
           msgs ? (double)wire_bytes / msgs : 0.0, msgs ? (double)payload_bytes / msgs : 0.0,
           100.0 * (cpu_stop - cpu_measure) / secs);
    if (opt_lat_field)
        printf(",\"latency_us\":{\"field\":\"%s\",\"samples\":%llu,\"missing\":%llu,\"negative\":%llu,"
               "\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
               opt_lat_field, (unsigned long long)lat_count, (unsigned long long)lat_missing,
               (unsigned long long)lat_negative, lat_count ? lat_sum_ns / lat_count / 1e3 : 0.0,
               lat_quantile_us(0.5), lat_quantile_us(0.9), lat_quantile_us(0.99), lat_quantile_us(0.999),
               lat_max_ns / 1e3);
    if (opt_seq)
        printf(",\"sequence\":{\"streams\":%llu,\"checked\":%llu,\"missing\":%llu,\"gap_events\":%llu,"
               "\"backwards\":%llu,\"unparsed\":%llu}",
               (unsigned long long)seq_streams, (unsigned long long)seq_checked, (unsigned long long)seq_missing,
               (unsigned long long)seq_gap_events, (unsigned long long)seq_backwards, (unsigned long long)seq_unparsed);
    printf("}\n");
    return 0;
}
