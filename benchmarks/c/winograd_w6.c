/* A measurement, not part of ndconv: the layer's forward pass on W6 (batch 8,
   56x56 pixels, 64 -> 64 channels, 3x3 "same", zero padding, channels_last,
   float32) by Winograd's F(2x2, 3x3), AVX2+FMA, to see whether it closes the
   AVX2 build's gap to oneDNN's AVX-512 kernel (issue 12: the AVX2 layer runs
   near the AVX2 FMA peak, so only fewer multiplies can).  Each 2x2 output tile
   takes 16 products per channel pair instead of 36.

   Layout: U[16][C][O] = G g G^T (the weights, per call); per work item (one
   image's row of 28 tiles) V[16][28][C] = B^T d B and M[16][28][O] = V U (16
   small GEMMs, 4 tiles x 16 outputs per register block), then Y = A^T M A.
   The result is checked against a float64 direct sum at sampled outputs
   (the ends of the rows and columns among them), and the program fails if an
   error exceeds float32's epsilon times the sum of the absolute terms.

   make winograd && ./winograd_w6      (x86-64 with AVX2) */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <omp.h>

enum { B = 8, H = 56, W = 56, C = 64, O = 64, TH = H / 2, TW = W / 2 };

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }

/* w[o][c][3][3] -> U[16][C][O] */
static void wtrans(const float* w, float* U) {
    for (int o = 0; o < O; o++) for (int c = 0; c < C; c++) {
        const float* g = w + (o * C + c) * 9;
        float t[4][3];
        for (int j = 0; j < 3; j++) {
            t[0][j] = g[0 * 3 + j];
            t[1][j] = 0.5f * (g[0 * 3 + j] + g[1 * 3 + j] + g[2 * 3 + j]);
            t[2][j] = 0.5f * (g[0 * 3 + j] - g[1 * 3 + j] + g[2 * 3 + j]);
            t[3][j] = g[2 * 3 + j];
        }
        for (int i = 0; i < 4; i++) {
            float u[4];
            u[0] = t[i][0];
            u[1] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
            u[2] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
            u[3] = t[i][2];
            for (int j = 0; j < 4; j++) U[((i * 4 + j) * C + c) * O + o] = u[j];
        }
    }
}

/* one tile row (b, ti): V[16][TW][C], M[16][TW][O] scratch */
static void tile_row(const float* x, const float* U, const float* bias, float* y, int b, int ti,
                     float* V, float* M) {
    const __m256 z = _mm256_setzero_ps();
    for (int tj = 0; tj < TW; tj++) {
        for (int cv = 0; cv < C; cv += 8) {
            __m256 d[4][4];
            for (int r = 0; r < 4; r++) {
                int h = 2 * ti - 1 + r;
                for (int s = 0; s < 4; s++) {
                    int ww = 2 * tj - 1 + s;
                    d[r][s] = (h < 0 || h >= H || ww < 0 || ww >= W) ? z
                        : _mm256_loadu_ps(x + (((size_t)b * H + h) * W + ww) * C + cv);
                }
            }
            __m256 t[4][4];
            for (int s = 0; s < 4; s++) {
                t[0][s] = _mm256_sub_ps(d[0][s], d[2][s]);
                t[1][s] = _mm256_add_ps(d[1][s], d[2][s]);
                t[2][s] = _mm256_sub_ps(d[2][s], d[1][s]);
                t[3][s] = _mm256_sub_ps(d[1][s], d[3][s]);
            }
            for (int r = 0; r < 4; r++) {
                __m256 v0 = _mm256_sub_ps(t[r][0], t[r][2]);
                __m256 v1 = _mm256_add_ps(t[r][1], t[r][2]);
                __m256 v2 = _mm256_sub_ps(t[r][2], t[r][1]);
                __m256 v3 = _mm256_sub_ps(t[r][1], t[r][3]);
                _mm256_storeu_ps(V + ((r * 4 + 0) * TW + tj) * C + cv, v0);
                _mm256_storeu_ps(V + ((r * 4 + 1) * TW + tj) * C + cv, v1);
                _mm256_storeu_ps(V + ((r * 4 + 2) * TW + tj) * C + cv, v2);
                _mm256_storeu_ps(V + ((r * 4 + 3) * TW + tj) * C + cv, v3);
            }
        }
    }
    /* 16 GEMMs [TW x C] x [C x O], 4 tiles x 16 outputs per block */
    for (int p = 0; p < 16; p++) {
        const float* Vp = V + p * TW * C;
        const float* Up = U + p * C * O;
        float* Mp = M + p * TW * O;
        for (int t0 = 0; t0 < TW; t0 += 4) {
            for (int o0 = 0; o0 < O; o0 += 16) {
                __m256 a00 = z, a01 = z, a10 = z, a11 = z, a20 = z, a21 = z, a30 = z, a31 = z;
                const float* v = Vp + t0 * C;
                for (int c = 0; c < C; c++) {
                    __m256 u0 = _mm256_loadu_ps(Up + c * O + o0);
                    __m256 u1 = _mm256_loadu_ps(Up + c * O + o0 + 8);
                    __m256 b0 = _mm256_broadcast_ss(v + c);
                    __m256 b1 = _mm256_broadcast_ss(v + C + c);
                    __m256 b2 = _mm256_broadcast_ss(v + 2 * C + c);
                    __m256 b3 = _mm256_broadcast_ss(v + 3 * C + c);
                    a00 = _mm256_fmadd_ps(b0, u0, a00); a01 = _mm256_fmadd_ps(b0, u1, a01);
                    a10 = _mm256_fmadd_ps(b1, u0, a10); a11 = _mm256_fmadd_ps(b1, u1, a11);
                    a20 = _mm256_fmadd_ps(b2, u0, a20); a21 = _mm256_fmadd_ps(b2, u1, a21);
                    a30 = _mm256_fmadd_ps(b3, u0, a30); a31 = _mm256_fmadd_ps(b3, u1, a31);
                }
                float* m = Mp + t0 * O + o0;
                _mm256_storeu_ps(m, a00); _mm256_storeu_ps(m + 8, a01);
                _mm256_storeu_ps(m + O, a10); _mm256_storeu_ps(m + O + 8, a11);
                _mm256_storeu_ps(m + 2 * O, a20); _mm256_storeu_ps(m + 2 * O + 8, a21);
                _mm256_storeu_ps(m + 3 * O, a30); _mm256_storeu_ps(m + 3 * O + 8, a31);
            }
        }
    }
    /* output transform A^T m A, A^T = [[1,1,1,0],[0,1,-1,-1]] */
    for (int tj = 0; tj < TW; tj++) {
        for (int ov = 0; ov < O; ov += 8) {
            __m256 m[4][4];
            for (int p = 0; p < 16; p++) m[p / 4][p % 4] = _mm256_loadu_ps(M + (p * TW + tj) * O + ov);
            __m256 r[2][4];
            for (int s = 0; s < 4; s++) {
                r[0][s] = _mm256_add_ps(_mm256_add_ps(m[0][s], m[1][s]), m[2][s]);
                r[1][s] = _mm256_sub_ps(_mm256_sub_ps(m[1][s], m[2][s]), m[3][s]);
            }
            __m256 bb = _mm256_loadu_ps(bias + ov);
            for (int i = 0; i < 2; i++) {
                __m256 y0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(r[i][0], r[i][1]), r[i][2]), bb);
                __m256 y1 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(r[i][1], r[i][2]), r[i][3]), bb);
                float* yo = y + (((size_t)b * H + 2 * ti + i) * W + 2 * tj) * O + ov;
                _mm256_storeu_ps(yo, y0);
                _mm256_storeu_ps(yo + O, y1);
            }
        }
    }
}

