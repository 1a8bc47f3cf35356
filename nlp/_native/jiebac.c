/*
 * nlp._jiebac: jieba's default cut (cut_all=False, HMM on or off) in C, token for token.
 *
 * A Cutter is built from a jieba.Tokenizer's own FREQ dict and total and from jieba.finalseg's
 * start/transition/emission tables, so it segments with exactly the dictionary jieba uses. The
 * algorithm mirrors jieba 0.42.1 (jieba/__init__.py: cut, get_DAG, calc, __cut_DAG,
 * __cut_DAG_NO_HMM; jieba/finalseg/__init__.py: cut, viterbi, __cut) step by step; the scores
 * are summed in the same order in IEEE doubles with libm's log, so every comparison, and with it
 * every tie, comes out as in Python. Build with -ffp-contract=off (no fused multiply-add).
 *
 * A batch is cut without the GIL (on private UCS4 copies); the token lists are built after it is
 * taken back. Dictionary words and single BMP characters are shared str objects, made once.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MIN_FLOAT (-3.14e100)
#define HAN_LO 0x4E00 /* finalseg's re_han: [\u4E00-\u9FD5] */
#define HAN_HI 0x9FD5
#define N_HAN (HAN_HI - HAN_LO + 1)
#define EMPTY_KEY UINT64_MAX
#define F_KEY 1     /* the string is a key of FREQ */
#define F_NONZERO 2 /* ... with a non-zero frequency */
#define RELEASE_GIL_CHARS 2048 /* below this a call cuts with the GIL held: releasing costs more */

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif

#if PY_VERSION_HEX >= 0x030C0000
#define STR_READY(o) 0 /* every str is ready since 3.12 */
#else
#define STR_READY(o) PyUnicode_READY(o)
#endif

/* states in the order of their letters, so comparing indices compares 'B' < 'E' < 'M' < 'S' */
enum { ST_B = 0, ST_E = 1, ST_M = 2, ST_S = 3 };
static const char STATE_LETTERS[4] = {'B', 'E', 'M', 'S'};
/* finalseg.PrevStatus, in its order: B <- 'ES', E <- 'BM', M <- 'MB', S <- 'SE' */
static const int PREV[4][2] = {{ST_E, ST_S}, {ST_B, ST_M}, {ST_M, ST_B}, {ST_S, ST_E}};

/* jieba's re_han_default: [\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-] */
static int
is_han_default(Py_UCS4 c)
{
    if (c >= HAN_LO && c <= HAN_HI)
        return 1;
    if (c >= 128)
        return 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c == '+' || c == '#' || c == '&' || c == '.' || c == '_' || c == '%' || c == '-';
}

