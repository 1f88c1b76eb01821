/* A STREAM-style reference for `descent bench optim`: the memory bandwidth of in-place loops over
 * 10^7 floats, the size bench optim steps, split over OpenMP threads, compiled for this CPU. The
 * loops have the traffic of the optimizers' steps: "add" is a[i] += s*b[i] (read 2 arrays, write
 * 1: 12 bytes per element, SGD's traffic), "adam" reads 4 and writes 3 (28 bytes, Adam's). Prints
 * the best and median GB/s of 20 runs after 2 warm-ups, counting bytes as bench optim does.
 *
 *   gcc -O3 -march=native -fopenmp tools/stream.c -o /tmp/stream && OMP_NUM_THREADS=2 /tmp/stream
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#define N 10000000
#define RUNS 20

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report(const char *name, double bytes, double *seconds) {
    qsort(seconds, RUNS, sizeof(double), compare);
    printf("%-5s %2d bytes/elem: best %.1f GB/s, median %.1f GB/s (%d threads)\n", name, (int)(bytes / N),
           bytes / seconds[0] / 1e9, bytes / seconds[RUNS / 2] / 1e9, omp_get_max_threads());
}

int main(void) {
    float *p = malloc(N * sizeof(float)), *g = malloc(N * sizeof(float));
    float *s = malloc(N * sizeof(float)), *r = malloc(N * sizeof(float));
#pragma omp parallel for schedule(static)
    for (long i = 0; i < N; i++) {
        p[i] = 0.1f; g[i] = 0.2f; s[i] = 0.0f; r[i] = 0.0f;
    }
    double seconds[RUNS];
    for (int run = -2; run < RUNS; run++) {
        double start = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (long i = 0; i < N; i++) p[i] += 1e-3f * g[i];
        if (run >= 0) seconds[run] = omp_get_wtime() - start;
    }
    report("add", 12.0 * N, seconds);
    for (int run = -2; run < RUNS; run++) {
        double start = omp_get_wtime();
#pragma omp parallel for schedule(static)
        for (long i = 0; i < N; i++) {
            s[i] = 0.9f * s[i] + 0.1f * g[i];
            r[i] = 0.999f * r[i] + 0.001f * g[i] * g[i];
            p[i] -= 1e-3f * s[i] / (r[i] + 1e-8f);
        }
        if (run >= 0) seconds[run] = omp_get_wtime() - start;
    }
    report("adam", 28.0 * N, seconds);
    printf("(checksum %g)\n", (double)p[N / 2]);
    return 0;
}
