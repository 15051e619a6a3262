/* ops.c: names of the ops in G3_OP_LIST. */
#include "ops.h"

static const char *const op_names[G3_OP_COUNT] = {
#define G3_X(op, name) [G3_OP_##op] = name,
    G3_OP_LIST(G3_X)
#undef G3_X
};

const char *g3_op_name(g3_op op)
{
    return (unsigned)op < G3_OP_COUNT ? op_names[op] : "?";
}