static int
is_ascii_alnum(Py_UCS4 c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int
is_cjk(Py_UCS4 c)
{
    return c >= HAN_LO && c <= HAN_HI;
}

/* ------------------------------------------------------------------------------------------ */
/* A trie over code points: node 0 is the root; children of the root in the BMP in a direct    */
/* table, every other edge (parent << 21 | code point) in an open-addressing hash table.        */

/* An edge packed in 8 bytes, (parent << 21 | code point) << 22 | nonzero << 21 | child, so the
 * ~500k edges of jieba's dictionary take 8 MB and a step of a walk reads one of them; the root's
 * children in the BMP are a direct table, child | nonzero << 30. The nonzero bits are set by
 * trie_seal once every word is in; before, and for trie_find, the per-node flags say it. */
#define NODE_BITS 21
#define MAX_NODES (1 << NODE_BITS)
#define CHILD_MASK ((uint64_t)MAX_NODES - 1)
#define EDGE_SHIFT (NODE_BITS + 1)
#define EDGE_NONZERO ((uint64_t)1 << NODE_BITS)
#define ROOT_NONZERO (1 << 30)

typedef struct {
    int32_t *root; /* 0x10000 entries: the child of the root for a BMP character, -1 when absent */
    uint64_t *edges;
    uint64_t mask;
    int bits;
    Py_ssize_t used;
    int32_t nnodes, cap_nodes;
    uint8_t *flags;
    double *score; /* log(freq) - logtotal, as jieba's calc subtracts before adding the route */
} Trie;

static inline uint64_t
edge_slot(uint64_t key, int bits)
{
    return (key * 0x9E3779B97F4A7C15ULL) >> (64 - bits);
}

static inline int32_t
trie_child(const Trie *t, int32_t node, Py_UCS4 c)
{
    if (node == 0 && c < 0x10000)
        return t->root[c] < 0 ? -1 : (int32_t)(t->root[c] & CHILD_MASK);
    uint64_t key = ((uint64_t)node << 21) | c;
    uint64_t h = edge_slot(key, t->bits);
    for (;;) {
        uint64_t e = t->edges[h];
        if ((e >> EDGE_SHIFT) == key)
            return (int32_t)(e & CHILD_MASK);
        if (e == EMPTY_KEY)
            return -1;
        h = (h + 1) & t->mask;
    }
}

static int
trie_init(Trie *t)
{
    memset(t, 0, sizeof(*t));
    t->root = PyMem_Malloc(sizeof(int32_t) * 0x10000);
    t->bits = 10;
    t->mask = (1u << t->bits) - 1;
    t->edges = PyMem_Malloc(sizeof(uint64_t) << t->bits);
    t->cap_nodes = 1024;
    t->flags = PyMem_Calloc(t->cap_nodes, 1);
    t->score = PyMem_Calloc(t->cap_nodes, sizeof(double));
    if (!t->root || !t->edges || !t->flags || !t->score)
        return -1;
    memset(t->root, 0xff, sizeof(int32_t) * 0x10000);
    memset(t->edges, 0xff, sizeof(uint64_t) << t->bits);
    t->nnodes = 1;
    return 0;
}

static void
trie_free(Trie *t)
{
    PyMem_Free(t->root);
    PyMem_Free(t->edges);
    PyMem_Free(t->flags);
    PyMem_Free(t->score);
    memset(t, 0, sizeof(*t));
}

static int
trie_grow_edges(Trie *t)
{
    int bits = t->bits + 1;
    uint64_t size = (uint64_t)1 << bits, mask = size - 1;
    uint64_t *edges = PyMem_Malloc(sizeof(uint64_t) * size);
    if (!edges)
        return -1;
    memset(edges, 0xff, sizeof(uint64_t) * size);
    for (uint64_t i = 0; i <= t->mask; i++) {
        uint64_t e = t->edges[i];
        if (e == EMPTY_KEY)
            continue;
        uint64_t h = edge_slot(e >> EDGE_SHIFT, bits);
        while (edges[h] != EMPTY_KEY)
            h = (h + 1) & mask;
        edges[h] = e;
    }
    PyMem_Free(t->edges);
    t->edges = edges;
    t->bits = bits;
    t->mask = mask;
    return 0;
}

/* a new node, or -1 when memory or the 21-bit node space runs out */
static int32_t
trie_new_node(Trie *t)
{
    if (t->nnodes == MAX_NODES)
        return -1;
    if (t->nnodes == t->cap_nodes) {
        int32_t cap = t->cap_nodes * 2;
        uint8_t *flags = PyMem_Realloc(t->flags, cap);
        if (!flags)
            return -1;
        t->flags = flags;
        double *score = PyMem_Realloc(t->score, sizeof(double) * cap);
        if (!score)
            return -1;
        t->score = score;
        t->cap_nodes = cap;
    }
    t->flags[t->nnodes] = 0;
    t->score[t->nnodes] = 0.0;
    return t->nnodes++;
}

/* the node for str `word` (created with its missing ancestors), or -1 on memory failure */
static int32_t
trie_insert(Trie *t, PyObject *word)
{
    int kind = PyUnicode_KIND(word);
    const void *data = PyUnicode_DATA(word);
    Py_ssize_t n = PyUnicode_GET_LENGTH(word);
    int32_t node = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        int32_t next = trie_child(t, node, c);
        if (next >= 0) {
            node = next;
            continue;
        }
        if ((next = trie_new_node(t)) < 0)
            return -1;
        if (node == 0 && c < 0x10000) {
            t->root[c] = next;
        }
        else {
            if ((uint64_t)(t->used + 1) * 2 > t->mask + 1 && trie_grow_edges(t) < 0)
                return -1;
            uint64_t key = ((uint64_t)node << 21) | c;
            uint64_t h = edge_slot(key, t->bits);
            while (t->edges[h] != EMPTY_KEY)
                h = (h + 1) & t->mask;
            t->edges[h] = (key << EDGE_SHIFT) | (uint64_t)next;
            t->used++;
        }
        node = next;
    }
    return node;
}

/* FREQ as jieba builds it holds every prefix of its words (gen_pfdict and add_word add them
 * with frequency 0), so get_dag's walks need no key test: a missing edge ends them. A dict
 * without that property is refused rather than cut differently. */
static int
trie_seal(Trie *t)
{
    for (int32_t node = 1; node < t->nnodes; node++)
        if (!(t->flags[node] & F_KEY))
            return -1;
    for (Py_UCS4 c = 0; c < 0x10000; c++)
        if (t->root[c] >= 0 && (t->flags[t->root[c]] & F_NONZERO))
            t->root[c] |= ROOT_NONZERO;
    for (uint64_t h = 0; h <= t->mask; h++) {
        uint64_t e = t->edges[h];
        if (e != EMPTY_KEY && (t->flags[e & CHILD_MASK] & F_NONZERO))
            t->edges[h] = e | EDGE_NONZERO;
    }
    return 0;
}

/* the node of s[a:b] if it is a key, else -1 */
static int32_t
trie_find(const Trie *t, const Py_UCS4 *s, Py_ssize_t a, Py_ssize_t b)
{
    int32_t node = 0;
    for (Py_ssize_t i = a; i < b && node >= 0; i++)
        node = trie_child(t, node, s[i]);
    return (node > 0 && (t->flags[node] & F_KEY)) ? node : -1;
}

