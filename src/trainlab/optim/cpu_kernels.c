/* Multi-tensor CPU kernels for the optimizers torch has no fused CPU kernel for.
 *
 * Built and loaded by trainlab/optim/cpu_kernels.py, once per scalar type:
 *   cc -O3 -march=native -fno-math-errno -ffp-contract=off -fopenmp -DSCALAR=float -DSUFFIX=_f32
 * and linked against the OpenMP runtime torch has loaded (see kernel_build.py). Built without
 * OpenMP (-fopenmp-simd), the same code runs on one thread.
 *
 * Every kernel updates n tensors (parameter P, gradient G and the optimizer's state buffers,
 * all contiguous, all of the same scalar type) in ONE pass over memory: each element is read
 * once and written once. The n tensors are treated as one concatenated range that is cut
 * into equal parts, one per thread, in a single OpenMP parallel region (no barrier per tensor).
 * Before that, a serial pass over the n tensors updates their 0-d scalar states (the step
 * counter, ASGD's eta and mu, NAdam's mu_product) the way the eager transforms do, and
 * computes the per-tensor coefficients that depend on the step (bias corrections).
 * Hyperparameters come in a struct.
 *
 * The element-wise formulas are those of trainlab.optim's transform chains (the docstrings of
 * scale_by_rms, scale_by_adadelta, scale_by_adamax, scale_by_nadam, scale_by_asgd,
 * average_iterates and scale_by_rprop give them with their references), in the same order
 * of operations, so the result equals the single-tensor path up to rounding.
 */
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <tgmath.h>
#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#ifndef SCALAR
#define SCALAR float
#define SUFFIX _f32
#endif
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define NAME(x) CAT(x, SUFFIX)
typedef SCALAR T;

/* ----------------------------------------------------------------------- the driver */

typedef void (*span_fn)(const void *args, int64_t k, int64_t s, int64_t e);

/* Call fn(args, k, s, e) for every part [s, e) of tensor k, the parts covering the
 * concatenation of the n tensors split evenly over nthreads threads (cut at multiples of
 * 16 elements so no two threads write the same cache line). */
static void NAME(run_spans)(int64_t n, const int64_t *numel, int nthreads, span_fn fn,
                            const void *args) {
  int64_t total = 0;
  for (int64_t k = 0; k < n; k++) total += numel[k];
#ifdef _OPENMP
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
#endif
  {
#ifdef _OPENMP
    const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
#else
    const int tid = 0, nt = 1;
    (void)nthreads;
#endif
    const int64_t lo = (total * tid / nt) & ~(int64_t)15;
    const int64_t hi = tid == nt - 1 ? total : ((total * (tid + 1) / nt) & ~(int64_t)15);
    int64_t off = 0;
    for (int64_t k = 0; k < n && off < hi; off += numel[k], k++) {
      const int64_t s = lo > off ? lo - off : 0;
      const int64_t e = hi < off + numel[k] ? hi - off : numel[k];
      if (s < e) fn(args, k, s, e);
    }
  }
}

/* What every chain shares: [maximize] [L2 decay | ... decoupled decay] ... -lr * u, and the
 * per-tensor 0-d scalar states: step counters (float or double, flag step_f64) and up to two
 * algorithm scalars s1, s2 (flag scalar_f64). coef is scratch for per-tensor coefficients. */
typedef struct {
  T **p, **g;
  void **step, **s1, **s2;
  int64_t n;
  const int64_t *numel;
  double lr, weight_decay;
  int maximize, decoupled, step_f64, scalar_f64;
  double *coef;
} common_args;

static inline double get_scalar(void *p, int f64) {
  return f64 ? *(double *)p : (double)*(float *)p;
}

/* store v in the scalar's dtype; returns the value as stored */
static inline double set_scalar(void *p, int f64, double v) {
  if (f64) return *(double *)p = v;
  return *(float *)p = (float)v;
}

/* step <- step + 1 (in the counter's dtype); returns the new count */
static inline double next_step(const common_args *c, int64_t k) {
  void *t = c->step[k];
  if (c->step_f64) return *(double *)t += 1.0;
  return *(float *)t += 1.0f;
}

/* run spans with n coefficients per tensor in c->coef (filled by the caller's pre-pass) */
static int NAME(with_coef)(common_args *c, int64_t per_tensor) {
  c->coef = per_tensor ? malloc((size_t)(c->n * per_tensor) * sizeof(double)) : NULL;
  return per_tensor == 0 || c->coef != NULL;
}

