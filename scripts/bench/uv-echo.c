/* The floor for scripts/bench-transport: a minimal echo server and a pipelining client on raw
 * libuv, with the same framing as Lattice (4-byte big-endian length + body). No envelopes, no
 * call table, no threads: what a round trip costs on this machine with nothing on top.
 *
 *   uv-echo server PORT
 *   uv-echo client PORT SIZE INFLIGHT SECONDS     prints: calls p50_us p99_us calls_per_s
 */
#include <uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

typedef struct {
    uv_tcp_t tcp;
    char *buf;          /* bytes received, not yet consumed */
    size_t len, cap;
} conn_t;

static uv_loop_t *loop;

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
    (void)h; (void)suggested;
    static char slab[256 * 1024];
    *b = uv_buf_init(slab, sizeof slab);
}

static void append(conn_t *c, const char *data, size_t n) {
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2;
        c->buf = realloc(c->buf, c->cap);
    }
    memcpy(c->buf + c->len, data, n);
    c->len += n;
}

static uint32_t be32(const char *p) {
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

typedef struct { uv_write_t req; char *data; } write_t;

static void on_written(uv_write_t *req, int status) {
    (void)status;
    write_t *w = (write_t *)req;
    free(w->data);
    free(w);
}

static void send_copy(uv_stream_t *s, const char *data, size_t n) {
    write_t *w = malloc(sizeof *w);
    w->data = malloc(n);
    memcpy(w->data, data, n);
    uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
    uv_write(&w->req, s, &b, 1, on_written);
}

static void on_closed(uv_handle_t *h) {
    conn_t *c = (conn_t *)h;
    free(c->buf);
    free(c);
}

/* ---- server: echo every complete frame back ---- */

static void server_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    conn_t *c = (conn_t *)s;
    if (n < 0) { uv_close((uv_handle_t *)s, on_closed); return; }
    append(c, b->base, (size_t)n);
    size_t off = 0;
    while (c->len - off >= 4) {
        uint32_t len = be32(c->buf + off);
        if (c->len - off - 4 < len) break;
        off += 4 + len;
    }
    if (off == 0) return;
    send_copy(s, c->buf, off);   /* every complete frame of this read, one write */
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
}

static void on_connection(uv_stream_t *server, int status) {
    if (status < 0) return;
    conn_t *c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) { uv_close((uv_handle_t *)&c->tcp, on_closed); return; }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, server_read);
}

/* ---- client: keep INFLIGHT frames outstanding, time each round trip ---- */

static conn_t client;
static char *request;
static size_t request_len;
static uint64_t *sent_at;      /* ring of send times, FIFO since the server answers in order */
static size_t ring, head, tail;
static uint64_t *samples;
static size_t nsamples, max_samples;
static uint64_t end_ns, start_ns;
static int done;

/* Sends k requests in one write (k answers just arrived: keep the pipeline full). */
static void send_many(size_t k) {
    if (k == 0) return;
    uint64_t now = uv_hrtime();
    char *batch = malloc(k * request_len);
    for (size_t i = 0; i < k; i++) {
        sent_at[head++ % ring] = now;
        memcpy(batch + i * request_len, request, request_len);
    }
    write_t *w = malloc(sizeof *w);
    w->data = batch;
    uv_buf_t b = uv_buf_init(batch, (unsigned)(k * request_len));
    uv_write(&w->req, (uv_stream_t *)&client.tcp, &b, 1, on_written);
}

static void client_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    if (n < 0) { fprintf(stderr, "uv-echo client: server closed: %s\n", uv_strerror((int)n)); exit(1); }
    append(&client, b->base, (size_t)n);
    size_t off = 0, again = 0;
    uint64_t now = uv_hrtime();
    while (client.len - off >= 4) {
        uint32_t len = be32(client.buf + off);
        if (client.len - off - 4 < len) break;
        off += 4 + len;
        uint64_t rtt = now - sent_at[tail++ % ring];
        if (nsamples < max_samples) samples[nsamples++] = rtt;
        if (now < end_ns) again++;
    }
    if (off == 0) return;
    send_many(again);
    memmove(client.buf, client.buf + off, client.len - off);
    client.len -= off;
    if (now >= end_ns && tail == head) { done = 1; uv_read_stop(s); uv_close((uv_handle_t *)s, NULL); }
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static size_t inflight_arg;

static void on_connect(uv_connect_t *req, int status) {
    (void)req;
    if (status < 0) { fprintf(stderr, "uv-echo client: connect: %s\n", uv_strerror(status)); exit(1); }
    uv_tcp_nodelay(&client.tcp, 1);
    uv_read_start((uv_stream_t *)&client.tcp, on_alloc, client_read);
    start_ns = uv_hrtime();
    send_many(inflight_arg);
}

int main(int argc, char **argv) {
    loop = uv_default_loop();
    if (argc == 3 && strcmp(argv[1], "server") == 0) {
        uv_tcp_t server;
        struct sockaddr_in addr;
        uv_tcp_init(loop, &server);
        uv_ip4_addr("127.0.0.1", atoi(argv[2]), &addr);
        int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
        if (rc == 0) rc = uv_listen((uv_stream_t *)&server, 128, on_connection);
        if (rc != 0) { fprintf(stderr, "uv-echo server: %s\n", uv_strerror(rc)); return 1; }
        return uv_run(loop, UV_RUN_DEFAULT);
    }
    if (argc == 6 && strcmp(argv[1], "client") == 0) {
        size_t size = (size_t)atol(argv[3]);
        inflight_arg = (size_t)atol(argv[4]);
        double seconds = atof(argv[5]);
        request_len = 4 + size;
        request = calloc(1, request_len);
        request[0] = (char)(size >> 24); request[1] = (char)(size >> 16); request[2] = (char)(size >> 8); request[3] = (char)size;
        ring = inflight_arg + 1;
        sent_at = calloc(ring, sizeof *sent_at);
        max_samples = 20 * 1000 * 1000;
        samples = malloc(max_samples * sizeof *samples);
        uv_tcp_init(loop, &client.tcp);
        struct sockaddr_in addr;
        uv_ip4_addr("127.0.0.1", atoi(argv[2]), &addr);
        uv_connect_t req;
        end_ns = uv_hrtime() + (uint64_t)(seconds * 1e9);
        uv_tcp_connect(&req, &client.tcp, (const struct sockaddr *)&addr, on_connect);
        uv_run(loop, UV_RUN_DEFAULT);
        double elapsed = (double)(uv_hrtime() - start_ns) / 1e9;
        qsort(samples, nsamples, sizeof *samples, cmp);
        printf("%zu %.1f %.1f %.0f\n", nsamples, samples[nsamples / 2] / 1e3, samples[(size_t)(nsamples * 0.99)] / 1e3, nsamples / elapsed);
        return 0;
    }
    fprintf(stderr, "usage: uv-echo server PORT | uv-echo client PORT SIZE INFLIGHT SECONDS\n");
    return 2;
}