/* ------------------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    Trie freq;  /* jieba's FREQ */
    Trie force; /* finalseg.Force_Split_Words */
    int has_force;
    int hmm;
    double logtotal;
    double start[4];
    double trans[4][4];
    double *emit; /* [char - HAN_LO][state], MIN_FLOAT where emit_p has no entry: a character's 4 in one line */
    PyObject **words; /* per FREQ node: its str, made on first use */
    PyObject **chars; /* per BMP code point: its one-character str, made on first use */
} Cutter;

/* A token: s[start:end], node its FREQ node when it is a dictionary word (for the shared str). */
typedef struct {
    int32_t start, end, node;
} Token;

/* A DAG candidate: s[start:end+1] is a word with a non-zero frequency; next links the
 * candidates of one start, shortest first. */
typedef struct {
    int32_t node, end, next;
} Cand;

/* Per-call scratch space, in one allocation: a text's characters and its DAG and route, and
 * the tokens of every text of the call (never more than their characters). */
typedef struct {
    void *block;
    Py_UCS4 *s;
    double *rprob;
    uint64_t *slot;
    int32_t *rx, *rnode;
    int32_t *head, *tail, *alive, *cur, *lim; /* get_dag: per start, and the walks still going */
    uint8_t *bp, *path;
    double vprev[4], vcur[4];
    Token *tok;
    Py_ssize_t ntok;
    Cand *cand;
    Py_ssize_t ncand, candcap;
    int oom;
} Work;

static void
work_free(Work *w)
{
    PyMem_RawFree(w->block);
    PyMem_RawFree(w->cand);
    memset(w, 0, sizeof(*w));
}

/* room for texts of up to `n` characters and `chars` characters in all; safe without the GIL */
static int
work_init(Work *w, Py_ssize_t n, Py_ssize_t chars)
{
    memset(w, 0, sizeof(*w));
    size_t m = (size_t)n + 1;
    size_t size = m * (sizeof(double) + sizeof(uint64_t) + sizeof(Py_UCS4) + 7 * sizeof(int32_t) + 5) +
                  ((size_t)chars + 1) * sizeof(Token);
    char *p = w->block = PyMem_RawMalloc(size);
    w->candcap = 2 * (Py_ssize_t)m + 16;
    w->cand = PyMem_RawMalloc(sizeof(Cand) * w->candcap);
    if (w->block == NULL || w->cand == NULL) {
        work_free(w);
        return -1;
    }
    /* the 8-byte arrays first, then the 4-byte ones, then bytes: each stays aligned */
    w->rprob = (double *)p, p += m * sizeof(double);
    w->slot = (uint64_t *)p, p += m * sizeof(uint64_t);
    w->tok = (Token *)p, p += ((size_t)chars + 1) * sizeof(Token);
    w->s = (Py_UCS4 *)p, p += m * sizeof(Py_UCS4);
    int32_t **ints[] = {&w->rx, &w->rnode, &w->head, &w->tail, &w->alive, &w->cur, &w->lim};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        *ints[i] = (int32_t *)p, p += m * sizeof(int32_t);
    w->bp = (uint8_t *)p, p += 4 * m;
    w->path = (uint8_t *)p;
    return 0;
}

/* tokens never outnumber characters and the block has room for all of a call's characters */
static inline void
emit(Work *w, Py_ssize_t a, Py_ssize_t b, int32_t node)
{
    Token *t = &w->tok[w->ntok++];
    t->start = (int32_t)a;
    t->end = (int32_t)b;
    t->node = node;
}

static void
emit_chars(Work *w, Py_ssize_t a, Py_ssize_t b)
{
    for (Py_ssize_t i = a; i < b; i++)
        emit(w, i, i + 1, -1);
}

/* finalseg.__cut on the CJK run s[a:b], Force_Split_Words applied to its words */
static void
emit_hmm_word(const Cutter *c, Work *w, Py_ssize_t a, Py_ssize_t b)
{
    if (c->has_force && trie_find(&c->force, w->s, a, b) >= 0)
        emit_chars(w, a, b);
    else
        emit(w, a, b, -1);
}

static void
viterbi_cut(const Cutter *c, Work *w, Py_ssize_t a, Py_ssize_t b)
{
    const Py_UCS4 *s = w->s;
    Py_ssize_t n = b - a;
    double *prev = w->vprev, *cur = w->vcur;
    for (int y = 0; y < 4; y++)
        prev[y] = c->start[y] + c->emit[4 * (s[a] - HAN_LO) + y];
    for (Py_ssize_t t = 1; t < n; t++) {
        Py_UCS4 ch = s[a + t] - HAN_LO;
        for (int y = 0; y < 4; y++) {
            double em = c->emit[4 * ch + y];
            int y0 = PREV[y][0], y1 = PREV[y][1];
            double p0 = prev[y0] + c->trans[y0][y] + em;
            double p1 = prev[y1] + c->trans[y1][y] + em;
            /* max over (prob, state) tuples: the higher prob, on a tie the later letter */
            int take0 = p0 > p1 || (p0 == p1 && y0 > y1);
            cur[y] = take0 ? p0 : p1;
            w->bp[4 * t + y] = (uint8_t)(take0 ? y0 : y1);
        }
        double *tmp = prev;
        prev = cur;
        cur = tmp;
    }
    /* max((V[-1][y], y) for y in 'ES'): S on a tie */
    uint8_t state = prev[ST_E] > prev[ST_S] ? ST_E : ST_S;
    for (Py_ssize_t t = n - 1;; t--) {
        w->path[t] = state;
        if (t == 0)
            break;
        state = w->bp[4 * t + state];
    }
    Py_ssize_t begin = 0, nexti = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        switch (w->path[i]) {
        case ST_B:
            begin = i;
            break;
        case ST_E:
            emit_hmm_word(c, w, a + begin, a + i + 1);
            nexti = i + 1;
            break;
        case ST_S:
            emit_hmm_word(c, w, a + i, a + i + 1);
            nexti = i + 1;
            break;
        default:
            break;
        }
    }
    if (nexti < n)
        emit_hmm_word(c, w, a + nexti, b);
}

