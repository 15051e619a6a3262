// streams.glsl: what the kernels that read the STREAMS layout (G3_STREAMS_* in
// g3_shared.h) share: per type, the quant bytes per block (ST_QB), the offset taken off
// the raw quants; ST_16: the 16-byte types (ST_OFF: Q4_0 8, Q5_0 16), whether blocks carry a minimum m (ST_MIN:
// w = d * q + m) and a qh word of 5th bits (ST_QH); and the starts of the regions of a
// piece, from the push constants' n_rows, n_cols and row_bytes (= quant bytes per row).
// Include after the push-constant block `p`.

#if defined(W_Q8_0)
#define ST_QB 32
#define ST_OFF 0.0
#elif defined(W_Q4_0)
#define ST_QB 16
#define ST_16 1
#define ST_OFF 8.0
#elif defined(W_Q4_1)
#define ST_QB 16
#define ST_16 1
#define ST_OFF 0.0
#define ST_MIN 1
#elif defined(W_Q5_0)
#define ST_QB 16
#define ST_16 1
#define ST_OFF 16.0
#define ST_QH 1
#elif defined(W_Q5_1)
#define ST_QB 16
#define ST_16 1
#define ST_OFF 0.0
#define ST_MIN 1
#define ST_QH 1
#else
#error "the STREAMS layout is for Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1"
#endif

#ifdef ST_MIN
const uint ST_HAS_MIN = 1u;
#else
const uint ST_HAS_MIN = 0u;
#endif

// The f16 at byte offset o (even) of the 32-bit word w that holds it.
float st_f16(uint w, uint o) { return unpackHalf2x16(w >> ((o & 2u) << 3)).x; }

uint st_sb() { return G3_STREAMS_SB(p.n_cols); }
uint st_soff() { return G3_STREAMS_SOFF(p.n_rows, p.row_bytes); }
uint st_moff() { return G3_STREAMS_BYTES(p.n_rows, p.row_bytes, st_sb()); }
uint st_hb() { return G3_STREAMS_HB(p.n_cols); }
uint st_hoff() { return G3_STREAMS_QH_OFF(p.n_rows, p.row_bytes, st_sb(), ST_HAS_MIN); }
