/* Breadth-first reachability on packed markings, in C.
 *
 * The same search as treadle/core/nets/explore.py, on the same encoding (packing.py): a
 * marking is a little-endian sequence of `k` 64-bit words holding one field per place, with
 * a guard bit on top of each field. A transition is enabled when adding `add` sets every bit
 * of `guards`; firing is ((m - pre) & keep) + post; a successor with any guard bit set has
 * outgrown its fields and the caller widens them and starts again.
 *
 * Every marking found is appended to one array, so the breadth-first levels are contiguous
 * slices of it. Duplicates are found with an open-addressing hash table (linear probing)
 * that holds the marking itself when it is one word wide, or its index and 32 bits of its
 * hash otherwise. Successors are generated in batches and their table slots prefetched
 * before they are looked up, because on large nets the search is bound by cache misses in
 * the table, not by arithmetic. At the end every level is sorted (a radix sort) so that the
 * Python side can test membership by bisection instead of building sets, and the table is
 * freed: the result costs 8 bytes a word a marking.
 *
 * The search runs without the GIL; only the conversion of its result touches Python.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t word;

#define EMPTY (~(word)0)
#define BATCH 256
#define MAX_INDEXED ((word)0xFFFFFFFEu)

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch((p), 0, 1)
#define INLINE static inline __attribute__((always_inline))
#else
#define PREFETCH(p) ((void)0)
#define INLINE static inline
#endif

/* ---- a read-only block of 64-bit words, exported through the buffer protocol ---------- */

typedef struct {
    PyObject_HEAD
    word *data;
    Py_ssize_t count; /* words */
    Py_ssize_t itemsize;
} WordsObject;

static void words_dealloc(WordsObject *self) {
    free(self->data);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int words_getbuffer(WordsObject *self, Py_buffer *view, int flags) {
    if (flags & PyBUF_WRITABLE) {
        PyErr_SetString(PyExc_BufferError, "the markings of a state space are read-only");
        view->obj = NULL;
        return -1;
    }
    view->obj = Py_NewRef(self);
    view->buf = self->data;
    view->len = self->count * (Py_ssize_t)sizeof(word);
    view->readonly = 1;
    view->itemsize = sizeof(word);
    view->format = (flags & PyBUF_FORMAT) ? "Q" : NULL;
    view->ndim = 1;
    view->shape = (flags & PyBUF_ND) ? &self->count : NULL;
    view->strides = (flags & PyBUF_STRIDES) ? &self->itemsize : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    return 0;
}

static Py_ssize_t words_length(WordsObject *self) { return self->count; }

static PyBufferProcs words_as_buffer = {(getbufferproc)words_getbuffer, NULL};
static PySequenceMethods words_as_sequence = {.sq_length = (lenfunc)words_length};

static PyTypeObject WordsType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "treadle.accel._reach.Words",
    .tp_doc = PyDoc_STR("Unsigned 64-bit words owned by a state space (buffer format 'Q')."),
    .tp_basicsize = sizeof(WordsObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)words_dealloc,
    .tp_as_buffer = &words_as_buffer,
    .tp_as_sequence = &words_as_sequence,
};

/* Hands `data` (malloc'ed, `count` words) to a new Words object, which frees it. */
static PyObject *words_wrap(word *data, size_t count) {
    WordsObject *self = PyObject_New(WordsObject, &WordsType);
    if (self == NULL) {
        free(data);
        return NULL;
    }
    self->data = data;
    self->count = (Py_ssize_t)count;
    self->itemsize = sizeof(word);
    return (PyObject *)self;
}

/* ---- growable arrays -------------------------------------------------------------------- */

typedef struct {
    word *v;
    size_t n, cap; /* in words */
} Vec;

static int vec_reserve(Vec *vec, size_t more) {
    if (vec->n + more <= vec->cap) return 0;
    size_t cap = vec->cap ? vec->cap : 1024;
    while (cap < vec->n + more) cap *= 2;
    word *grown = realloc(vec->v, cap * sizeof(word));
    if (grown == NULL) return -1;
    vec->v = grown;
    vec->cap = cap;
    return 0;
}

static int vec_push(Vec *vec, word value) {
    if (vec_reserve(vec, 1)) return -1;
    vec->v[vec->n++] = value;
    return 0;
}

