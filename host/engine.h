/* engine.h: internals of g3_model / g3_context that tools and tests reach
 * (the CLI's info command, the op-by-op diff). Not part of the public API. */
#ifndef G3_ENGINE_H
#define G3_ENGINE_H

#include "gguf.h"
#include "model.h"
#include "ref_exec.h"
#include "tokenizer.h"
#include "vk_exec.h"

struct g3_model {
    g3_gguf *gguf;          /* owns the mapping the weights point into */
    g3_model_desc desc;
    g3_model_options opt;   /* resolved defaults                        */
    g3_threadpool *pool;    /* CPU reference threads                    */
    g3_tokenizer *tok;      /* NULL when the file has no vocabulary     */
    char tok_error[600];    /* why there is no tokenizer                */
    char last_error[600];   /* why the last context could not be created */
};

struct g3_context {
    g3_model *model;
    int n_ctx;
    int n_past;
    g3_graph graph;         /* one token per step, logits of that token (CPU: the only step) */
    g3_graph steps[5];      /* Vulkan: the prefill steps, largest first (n_logits 1), then
                               the all-logits steps (n_logits = n_tokens), largest first  */
    int n_prefill, n_all;   /* how many of each                                           */
    int prefill_from;       /* first prefill step still used: larger ones took one layer
                               longer than the submission budget on this device          */
    int n_batch;            /* largest prefill step                                       */
    g3_ref_exec exec;       /* CPU backend                              */
    g3_vk_exec *vk;         /* Vulkan backend                           */
    bool have_logits;
    char error[512];
};

#endif /* G3_ENGINE_H */