/* finalseg's re_skip.split on a non-CJK piece: ([a-zA-Z0-9]+(?:\.\d+)?%?) and what lies between */
static void
skip_split(Work *w, Py_ssize_t a, Py_ssize_t b)
{
    const Py_UCS4 *s = w->s;
    Py_ssize_t p = a;
    while (p < b) {
        Py_ssize_t m = p;
        while (m < b && !is_ascii_alnum(s[m]))
            m++;
        if (m > p)
            emit(w, p, m, -1);
        if (m == b)
            break;
        Py_ssize_t e = m;
        while (e < b && is_ascii_alnum(s[e]))
            e++;
        /* only ASCII digits can follow here: the piece holds re_han_default characters only */
        if (e + 1 < b && s[e] == '.' && s[e + 1] >= '0' && s[e + 1] <= '9') {
            e += 2;
            while (e < b && s[e] >= '0' && s[e] <= '9')
                e++;
        }
        if (e < b && s[e] == '%')
            e++;
        emit(w, m, e, -1);
        p = e;
    }
}

/* finalseg.cut */
static void
finalseg_cut(const Cutter *c, Work *w, Py_ssize_t a, Py_ssize_t b)
{
    const Py_UCS4 *s = w->s;
    Py_ssize_t p = a;
    while (p < b) {
        Py_ssize_t q = p;
        int cjk = is_cjk(s[p]);
        while (q < b && is_cjk(s[q]) == cjk)
            q++;
        if (cjk)
            viterbi_cut(c, w, p, q);
        else
            skip_split(w, p, q);
        p = q;
    }
}

static void
add_candidate(Work *w, int32_t start, int32_t end, int32_t node)
{
    if (w->ncand == w->candcap) {
        Cand *grown = PyMem_RawRealloc(w->cand, sizeof(Cand) * w->candcap * 2);
        if (grown == NULL) {
            w->oom = 1;
            return;
        }
        w->cand = grown;
        w->candcap *= 2;
    }
    int32_t k = (int32_t)w->ncand++;
    w->cand[k] = (Cand){node, end, -1};
    if (w->head[start] < 0)
        w->head[start] = k;
    else
        w->cand[w->tail[start]].next = k;
    w->tail[start] = k;
}

/* get_DAG for every re_han_default block of the text s[0:n]: for each start, the words
 * beginning there, shortest first. The walks advance one character at a time for all starts of
 * the text together, so the hash-table reads of one step are independent and are prefetched
 * before they are used (a walk per start stalls on each read in turn: it was most of the
 * cutting time). */
static void
get_dag(const Cutter *c, Work *w, Py_ssize_t n)
{
    const Py_UCS4 *s = w->s;
    const Trie *t = &c->freq;
    Py_ssize_t nalive = 0;
    w->ncand = 0;
    for (Py_ssize_t p = 0; p < n;) {
        if (!is_han_default(s[p])) {
            p++;
            continue;
        }
        Py_ssize_t q = p + 1;
        while (q < n && is_han_default(s[q]))
            q++;
        for (Py_ssize_t idx = p; idx < q; idx++) {
            Py_UCS4 ch = s[idx];
            int32_t node, nonzero;
            w->head[idx] = -1;
            if (ch < 0x10000) {
                int32_t r = t->root[ch];
                node = r < 0 ? -1 : (int32_t)(r & CHILD_MASK);
                nonzero = r >= 0 && (r & ROOT_NONZERO);
            }
            else {
                node = trie_child(t, 0, ch);
                nonzero = node >= 0 && (t->flags[node] & F_NONZERO);
            }
            if (node < 0)
                continue; /* get_DAG stops at the first fragment not in FREQ */
            if (nonzero)
                add_candidate(w, (int32_t)idx, (int32_t)idx, node);
            if (idx + 1 < q) {
                w->alive[nalive] = (int32_t)idx;
                w->lim[nalive] = (int32_t)q;
                w->cur[nalive++] = node;
            }
        }
        p = q;
    }
    for (Py_ssize_t depth = 1; nalive > 0; depth++) {
        for (Py_ssize_t k = 0; k < nalive; k++) {
            uint64_t key = ((uint64_t)w->cur[k] << 21) | s[w->alive[k] + depth];
            w->slot[k] = edge_slot(key, t->bits);
            PREFETCH(&t->edges[w->slot[k]]);
        }
        Py_ssize_t kept = 0;
        for (Py_ssize_t k = 0; k < nalive; k++) {
            int32_t idx = w->alive[k];
            uint64_t key = ((uint64_t)w->cur[k] << 21) | s[idx + depth];
            uint64_t e;
            for (uint64_t h = w->slot[k];; h = (h + 1) & t->mask) {
                e = t->edges[h];
                if ((e >> EDGE_SHIFT) == key || e == EMPTY_KEY)
                    break;
            }
            if (e == EMPTY_KEY)
                continue;
            int32_t node = (int32_t)(e & CHILD_MASK);
            if (e & EDGE_NONZERO) {
                PREFETCH(&t->score[node]);
                add_candidate(w, idx, (int32_t)(idx + depth), node);
            }
            if (idx + depth + 1 < w->lim[k]) {
                w->alive[kept] = idx;
                w->lim[kept] = w->lim[k];
                w->cur[kept++] = node;
            }
        }
        nalive = kept;
    }
}