/* the kernels without per-tensor coefficients: step counters, then the element pass */
static int NAME(steps_then_spans)(common_args *c, span_fn fn, const void *x, int nthreads) {
  for (int64_t k = 0; k < c->n; k++) next_step(c, k);
  NAME(run_spans)(c->n, c->numel, nthreads, fn, x);
  return 0;
}

/* The shared prologue and epilogue as loop-invariant coefficients, so the loops have no
 * branches and vectorize: g <- sgn g + l2 w (maximize: sgn = -1; L2 decay: l2 = wd) and
 * w <- w - lr (u + dwd w) (decoupled decay: dwd = wd). Multiplying by 1 or adding 0 * w
 * changes nothing for finite weights. Each loop is compiled twice (PLAIN_SPAN): for the
 * common case without maximize and weight decay ("plain", the prologue is g <- g and the
 * epilogue w <- w - lr u, fewer operations per element), and for the general case. */
typedef struct {
  T sgn, l2, dwd, nlr;
} coefs;

static inline coefs NAME(coefs_of)(const common_args *c) {
  coefs cf = {c->maximize ? (T)-1 : (T)1, c->decoupled ? (T)0 : (T)c->weight_decay,
             c->decoupled ? (T)c->weight_decay : (T)0, (T)(-c->lr)};
  return cf;
}

static inline int is_plain(const common_args *c) { return !c->maximize && c->weight_decay == 0; }

static inline T NAME(grad_in)(coefs cf, int plain, T g, T p) {
  return plain ? g : cf.sgn * g + cf.l2 * p;
}

static inline T NAME(apply)(coefs cf, int plain, T u, T p) {
  return plain ? p + cf.nlr * u : p + cf.nlr * (u + cf.dwd * p);
}

#define INLINE static inline __attribute__((always_inline))