/* ---- multi-word arithmetic (little-endian word order) ------------------------------------ */

INLINE word mix(word x) { /* splitmix64's finaliser */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

INLINE word hash_words(const word *m, int k) {
    word h = 0x9e3779b97f4a7c15ULL;
    for (int j = 0; j < k; j++) h = mix(h ^ m[j]);
    return h;
}

INLINE int same(const word *a, const word *b, int k) {
    for (int j = 0; j < k; j++)
        if (a[j] != b[j]) return 0;
    return 1;
}

/* Each move touches a range of words [lo, hi]: those holding the fields it tests, takes
 * from, gives to or resets. The others pass through unchanged: no carry or borrow enters
 * the range from below (the move adds nothing there) nor leaves it (none leaves a field). */
typedef struct {
    int lo, hi;
} Span;

/* (m + add) & guards == guards, with carries between words (a field may straddle two). */
INLINE int enabled(const word *m, const word *add, const word *guards, Span span, int k) {
    if (k == 1) return ((m[0] + add[0]) & guards[0]) == guards[0];
    word carry = 0;
    for (int j = span.lo; j <= span.hi; j++) {
        word s = m[j] + add[j];
        word c = s < m[j];
        word t = s + carry;
        c |= t < s;
        carry = c;
        if ((t & guards[j]) != guards[j]) return 0;
    }
    return 1;
}

/* out = ((m - pre) & keep) + post; returns whether a guard bit of `all_guards` is set. */
INLINE int fire(const word *m, const word *pre, const word *keep, const word *post,
                const word *all_guards, Span span, word *out, int k) {
    if (k == 1) {
        out[0] = ((m[0] - pre[0]) & keep[0]) + post[0];
        return (out[0] & all_guards[0]) != 0;
    }
    memcpy(out, m, k * sizeof(word));
    word borrow = 0, carry = 0, over = 0;
    for (int j = span.lo; j <= span.hi; j++) {
        word d = m[j] - pre[j];
        word b = m[j] < pre[j];
        word e = d - borrow;
        b |= d < borrow;
        borrow = b;
        e &= keep[j];
        word s = e + post[j];
        word c = s < e;
        word t = s + carry;
        c |= t < s;
        carry = c;
        out[j] = t;
        over |= t & all_guards[j];
    }
    return over != 0;
}

/* ---- the search --------------------------------------------------------------------------- */

enum { OK = 0, WIDEN = 1, NO_MEMORY = -1, TOO_MANY = -2 };

typedef struct {
    int k;
    Py_ssize_t nmoves;
    const word *moves; /* per move: add, guards, pre, post, keep; k words each */
    Span *spans;
    const word *all_guards;
    unsigned long long max_states;
    int places, width;

    Vec states;       /* every marking found, level after level */
    Vec level_starts; /* index of each level's first marking, and one past the last */
    Vec dead;         /* values of dead markings */
    Vec dead_levels;
    word *table;
    size_t mask, used;
    unsigned char *enabled;
    unsigned long long edges;
    int complete;
} Search;

INLINE int table_grow(Search *s, int k) {
    size_t size = (s->mask + 1) * 2;
    word *table = malloc(size * sizeof(word));
    if (table == NULL) return NO_MEMORY;
    memset(table, 0xff, size * sizeof(word));
    size_t mask = size - 1;
    for (size_t i = 0; i <= s->mask; i++) {
        word slot = s->table[i];
        if (slot == EMPTY) continue;
        word h = k == 1 ? hash_words(&slot, 1) : hash_words(s->states.v + (slot & 0xffffffffu) * k, k);
        size_t pos = h & mask;
        while (table[pos] != EMPTY) pos = (pos + 1) & mask;
        table[pos] = slot;
    }
    free(s->table);
    s->table = table;
    s->mask = mask;
    return OK;
}

/* Adds `m` (hash `h`) to the table and the states when it is new. */
INLINE int insert(Search *s, const word *m, word h, int k) {
    size_t pos = h & s->mask;
    for (;;) {
        word slot = s->table[pos];
        if (slot == EMPTY) break;
        if (k == 1) {
            if (slot == m[0]) return OK;
        } else if ((slot >> 32) == (h >> 32) &&
                   same(s->states.v + (slot & 0xffffffffu) * k, m, k)) {
            return OK;
        }
        pos = (pos + 1) & s->mask;
    }
    size_t index = s->states.n / k;
    if (k > 1 && index >= MAX_INDEXED) return TOO_MANY;
    if (vec_reserve(&s->states, k)) return NO_MEMORY;
    memcpy(s->states.v + s->states.n, m, k * sizeof(word));
    s->states.n += k;
    s->table[pos] = k == 1 ? m[0] : ((h >> 32) << 32) | index;
    s->used++;
    if (s->used * 10 > (s->mask + 1) * 7) return table_grow(s, k);
    return OK;
}

INLINE int run(Search *s, const word *initial, int k) {
    word *batch = malloc((size_t)(BATCH + s->nmoves) * (k + 1) * sizeof(word));
    if (batch == NULL) return NO_MEMORY;
    word *hashes = batch + (size_t)(BATCH + s->nmoves) * k;
    int status = OK;
    s->mask = 1023;
    s->table = malloc((s->mask + 1) * sizeof(word));
    if (s->table == NULL) {
        free(batch);
        return NO_MEMORY;
    }
    memset(s->table, 0xff, (s->mask + 1) * sizeof(word));
    if ((status = insert(s, initial, hash_words(initial, k), k)) != OK) goto done;
    if (vec_push(&s->level_starts, 0) || vec_push(&s->level_starts, 1)) {
        status = NO_MEMORY;
        goto done;
    }
    for (word depth = 0;; depth++) {
        size_t lo = s->level_starts.v[depth], hi = s->level_starts.v[depth + 1];
        if (hi > s->max_states) { /* the same test, at the same place, as explore.py */
            s->complete = 0;
            break;
        }
        size_t i = lo;
        while (i < hi) {
            size_t n = 0;
            for (; i < hi && n < BATCH; i++) {
                const word *m = s->states.v + i * k;
                int any = 0;
                for (Py_ssize_t t = 0; t < s->nmoves; t++) {
                    const word *mv = s->moves + (size_t)t * 5 * k;
                    if (!enabled(m, mv, mv + k, s->spans[t], k)) continue;
                    any = 1;
                    s->enabled[t] = 1;
                    s->edges++;
                    word *out = batch + n * k;
                    if (fire(m, mv + 2 * k, mv + 4 * k, mv + 3 * k, s->all_guards, s->spans[t],
                             out, k)) {
                        status = WIDEN;
                        goto done;
                    }
                    hashes[n] = hash_words(out, k);
                    PREFETCH(s->table + (hashes[n] & s->mask));
                    n++;
                }
                if (!any) {
                    if (vec_reserve(&s->dead, k) || vec_push(&s->dead_levels, depth)) {
                        status = NO_MEMORY;
                        goto done;
                    }
                    memcpy(s->dead.v + s->dead.n, m, k * sizeof(word));
                    s->dead.n += k;
                }
            }
            for (size_t b = 0; b < n; b++)
                if ((status = insert(s, batch + b * k, hashes[b], k)) != OK) goto done;
        }
        size_t count = s->states.n / k;
        if (count == hi) break;
        if (vec_push(&s->level_starts, count)) {
            status = NO_MEMORY;
            goto done;
        }
    }
done:
    free(batch);
    free(s->table);
    s->table = NULL;
    return status;
}

/* Ascending order, comparing the highest word first: LSD radix sort on bytes, skipping the
 * bytes in which all records agree (most of them, as fields are narrow). */
static int sort_level(word *a, size_t n, int k, word *tmp) {
    if (n < 2) return 0;
    size_t counts[256];
    word *src = a, *dst = tmp;
    for (int j = 0; j < k; j++) {
        for (int shift = 0; shift < 64; shift += 8) {
            memset(counts, 0, sizeof counts);
            for (size_t i = 0; i < n; i++) counts[(src[i * k + j] >> shift) & 0xff]++;
            if (counts[(src[j] >> shift) & 0xff] == n) continue;
            size_t total = 0;
            for (int d = 0; d < 256; d++) {
                size_t c = counts[d];
                counts[d] = total;
                total += c;
            }
            for (size_t i = 0; i < n; i++) {
                size_t to = counts[(src[i * k + j] >> shift) & 0xff]++;
                memcpy(dst + to * k, src + i * k, k * sizeof(word));
            }
            word *swap = src;
            src = dst;
            dst = swap;
        }
    }
    if (src != a) memcpy(a, src, n * k * sizeof(word));
    return 0;
}

static int sort_levels(Search *s, int k) {
    size_t widest = 0;
    for (size_t d = 0; d + 1 < s->level_starts.n; d++) {
        size_t n = s->level_starts.v[d + 1] - s->level_starts.v[d];
        if (n > widest) widest = n;
    }
    word *tmp = malloc((widest ? widest : 1) * k * sizeof(word));
    if (tmp == NULL) return NO_MEMORY;
    for (size_t d = 0; d + 1 < s->level_starts.n; d++) {
        size_t lo = s->level_starts.v[d], hi = s->level_starts.v[d + 1];
        sort_level(s->states.v + lo * k, hi - lo, k, tmp);
    }
    free(tmp);
    return OK;
}

/* The largest count of each place over every marking found. A place whose count reaches
 * the most its field can hold drops out of the scan (on safe nets, all of them, early). */
static int place_bounds(const Search *s, word *bounds) {
    int k = s->k, open = s->places;
    word mask = ((word)1 << s->width) - 1, top = mask >> 1;
    size_t count = s->states.n / k;
    int *left = malloc((open ? (size_t)open : 1) * sizeof(int));
    if (left == NULL) return NO_MEMORY;
    for (int p = 0; p < open; p++) {
        bounds[p] = 0;
        left[p] = p;
    }
    for (size_t i = 0; i < count && open; i++) {
        const word *m = s->states.v + i * k;
        for (int at = 0; at < open; at++) {
            int p = left[at];
            size_t offset = (size_t)p * s->width;
            size_t j = offset / 64, shift = offset % 64;
            word value = m[j] >> shift;
            if (shift + s->width > 64 && j + 1 < (size_t)k) value |= m[j + 1] << (64 - shift);
            value &= mask;
            if (value <= bounds[p]) continue;
            bounds[p] = value;
            if (value == top) left[at--] = left[--open];
        }
    }
    free(left);
    return OK;
}

static void search_free(Search *s) {
    free(s->states.v);
    free(s->level_starts.v);
    free(s->dead.v);
    free(s->dead_levels.v);
    free(s->enabled);
    free(s->spans);
    free(s->table);
}

/* The words a move touches, widened to whole fields: a carry from a token added to the low
 * bits of a field that straddles two words lands in the next word. */
static void find_spans(Search *s) {
    int k = s->k;
    size_t width = (size_t)s->width;
    for (Py_ssize_t t = 0; t < s->nmoves; t++) {
        const word *mv = s->moves + (size_t)t * 5 * k;
        Span span = {k, -1}; /* empty: the move changes nothing */
        for (int j = 0; j < k; j++) {
            word bits = mv[j] | mv[k + j] | mv[2 * k + j] | mv[3 * k + j] | ~mv[4 * k + j];
            if (!bits) continue;
            int low = 0, high = 63;
            while (!((bits >> low) & 1)) low++;
            while (!((bits >> high) & 1)) high--;
            size_t first = ((size_t)j * 64 + low) / width * width;
            size_t last = ((size_t)j * 64 + high) / width * width + width - 1;
            if ((int)(first / 64) < span.lo) span.lo = (int)(first / 64);
            if ((int)(last / 64) > span.hi) span.hi = (int)(last / 64);
        }
        if (span.hi >= k) span.hi = k - 1;
        s->spans[t] = span;
    }
}

static PyObject *list_of_words(const Vec *vec) {
    PyObject *list = PyList_New((Py_ssize_t)vec->n);
    if (list == NULL) return NULL;
    for (size_t i = 0; i < vec->n; i++) {
        PyObject *item = PyLong_FromUnsignedLongLong(vec->v[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

PyDoc_STRVAR(search_doc,
             "search(words, places, width, moves, all_guards, initial, max_states)\n--\n\n"
             "Explore from `initial`; None when a count outgrew its field, else\n"
             "(states, level_starts, edges, enabled, dead, dead_levels, bounds, complete).");

static PyObject *search(PyObject *module, PyObject *args) {
    int k, places, width;
    Py_buffer moves, all_guards, initial;
    unsigned long long max_states;
    if (!PyArg_ParseTuple(args, "iiiy*y*y*K", &k, &places, &width, &moves, &all_guards,
                          &initial, &max_states))
        return NULL;
    PyObject *result = NULL;
    Search s;
    memset(&s, 0, sizeof s);
    s.complete = 1;
    if (k < 1 || places < 0 || width < 2 || width > 63 ||
        (size_t)places * width > (size_t)k * 64 ||
        moves.len % (5 * k * (Py_ssize_t)sizeof(word)) != 0 ||
        all_guards.len != k * (Py_ssize_t)sizeof(word) ||
        initial.len != k * (Py_ssize_t)sizeof(word)) {
        PyErr_SetString(PyExc_ValueError, "search: the buffers do not match the layout");
        goto out;
    }
    s.k = k;
    s.places = places;
    s.width = width;
    s.nmoves = moves.len / (5 * k * (Py_ssize_t)sizeof(word));
    s.moves = moves.buf;
    s.all_guards = all_guards.buf;
    s.max_states = max_states;
    s.enabled = calloc(s.nmoves ? (size_t)s.nmoves : 1, 1);
    s.spans = malloc((s.nmoves ? (size_t)s.nmoves : 1) * sizeof(Span));
    word *bounds = malloc((places ? (size_t)places : 1) * sizeof(word));
    if (s.enabled == NULL || s.spans == NULL || bounds == NULL) {
        free(bounds);
        PyErr_NoMemory();
        goto out;
    }
    find_spans(&s);
    int status;
    Py_BEGIN_ALLOW_THREADS;
    /* Constant k lets the compiler unroll the one-word case, the common one. */
    status = k == 1   ? run(&s, initial.buf, 1)
             : k == 2 ? run(&s, initial.buf, 2)
                      : run(&s, initial.buf, k);
    if (status == OK) status = sort_levels(&s, k);
    if (status == OK) status = place_bounds(&s, bounds);
    Py_END_ALLOW_THREADS;
    if (status == WIDEN) {
        free(bounds);
        result = Py_NewRef(Py_None);
        goto out;
    }
    if (status == NO_MEMORY) {
        free(bounds);
        PyErr_NoMemory();
        goto out;
    }
    if (status == TOO_MANY) {
        free(bounds);
        PyErr_SetString(PyExc_OverflowError,
                        "more than 4,294,967,294 markings: lower max_states");
        goto out;
    }
    PyObject *starts = list_of_words(&s.level_starts);
    PyObject *dead_levels = list_of_words(&s.dead_levels);
    Vec bound_vec = {bounds, (size_t)places, (size_t)places};
    PyObject *bound_list = list_of_words(&bound_vec);
    free(bounds);
    PyObject *flags = PyBytes_FromStringAndSize((const char *)s.enabled, s.nmoves);
    PyObject *edges = PyLong_FromUnsignedLongLong(s.edges);
    /* The arrays change hands: the Words objects free them. */
    word *states = s.states.v, *dead = s.dead.v;
    size_t nstates = s.states.n, ndead = s.dead.n;
    s.states.v = s.dead.v = NULL;
    PyObject *state_words = words_wrap(states, nstates);
    PyObject *dead_words = words_wrap(dead, ndead);
    if (starts && dead_levels && bound_list && flags && edges && state_words && dead_words)
        result = Py_BuildValue("(NNNNNNNO)", state_words, starts, edges, flags, dead_words,
                               dead_levels, bound_list, s.complete ? Py_True : Py_False);
    else {
        Py_XDECREF(starts);
        Py_XDECREF(dead_levels);
        Py_XDECREF(bound_list);
        Py_XDECREF(flags);
        Py_XDECREF(edges);
        Py_XDECREF(state_words);
        Py_XDECREF(dead_words);
    }
out:
    search_free(&s);
    PyBuffer_Release(&moves);
    PyBuffer_Release(&all_guards);
    PyBuffer_Release(&initial);
    return result;
}

static PyMethodDef methods[] = {
    {"search", search, METH_VARARGS, search_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_reach", "Breadth-first reachability on packed markings, in C.",
    -1, methods,
};

PyMODINIT_FUNC PyInit__reach(void) {
    if (PyType_Ready(&WordsType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    if (PyModule_AddObjectRef(m, "Words", (PyObject *)&WordsType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