/* calc: route[idx] = max((log(freq or 1) - logtotal + route[x+1], x) for x in DAG[idx]) */
static void
calc_route(const Cutter *c, Work *w, Py_ssize_t a, Py_ssize_t b)
{
    const double *score = c->freq.score;
    double logtotal = c->logtotal;
    w->rprob[b] = 0.0;
    for (Py_ssize_t idx = b - 1; idx >= a; idx--) {
        int found = 0;
        double best = 0.0;
        Py_ssize_t bx = idx;
        int32_t bnode = -1;
        for (int32_t k = w->head[idx]; k >= 0; k = w->cand[k].next) {
            const Cand *cd = &w->cand[k];
            double p = score[cd->node] + w->rprob[cd->end + 1];
            /* candidates come in increasing x: on equal scores the later one wins, as in
             * Python's max over (score, x) tuples */
            if (!found || p >= best) {
                best = p;
                bx = cd->end;
                bnode = cd->node;
                found = 1;
            }
        }
        if (!found) /* DAG[idx] = [idx], its frequency absent or 0: log(1) */
            best = (0.0 - logtotal) + w->rprob[idx + 1];
        w->rprob[idx] = best;
        w->rx[idx] = (int32_t)(bx - a);
        w->rnode[idx] = bnode;
    }
}

/* __cut_DAG's flush of the buffered single characters s[a:b] */
static void
flush_buf(const Cutter *c, Work *w, Py_ssize_t a, Py_ssize_t b)
{
    if (b - a == 1) {
        emit(w, a, b, -1);
        return;
    }
    int32_t node = trie_find(&c->freq, w->s, a, b);
    if (node >= 0 && (c->freq.flags[node] & F_NONZERO))
        emit_chars(w, a, b);
    else
        finalseg_cut(c, w, a, b);
}

static void
cut_block_hmm(const Cutter *c, Work *w, Py_ssize_t a, Py_ssize_t b)
{
    calc_route(c, w, a, b);
    Py_ssize_t x = a, buf = -1;
    while (x < b) {
        Py_ssize_t y = a + w->rx[x] + 1;
        if (y - x == 1) {
            if (buf < 0)
                buf = x;
        }
        else {
            if (buf >= 0) {
                flush_buf(c, w, buf, x);
                buf = -1;
            }
            emit(w, x, y, w->rnode[x]);
        }
        x = y;
    }
    if (buf >= 0)
        flush_buf(c, w, buf, b);
}

static void
cut_block_no_hmm(const Cutter *c, Work *w, Py_ssize_t a, Py_ssize_t b)
{
    calc_route(c, w, a, b);
    Py_ssize_t x = a, buf = -1;
    while (x < b) {
        Py_ssize_t y = a + w->rx[x] + 1;
        if (y - x == 1 && is_ascii_alnum(w->s[x])) { /* re_eng, one character */
            if (buf < 0)
                buf = x;
        }
        else {
            if (buf >= 0) {
                emit(w, buf, x, -1);
                buf = -1;
            }
            emit(w, x, y, y - x > 1 ? w->rnode[x] : -1);
        }
        x = y;
    }
    if (buf >= 0)
        emit(w, buf, b, -1);
}

/* jieba.Tokenizer.cut(sentence, cut_all=False): re_han_default blocks, the rest per character
 * with "\r\n" kept whole (what re_skip_default's split leaves) */