/* the span function of kernel `name`: its loop with plain a compile-time constant */
#define PLAIN_SPAN(name)                                                          \
  static void NAME(name##_span)(const void *va, int64_t k, int64_t s, int64_t e) { \
    const name##_args *x = va;                                                    \
    if (is_plain(&x->c))                                                          \
      NAME(name##_loop)(x, k, s, e, 1);                                           \
    else                                                                          \
      NAME(name##_loop)(x, k, s, e, 0);                                           \
  }

/* torch.lerp's formula: start + w (end - start), or end - (end - start)(1 - w) for w >= 0.5 */
static inline T NAME(lerp)(T start, T end, T w) {
  return w < (T)0.5 ? start + w * (end - start) : end - (end - start) * ((T)1 - w);
}

/* max that propagates NaN, as torch.maximum */
static inline T NAME(nanmax)(T a, T b) { return (a != a || a > b) ? a : b; }

/* ----------------------------------------------------------------------- RMSprop */

typedef struct {
  common_args c;
  T **square_avg, **grad_avg, **momentum_buffer;
  double alpha, eps, momentum;
  int centered, eps_in_sqrt;
} rmsprop_args;

/* one loop per combination of the flags (constants after inlining), each vectorized */
INLINE void NAME(rmsprop_loop)(const rmsprop_args *x, int64_t k, int64_t s, int64_t e,
                               const int plain, const int centered, const int momentum,
                               const int eps_in_sqrt) {
  const coefs cf = NAME(coefs_of)(&x->c);
  T *restrict P = x->c.p[k], *restrict G = x->c.g[k], *restrict V = x->square_avg[k];
  T *restrict GA = centered ? x->grad_avg[k] : NULL;
  T *restrict B = momentum ? x->momentum_buffer[k] : NULL;
  const T a = (T)x->alpha, b = (T)(1 - x->alpha), eps = (T)x->eps, mom = (T)x->momentum;
#pragma omp simd
  for (int64_t i = s; i < e; i++) {
    const T p = P[i], g = NAME(grad_in)(cf, plain, G[i], p);
    const T v = V[i] * a + b * g * g;
    V[i] = v;
    T avg = v;
    if (centered) {
      const T ga = NAME(lerp)(GA[i], g, b);
      GA[i] = ga;
      avg = v - ga * ga;
    }
    T u = g / (eps_in_sqrt ? sqrt(avg + eps) : sqrt(avg) + eps);
    if (momentum) {
      u = B[i] * mom + u;
      B[i] = u;
    }
    P[i] = NAME(apply)(cf, plain, u, p);
  }
}

static void NAME(rmsprop_span)(const void *va, int64_t k, int64_t s, int64_t e) {
  const rmsprop_args *x = va;
  const int p = is_plain(&x->c), c = x->centered != 0, m = x->momentum > 0;
  const int q = x->eps_in_sqrt != 0;
#define RMSPROP_CASE(P, C, M, Q)                 \
  if (p == P && c == C && m == M && q == Q) {    \
    NAME(rmsprop_loop)(x, k, s, e, P, C, M, Q);  \
    return;                                      \
  }
  RMSPROP_CASE(1, 0, 0, 0) RMSPROP_CASE(1, 0, 0, 1) RMSPROP_CASE(1, 0, 1, 0)
  RMSPROP_CASE(1, 0, 1, 1) RMSPROP_CASE(1, 1, 0, 0) RMSPROP_CASE(1, 1, 0, 1)
  RMSPROP_CASE(1, 1, 1, 0) RMSPROP_CASE(1, 1, 1, 1) RMSPROP_CASE(0, 0, 0, 0)
  RMSPROP_CASE(0, 0, 0, 1) RMSPROP_CASE(0, 0, 1, 0) RMSPROP_CASE(0, 0, 1, 1)
  RMSPROP_CASE(0, 1, 0, 0) RMSPROP_CASE(0, 1, 0, 1) RMSPROP_CASE(0, 1, 1, 0)
  RMSPROP_CASE(0, 1, 1, 1)
#undef RMSPROP_CASE
}

int NAME(rmsprop)(rmsprop_args *x, int nthreads) {
  return NAME(steps_then_spans)(&x->c, NAME(rmsprop_span), x, nthreads);
}

/* ----------------------------------------------------------------------- Adadelta */

typedef struct {
  common_args c;
  T **square_avg, **acc_delta;
  double rho, eps;
} adadelta_args;

INLINE void NAME(adadelta_loop)(const adadelta_args *x, int64_t k, int64_t s, int64_t e, const int plain) {
  const common_args *c = &x->c;
  const coefs cf = NAME(coefs_of)(c);
  T *restrict P = c->p[k], *restrict G = c->g[k];
  T *restrict V = x->square_avg[k], *restrict D = x->acc_delta[k];
  const T rho = (T)x->rho, b = (T)(1 - x->rho), eps = (T)x->eps;
#pragma omp simd
  for (int64_t i = s; i < e; i++) {
    const T p = P[i], g = NAME(grad_in)(cf, plain, G[i], p);
    const T v = V[i] * rho + b * g * g;
    V[i] = v;
    const T d = sqrt(D[i] + eps) / sqrt(v + eps) * g;
    D[i] = D[i] * rho + b * d * d;
    P[i] = NAME(apply)(cf, plain, d, p);
  }
}

PLAIN_SPAN(adadelta)

int NAME(adadelta)(adadelta_args *x, int nthreads) {
  return NAME(steps_then_spans)(&x->c, NAME(adadelta_span), x, nthreads);
}

/* ----------------------------------------------------------------------- Adamax */

typedef struct {
  common_args c;
  T **exp_avg, **exp_inf;
  double b1, b2, eps;
} adamax_args;

INLINE void NAME(adamax_loop)(const adamax_args *x, int64_t k, int64_t s, int64_t e, const int plain) {
  const common_args *c = &x->c;
  const coefs cf = NAME(coefs_of)(c);
  T *restrict P = c->p[k], *restrict G = c->g[k];
  T *restrict M = x->exp_avg[k], *restrict N = x->exp_inf[k];
  const T w = (T)(1 - x->b1), b2 = (T)x->b2, eps = (T)x->eps, f = (T)c->coef[k];
#pragma omp simd
  for (int64_t i = s; i < e; i++) {
    const T p = P[i], g = NAME(grad_in)(cf, plain, G[i], p);
    const T m = NAME(lerp)(M[i], g, w);
    const T n = NAME(nanmax)(N[i] * b2, fabs(g) + eps);
    M[i] = m;
    N[i] = n;
    P[i] = NAME(apply)(cf, plain, f * (m / n), p);
  }
}

PLAIN_SPAN(adamax)

int NAME(adamax)(adamax_args *x, int nthreads) {
  if (!NAME(with_coef)(&x->c, 1)) return -1;
  for (int64_t k = 0; k < x->c.n; k++) /* 1 / (1 - b1^t) */
    x->c.coef[k] = 1.0 / (1.0 - pow(x->b1, next_step(&x->c, k)));
  NAME(run_spans)(x->c.n, x->c.numel, nthreads, NAME(adamax_span), x);
  free(x->c.coef);
  return 0;
}

/* ----------------------------------------------------------------------- NAdam */

typedef struct {
  common_args c;
  T **exp_avg, **exp_avg_sq;
  double b1, b2, eps, momentum_decay; /* s1: mu_product */
} nadam_args;

INLINE void NAME(nadam_loop)(const nadam_args *x, int64_t k, int64_t s, int64_t e, const int plain) {
  const common_args *c = &x->c;
  const coefs cf = NAME(coefs_of)(c);
  T *restrict P = c->p[k], *restrict G = c->g[k];
  T *restrict M = x->exp_avg[k], *restrict V = x->exp_avg_sq[k];
  const T w = (T)(1 - x->b1), b2 = (T)x->b2, b = (T)(1 - x->b2), eps = (T)x->eps;
  const double *cf3 = c->coef + 3 * k;
  const T cg = (T)cf3[0], cm = (T)cf3[1], bias2 = (T)cf3[2];
#pragma omp simd
  for (int64_t i = s; i < e; i++) {
    const T p = P[i], g = NAME(grad_in)(cf, plain, G[i], p);
    const T m = NAME(lerp)(M[i], g, w);
    const T v = V[i] * b2 + b * g * g;
    M[i] = m;
    V[i] = v;
    const T u = (g * cg + m * cm) / (sqrt(v / bias2) + eps);
    P[i] = NAME(apply)(cf, plain, u, p);
  }
}

PLAIN_SPAN(nadam)

int NAME(nadam)(nadam_args *x, int nthreads) {
  common_args *c = &x->c;
  if (!NAME(with_coef)(c, 3)) return -1;
  const double b1 = x->b1, psi = x->momentum_decay;
  for (int64_t k = 0; k < c->n; k++) {
    /* mu_t = b1 (1 - 0.5 * 0.96^(t psi)), P_t = P_{t-1} mu_t (in the state's dtype) */
    const double t = next_step(c, k);
    const double mu = b1 * (1.0 - 0.5 * pow(0.96, t * psi));
    const double mu_next = b1 * (1.0 - 0.5 * pow(0.96, (t + 1) * psi));
    const double old = get_scalar(c->s1[k], c->scalar_f64);
    const double prod = set_scalar(c->s1[k], c->scalar_f64,
                                   c->scalar_f64 ? old * mu : (double)((float)old * (float)mu));
    c->coef[3 * k] = (1.0 - mu) / (1.0 - prod);
    c->coef[3 * k + 1] = mu_next / (1.0 - prod * mu_next);
    c->coef[3 * k + 2] = 1.0 - pow(x->b2, t);
  }
  NAME(run_spans)(c->n, c->numel, nthreads, NAME(nadam_span), x);
  free(c->coef);
  return 0;
}

/* ----------------------------------------------------------------------- ASGD */

/* dst[0:n] = src[0:n] with non-temporal stores: a destination that is written, never read,
 * costs one write instead of a read (for ownership) plus a write. Streaming stores are weakly
 * ordered: the thread that made them fences them (sfence) before its part is done, so they
 * are visible to every thread once the parallel region ends. */
static void NAME(stream_copy)(T *dst, const T *src, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i < n && ((uintptr_t)(dst + i) & 63); i++) dst[i] = src[i];
  const int64_t step = 64 / (int64_t)sizeof(T);
  for (; i + step <= n; i += step)
    _mm512_stream_si512((void *)(dst + i), _mm512_loadu_si512((const void *)(src + i)));
#elif defined(__AVX__)
  for (; i < n && ((uintptr_t)(dst + i) & 31); i++) dst[i] = src[i];
  const int64_t step = 32 / (int64_t)sizeof(T);
  for (; i + step <= n; i += step)
    _mm256_stream_si256((__m256i *)(dst + i), _mm256_loadu_si256((const __m256i *)(src + i)));
#endif
  for (; i < n; i++) dst[i] = src[i];
#if defined(__AVX512F__) || defined(__AVX__)
  _mm_sfence();
#endif
}

typedef struct {
  common_args c;
  T **ax;
  double lambd, alpha, t0; /* s1: eta, s2: mu */
} asgd_args;

#define ASGD_BLOCK 2048 /* elements updated before they are copied to ax (in L1/L2) */

INLINE void NAME(asgd_loop)(const asgd_args *x, int64_t k, int64_t s, int64_t e, const int plain) {
  const common_args *c = &x->c;
  const coefs cf = NAME(coefs_of)(c);
  T *restrict P = c->p[k], *restrict G = c->g[k], *restrict A = x->ax[k];
  const double eta = c->coef[2 * k], mu = c->coef[2 * k + 1];
  const T keep = (T)(1 - x->lambd * eta), neta = (T)(-eta), lambd = (T)x->lambd;
  const T lrwd = (T)(-c->lr * c->weight_decay);
  const int decoupled = !plain && c->decoupled && c->weight_decay != 0;
  const coefs l2 = {cf.sgn, cf.l2, 0, 0}; /* ASGD applies its own step: only the prologue */
  for (int64_t b0 = s; b0 < e; b0 += ASGD_BLOCK) {
    const int64_t b1 = b0 + ASGD_BLOCK < e ? b0 + ASGD_BLOCK : e;
#pragma omp simd
    for (int64_t i = b0; i < b1; i++) {
      const T p = P[i], g = NAME(grad_in)(l2, plain, G[i], p);
      /* w (1 - lambd eta) - eta g, or decoupled: w + (-eta (g + lambd w) - lr wd w) */
      P[i] = decoupled ? p + (neta * (g + lambd * p) + lrwd * p) : p * keep + neta * g;
    }
    if (mu == 1.0) {
      NAME(stream_copy)(A + b0, P + b0, b1 - b0);
    } else {
      const T m = (T)mu;
#pragma omp simd
      for (int64_t i = b0; i < b1; i++) A[i] = A[i] + (P[i] - A[i]) * m;
    }
  }
}

PLAIN_SPAN(asgd)

int NAME(asgd)(asgd_args *x, int nthreads) {
  common_args *c = &x->c;
  if (!NAME(with_coef)(c, 2)) return -1;
  for (int64_t k = 0; k < c->n; k++) {
    /* this step uses eta_t and mu_t; then eta = lr / (1 + lambd lr t)^alpha and
     * mu = 1 / max(1, t - t0) for the next one */
    const double t = next_step(c, k);
    c->coef[2 * k] = get_scalar(c->s1[k], c->scalar_f64);
    c->coef[2 * k + 1] = get_scalar(c->s2[k], c->scalar_f64);
    set_scalar(c->s1[k], c->scalar_f64, c->lr / pow(1 + x->lambd * c->lr * t, x->alpha));
    set_scalar(c->s2[k], c->scalar_f64, 1.0 / fmax(1.0, t - x->t0));
  }
  NAME(run_spans)(c->n, c->numel, nthreads, NAME(asgd_span), x); /* fences in stream_copy */
  free(c->coef);
  return 0;
}

/* ----------------------------------------------------------------------- Rprop */

typedef struct {
  common_args c;
  T **prev, **step_size;
  double eta_minus, eta_plus, step_min, step_max;
} rprop_args;

static void NAME(rprop_span)(const void *va, int64_t k, int64_t s, int64_t e) {
  const rprop_args *x = va;
  const common_args *c = &x->c;
  T *restrict P = c->p[k], *restrict G = c->g[k];
  T *restrict R = x->prev[k], *restrict S = x->step_size[k];
  const T minus = (T)x->eta_minus, plus = (T)x->eta_plus;
  const T lo = (T)x->step_min, hi = (T)x->step_max, sgn = c->maximize ? (T)-1 : (T)1;
#pragma omp simd
  for (int64_t i = s; i < e; i++) {
    T g = sgn * G[i];
    const T prod = g * R[i];
    const T factor = prod > 0 ? plus : (prod < 0 ? minus : (prod == 0 ? (T)1 : prod));
    T size = S[i] * factor;
    size = size < lo ? lo : size; /* clamp, NaN passing through as in torch.clamp */
    size = size > hi ? hi : size;
    S[i] = size;
    if (factor == minus) g = 0;
    R[i] = g;
    const T sign = (T)(g > 0) - (T)(g < 0);
    P[i] = P[i] - sign * size;
  }
}

int NAME(rprop)(rprop_args *x, int nthreads) {
  return NAME(steps_then_spans)(&x->c, NAME(rprop_span), x, nthreads);
}