static void forward(const float* x, const float* U, const float* bias, float* y, int nt) {
    #pragma omp parallel num_threads(nt)
    {
        float* V = aligned_alloc(64, 16 * TW * C * sizeof(float));
        float* M = aligned_alloc(64, 16 * TW * O * sizeof(float));
        #pragma omp for schedule(static)
        for (int it = 0; it < B * TH; it++) tile_row(x, U, bias, y, it / TH, it % TH, V, M);
        free(V); free(M);
    }
}

int main(void) {
    size_t nx = (size_t)B * H * W * C, ny = (size_t)B * H * W * O;
    float* x = aligned_alloc(64, nx * 4); float* y = aligned_alloc(64, ny * 4);
    float* w = malloc(O * C * 9 * 4); float* U = aligned_alloc(64, 16 * C * O * 4); float* bias = calloc(O, 4);
    srand(1);
    for (size_t i = 0; i < nx; i++) x[i] = rand() / (float)RAND_MAX * 2 - 1;
    for (int i = 0; i < O * C * 9; i++) w[i] = (rand() / (float)RAND_MAX * 2 - 1) / 24.0f;
    for (int o = 0; o < O; o++) bias[o] = 0.01f * o;
    wtrans(w, U);
    forward(x, U, bias, y, 1);
    /* check against a float64 direct sum at sampled outputs */
    double maxerr = 0, maxref = 0, maxabs = 0;
    for (int sidx = 0; sidx < 4000; sidx++) {
        int b = rand() % B, h = rand() % H, ww = rand() % W, o = rand() % O;
        if (sidx < 8) { h = (sidx & 1) ? H - 1 : 0; ww = (sidx & 2) ? W - 1 : 0; }
        double s = bias[o], sa = fabs(bias[o]);
        for (int c = 0; c < C; c++) for (int i = 0; i < 3; i++) for (int j = 0; j < 3; j++) {
            int hh = h + i - 1, w2 = ww + j - 1;
            if (hh < 0 || hh >= H || w2 < 0 || w2 >= W) continue;
            double t = (double)x[(((size_t)b * H + hh) * W + w2) * C + c] * w[(o * C + c) * 9 + i * 3 + j];
            s += t; sa += fabs(t);
        }
        double e = fabs(y[(((size_t)b * H + h) * W + ww) * O + o] - s);
        if (e > maxerr) maxerr = e;
        if (fabs(s) > maxref) maxref = fabs(s);
        if (e / sa > maxabs) maxabs = e / sa;
    }
    printf("max abs err %.3g (max |ref| %.3g); max err / sum|terms| %.3g (float32 eps %.3g, taps %d)\n",
           maxerr, maxref, maxabs, 1.19e-7, C * 9);
    if (!(maxabs <= 1.19e-7)) {
        fprintf(stderr, "error beyond the bound\n");
        return 1;
    }
    for (int nt = 1; nt <= 2; nt++) {
        double best[31];
        for (int r = 0; r < 31; r++) { double t0 = now(); forward(x, U, bias, y, nt); best[r] = now() - t0; }
        for (int i = 0; i < 31; i++) for (int j = i + 1; j < 31; j++) if (best[j] < best[i]) { double t = best[i]; best[i] = best[j]; best[j] = t; }
        double t0 = now(); for (int r = 0; r < 20; r++) wtrans(w, U); double tw = (now() - t0) / 20;
        printf("%d thread(s): median %.2f ms (min %.2f), weight transform %.3f ms; %.1f GFLOP/s direct-equivalent\n",
               nt, best[15] * 1e3, best[0] * 1e3, tw * 1e3, 2.0 * B * H * W * O * C * 9 / best[15] / 1e9);
    }
    return 0;
}
