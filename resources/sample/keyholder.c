/*
 * keyholder: a tiny process that holds a throw-away DEMO key in memory so that make_sample.sh can take
 * a real gcore of it. DEMO KEY — throw-away, not a secret.
 *
 * Usage: keyholder KEY.pem KEY.der
 * Reads both files into malloc'd buffers (the PEM as text, the DER as bytes), prints one line of JSON
 * with its pid and the buffer addresses, then sleeps until killed. The buffers are kept reachable from
 * globals so that nothing (compiler or allocator) can drop them before the core is written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char *volatile g_pem;
static unsigned char *volatile g_der;
static volatile size_t g_pem_len, g_der_len;

/* Read a whole file into a fresh malloc'd buffer; exit with a message when that is not possible. */
static unsigned char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    if (fseek(f, 0, SEEK_END) != 0) { perror(path); exit(2); }
    long n = ftell(f);
    if (n <= 0) { fprintf(stderr, "%s: empty or unreadable\n", path); exit(2); }
    rewind(f);
    unsigned char *buf = malloc((size_t)n + 1);
    if (!buf) { perror("malloc"); exit(2); }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) { perror(path); exit(2); }
    buf[n] = 0;
    fclose(f);
    *len_out = (size_t)n;
    return buf;
}

int main(int argc, char **argv)
{
    size_t pem_len, der_len;
    if (argc != 3) { fprintf(stderr, "usage: %s KEY.pem KEY.der\n", argv[0]); return 2; }
    g_pem = (char *)slurp(argv[1], &pem_len);
    g_der = slurp(argv[2], &der_len);
    g_pem_len = pem_len;
    g_der_len = der_len;
    printf("{\"pid\": %ld, \"pem_addr\": %lu, \"pem_len\": %lu, \"der_addr\": %lu, \"der_len\": %lu}\n",
           (long)getpid(), (unsigned long)(size_t)g_pem, (unsigned long)pem_len,
           (unsigned long)(size_t)g_der, (unsigned long)der_len);
    fflush(stdout);
    for (;;)
        pause(); /* until make_sample.sh kills us */
}