static void
cut_text(const Cutter *c, Work *w, Py_ssize_t n)
{
    const Py_UCS4 *s = w->s;
    Py_ssize_t p = 0;
    get_dag(c, w, n);
    while (p < n) {
        if (is_han_default(s[p])) {
            Py_ssize_t q = p + 1;
            while (q < n && is_han_default(s[q]))
                q++;
            if (c->hmm)
                cut_block_hmm(c, w, p, q);
            else
                cut_block_no_hmm(c, w, p, q);
            p = q;
        }
        else if (s[p] == '\r' && p + 1 < n && s[p + 1] == '\n') {
            emit(w, p, p + 2, -1);
            p += 2;
        }
        else {
            emit(w, p, p + 1, -1);
            p++;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* Python side                                                                                  */

typedef struct {
    int kind;
    const void *data;
    Py_ssize_t len;
} TextRef;

static void
load_text(Work *w, const TextRef *r)
{
    if (r->kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *d = r->data;
        for (Py_ssize_t i = 0; i < r->len; i++)
            w->s[i] = d[i];
    }
    else if (r->kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *d = r->data;
        for (Py_ssize_t i = 0; i < r->len; i++)
            w->s[i] = d[i];
    }
    else {
        memcpy(w->s, r->data, sizeof(Py_UCS4) * r->len);
    }
}

static PyObject *
token_object(Cutter *c, PyObject *text, const TextRef *r, const Work *w, Py_ssize_t k)
{
    const Token *t = &w->tok[k];
    Py_ssize_t a = t->start, b = t->end;
    PyObject **slot = NULL;
    if (b - a == 1) {
        Py_UCS4 ch = PyUnicode_READ(r->kind, r->data, a);
        if (ch < 0x10000)
            slot = &c->chars[ch];
    }
    else if (t->node >= 0) {
        slot = &c->words[t->node];
    }
    if (slot == NULL)
        return PyUnicode_Substring(text, a, b);
    if (*slot == NULL && (*slot = PyUnicode_Substring(text, a, b)) == NULL)
        return NULL;
    Py_INCREF(*slot);
    return *slot;
}

/* the list of tokens w holds for `text`, tokens [from, to) */
static PyObject *
token_list(Cutter *c, PyObject *text, const TextRef *r, const Work *w, Py_ssize_t from, Py_ssize_t to)
{
    PyObject *out = PyList_New(to - from);
    if (out == NULL)
        return NULL;
    for (Py_ssize_t k = from; k < to; k++) {
        PyObject *tok = token_object(c, text, r, w, k);
        if (tok == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, k - from, tok);
    }
    return out;
}

/* Token lists for texts[0:n] (a list of them when as_batch, else the one text's list). */
static PyObject *
cut_texts(Cutter *self, PyObject *const *texts, Py_ssize_t n, int as_batch)
{
    TextRef one_ref;
    Py_ssize_t one_bounds[2];
    int single = n == 1;
    TextRef *refs = single ? &one_ref : PyMem_Malloc(sizeof(TextRef) * (n ? n : 1));
    Py_ssize_t *bounds = single ? one_bounds : PyMem_Malloc(sizeof(Py_ssize_t) * (n + 1));
    PyObject *result = NULL;
    Work w;
    memset(&w, 0, sizeof(w));
    if (refs == NULL || bounds == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t maxlen = 0, total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *t = texts[i];
        if (!PyUnicode_Check(t)) {
            PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(t)->tp_name);
            goto done;
        }
        if (STR_READY(t) < 0)
            goto done;
        refs[i].kind = PyUnicode_KIND(t);
        refs[i].data = PyUnicode_DATA(t);
        refs[i].len = PyUnicode_GET_LENGTH(t);
        if (refs[i].len > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "text too long");
            goto done;
        }
        maxlen = refs[i].len > maxlen ? refs[i].len : maxlen;
        total += refs[i].len;
    }
    if (work_init(&w, maxlen, total) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    /* the texts are kept alive by the caller's references (cut_many holds a private tuple)
     * and a str's data never moves, so they are read without the GIL */
    int release = total >= RELEASE_GIL_CHARS;
    PyThreadState *ts = release ? PyEval_SaveThread() : NULL;
    bounds[0] = 0;
    for (Py_ssize_t i = 0; i < n && !w.oom; i++) {
        /* the UCS4 copy is overwritten by the next text: tokens are kept as offsets and made
         * from the str itself */
        load_text(&w, &refs[i]);
        cut_text(self, &w, refs[i].len);
        bounds[i + 1] = w.ntok;
    }
    if (release)
        PyEval_RestoreThread(ts);
    if (w.oom) {
        PyErr_NoMemory();
        goto done;
    }
    if (!as_batch) {
        result = token_list(self, texts[0], &refs[0], &w, 0, w.ntok);
        goto done;
    }
    result = PyList_New(n);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *lst = token_list(self, texts[i], &refs[i], &w, bounds[i], bounds[i + 1]);
        if (lst == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, i, lst);
    }
done:
    work_free(&w);
    if (!single) {
        PyMem_Free(refs);
        PyMem_Free(bounds);
    }
    return result;
}

static PyObject *
Cutter_cut(Cutter *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "expected str, got %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    return cut_texts(self, &text, 1, 0);
}

static PyObject *
Cutter_cut_many(Cutter *self, PyObject *texts)
{
    /* a private tuple: its items stay alive while the GIL is released, whatever the caller
     * does to its list meanwhile */
    PyObject *tup = PySequence_Tuple(texts);
    if (tup == NULL)
        return NULL;
    PyObject *out = cut_texts(self, &PyTuple_GET_ITEM(tup, 0), PyTuple_GET_SIZE(tup), 1);
    Py_DECREF(tup);
    return out;
}

/* ------------------------------------------------------------------------------------------ */
/* construction                                                                                 */

static int
state_index(PyObject *key)
{
    if (!PyUnicode_Check(key) || PyUnicode_GET_LENGTH(key) != 1)
        return -1;
    switch (PyUnicode_READ_CHAR(key, 0)) {
    case 'B':
        return ST_B;
    case 'E':
        return ST_E;
    case 'M':
        return ST_M;
    case 'S':
        return ST_S;
    default:
        return -1;
    }
}

static PyObject *
state_get(PyObject *mapping, int state)
{
    char name[2] = {STATE_LETTERS[state], 0};
    PyObject *v = PyMapping_GetItemString(mapping, name);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();
        PyErr_Format(PyExc_ValueError, "HMM table has no state %s", name);
    }
    return v;
}

