/* test_rng.h: the deterministic random numbers the GPU op tests draw their
 * inputs from (splitmix64), so every run and machine sees the same cases. */
#ifndef G3_TEST_RNG_H
#define G3_TEST_RNG_H

#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static inline uint64_t rng_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline float rng_f(void) /* uniform in [-1, 1) */
{
    return (float)((double)(rng_u64() >> 11) * 0x1p-52 - 1.0);
}

#endif /* G3_TEST_RNG_H */