static int
load_freq(Cutter *self, PyObject *freq)
{
    if (!PyDict_Check(freq)) {
        PyErr_SetString(PyExc_TypeError, "freq must be a dict of str to int");
        return -1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(freq, &pos, &key, &value)) {
        if (!PyUnicode_Check(key) || STR_READY(key) < 0) {
            PyErr_SetString(PyExc_TypeError, "freq keys must be str");
            return -1;
        }
        if (PyUnicode_GET_LENGTH(key) == 0)
            continue; /* never looked up: a fragment has at least one character */
        double f = PyFloat_AsDouble(value);
        if (f == -1.0 && PyErr_Occurred())
            return -1;
        if (f < 0 || isnan(f)) {
            PyErr_Format(PyExc_ValueError, "negative frequency for %R", key);
            return -1;
        }
        int32_t node = trie_insert(&self->freq, key);
        if (node < 0) {
            if (self->freq.nnodes == MAX_NODES)
                PyErr_SetString(PyExc_ValueError, "dictionary too large (more than 2**21 prefixes)");
            else
                PyErr_NoMemory();
            return -1;
        }
        self->freq.flags[node] = F_KEY | (f != 0 ? F_NONZERO : 0);
        /* math.log(int) converts to a double and calls libm's log: the same value */
        self->freq.score[node] = f != 0 ? log(f) - self->logtotal : 0.0;
    }
    return 0;
}

static int
load_hmm(Cutter *self, PyObject *start_p, PyObject *trans_p, PyObject *emit_p)
{
    for (int y = 0; y < 4; y++) {
        PyObject *v = state_get(start_p, y);
        if (v == NULL)
            return -1;
        self->start[y] = PyFloat_AsDouble(v);
        Py_DECREF(v);
        if (PyErr_Occurred())
            return -1;
        for (int z = 0; z < 4; z++)
            self->trans[y][z] = MIN_FLOAT; /* trans_p[y0].get(y, MIN_FLOAT) */
        PyObject *row = state_get(trans_p, y);
        if (row == NULL)
            return -1;
        PyObject *k, *val;
        Py_ssize_t pos = 0;
        int ok = PyDict_Check(row);
        while (ok && PyDict_Next(row, &pos, &k, &val)) {
            int z = state_index(k);
            if (z < 0)
                continue;
            self->trans[y][z] = PyFloat_AsDouble(val);
            if (PyErr_Occurred())
                ok = 0;
        }
        Py_DECREF(row);
        if (!ok) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "trans_p rows must be dicts");
            return -1;
        }
    }
    self->emit = PyMem_Malloc(sizeof(double) * 4 * N_HAN);
    if (self->emit == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < 4 * N_HAN; i++)
        self->emit[i] = MIN_FLOAT; /* emit_p[y].get(char, MIN_FLOAT) */
    for (int y = 0; y < 4; y++) {
        PyObject *row = state_get(emit_p, y);
        if (row == NULL)
            return -1;
        PyObject *k, *val;
        Py_ssize_t pos = 0;
        int ok = PyDict_Check(row);
        while (ok && PyDict_Next(row, &pos, &k, &val)) {
            /* the Viterbi only ever sees characters of finalseg's re_han range */
            if (!PyUnicode_Check(k) || PyUnicode_GET_LENGTH(k) != 1)
                continue;
            Py_UCS4 ch = PyUnicode_READ_CHAR(k, 0);
            if (!is_cjk(ch))
                continue;
            self->emit[4 * (ch - HAN_LO) + y] = PyFloat_AsDouble(val);
            if (PyErr_Occurred())
                ok = 0;
        }
        Py_DECREF(row);
        if (!ok) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "emit_p rows must be dicts");
            return -1;
        }
    }
    return 0;
}

static int
load_force(Cutter *self, PyObject *force)
{
    PyObject *it = PyObject_GetIter(force);
    if (it == NULL)
        return -1;
    PyObject *word;
    while ((word = PyIter_Next(it)) != NULL) {
        int32_t node = -2;
        if (PyUnicode_Check(word) && STR_READY(word) == 0 && PyUnicode_GET_LENGTH(word) > 0)
            node = trie_insert(&self->force, word);
        Py_DECREF(word);
        if (node == -1) {
            Py_DECREF(it);
            PyErr_NoMemory();
            return -1;
        }
        if (node >= 0) {
            self->force.flags[node] = F_KEY;
            self->has_force = 1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int
Cutter_init(Cutter *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"freq", "total", "start_p", "trans_p", "emit_p", "force_split", "hmm", NULL};
    PyObject *freq, *total, *start_p, *trans_p, *emit_p, *force = NULL;
    int hmm = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOO|Op", kwlist, &freq, &total, &start_p, &trans_p, &emit_p, &force,
                                     &hmm))
        return -1;
    if (self->freq.root != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Cutter is already initialised");
        return -1;
    }
    double tot = PyFloat_AsDouble(total);
    if (tot == -1.0 && PyErr_Occurred())
        return -1;
    if (!(tot > 0)) {
        PyErr_SetString(PyExc_ValueError, "total must be positive");
        return -1;
    }
    self->logtotal = log(tot);
    self->hmm = hmm;
    if (trie_init(&self->freq) < 0 || trie_init(&self->force) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (load_freq(self, freq) < 0 || load_hmm(self, start_p, trans_p, emit_p) < 0)
        return -1;
    if (force != NULL && force != Py_None && load_force(self, force) < 0)
        return -1;
    if (trie_seal(&self->freq) < 0) {
        PyErr_SetString(PyExc_ValueError, "freq lacks a prefix of one of its words (jieba adds them all)");
        return -1;
    }
    self->words = PyMem_Calloc(self->freq.nnodes, sizeof(PyObject *));
    self->chars = PyMem_Calloc(0x10000, sizeof(PyObject *));
    if (self->words == NULL || self->chars == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static void
Cutter_dealloc(Cutter *self)
{
    if (self->words) {
        for (int32_t i = 0; i < self->freq.nnodes; i++)
            Py_XDECREF(self->words[i]);
        PyMem_Free(self->words);
    }
    if (self->chars) {
        for (int32_t i = 0; i < 0x10000; i++)
            Py_XDECREF(self->chars[i]);
        PyMem_Free(self->chars);
    }
    trie_free(&self->freq);
    trie_free(&self->force);
    PyMem_Free(self->emit);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
Cutter_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Cutter *self = (Cutter *)type->tp_alloc(type, 0);
    return (PyObject *)self; /* tp_alloc zeroes every field */
}

static int
ready(Cutter *self)
{
    if (self->chars == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Cutter is not initialised");
        return 0;
    }
    return 1;
}

static PyObject *
Cutter_cut_checked(Cutter *self, PyObject *text)
{
    return ready(self) ? Cutter_cut(self, text) : NULL;
}

static PyObject *
Cutter_cut_many_checked(Cutter *self, PyObject *texts)
{
    return ready(self) ? Cutter_cut_many(self, texts) : NULL;
}

static PyObject *
Cutter_get_size(Cutter *self, void *closure)
{
    return PyLong_FromLong(self->freq.nnodes > 0 ? self->freq.nnodes - 1 : 0);
}

static PyObject *
Cutter_get_hmm(Cutter *self, void *closure)
{
    return PyBool_FromLong(self->hmm);
}

static PyMethodDef Cutter_methods[] = {
    {"cut", (PyCFunction)Cutter_cut_checked, METH_O,
     "cut(text) -> list[str]: jieba.Tokenizer.cut(text, HMM=hmm) as a list"},
    {"cut_many", (PyCFunction)Cutter_cut_many_checked, METH_O,
     "cut_many(texts) -> list[list[str]]: cut for each text, the cutting done without the GIL"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Cutter_getset[] = {
    {"size", (getter)Cutter_get_size, NULL, "trie nodes (distinct dictionary strings and prefixes)", NULL},
    {"hmm", (getter)Cutter_get_hmm, NULL, "whether unknown runs go through finalseg's HMM", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CutterType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "nlp._jiebac.Cutter",
    .tp_basicsize = sizeof(Cutter),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Cutter(freq, total, start_p, trans_p, emit_p, force_split=None, hmm=True)\n\n"
              "jieba's default cut over the FREQ dict and total of a jieba.Tokenizer and the tables "
              "of jieba.finalseg.",
    .tp_new = Cutter_new,
    .tp_init = (initproc)Cutter_init,
    .tp_dealloc = (destructor)Cutter_dealloc,
    .tp_methods = Cutter_methods,
    .tp_getset = Cutter_getset,
};

static struct PyModuleDef jiebac_module = {
    PyModuleDef_HEAD_INIT, "nlp._jiebac", "jieba's default cut in C (see nlp/_native/jiebac.c).", -1, NULL,
};

PyMODINIT_FUNC
PyInit__jiebac(void)
{
    if (PyType_Ready(&CutterType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&jiebac_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&CutterType);
    if (PyModule_AddObject(m, "Cutter", (PyObject *)&CutterType) < 0) {
        Py_DECREF(&CutterType);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddStringConstant(m, "JIEBA_VERSION", "0.42.1") < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
