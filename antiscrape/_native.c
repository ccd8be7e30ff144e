/*
 * antiscrape's hot path in C, for what costs the most per request in Python:
 *
 * 1. the in-memory state backend (memory.py and sketch.py, op for op);
 * 2. decoding an ASGI request's raw header pairs into the str dict the engine reads;
 * 3. a client's fingerprint material (identity.fingerprint_material), on every protected read.
 *
 * All are optional: without a compiler the package uses the Python versions, which give the
 * same answers (the tests compare them).
 *
 * The state backend
 * -----------------
 * Why it exists: on a protected read the Python backend spent about as long executing the
 * request's six storage operations as Starlette spends serving the whole request (dictionary
 * steps, tuples rebuilt per update, a sketch object per counter, all of it scattered over the
 * heap): 5.6 us against 0.5 here, where one request's batch is one C call over one table of
 * small fixed-size entries.
 *
 * Shape:
 * - one open-addressing hash table of 64-byte entries, keyed by exact str objects (their
 *   cached hash), each entry holding its state or a pointer to it. Linear probing is safe
 *   from crafted collisions: keys end in the engine's keyed digests and str hashes are keyed
 *   per process, so no client can choose keys that share a probe run;
 * - the entries form a doubly linked list in recency order: the least recently used entry is
 *   evicted when an insert would pass the cap, exactly as the Python OrderedDict does;
 * - a distinct counter is a refcounted Sketch (a kept join points at the older bucket's
 *   sketch, which may be evicted from the table while the join still holds it);
 * - nothing here is a Python container, so the garbage collector never walks the state.
 *
 * Constants (register weights, Ertl's sigma table, alpha * m * m) come from sketch.py through
 * configure(), so both implementations compute estimates from the very same numbers and in
 * the same order: the Python backend stays the readable reference and the tests compare the
 * two result for result.
 *
 * Thread safety: a store has its own lock. Allocations can start a collection, which can run
 * finalizers and switch threads in the middle of a batch; the lock keeps other threads out.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define P 12
#define M (1 << P)
#define INDEX_MASK (M - 1)
#define Q (64 - P)
#define RANK_TOP (Q + 1)
#define EXACT_LIMIT 64
#define EXACT_BYTES 8

static double WEIGHT[RANK_TOP + 1];
static double M_SIGMA[M];
static double ALPHA_MM;
static int configured = 0;

/* ---- operations: their classes and where their slots sit ------------------------------ */

enum { OP_HIT, OP_INCR, OP_GET, OP_PUT, OP_PUT_IF_ABSENT, OP_DISTINCT_ADD,
       OP_DISTINCT_ADD_ALL, OP_RECENT, N_OPS };

static const char *const FIELDS[N_OPS][4] = {
    {"key", "window", "limit", "cost"},
    {"key", "ttl", "amount", NULL},
    {"key", NULL, NULL, NULL},
    {"key", "value", "ttl", NULL},
    {"key", "value", "ttl", NULL},
    {"key", "member", "ttl", "also"},
    {"member", "counters", "now", NULL},
    {"key", "value", "size", "ttl"},
};

static PyTypeObject *OP_TYPES[N_OPS];
static Py_ssize_t OFFSET[N_OPS][4];
/* The ops are slotted dataclasses: reading a field is reading the object at its slot's
 * offset, found once from the class's member descriptors (what attribute access would do
 * after a type look-up and a descriptor call). */

static PyObject *
field(PyObject *op, int kind, int i)
{
    PyObject *value = *(PyObject **)((char *)op + OFFSET[kind][i]);
    if (value == NULL) {
        PyErr_Format(PyExc_AttributeError, "%s has no value for %s",
                     Py_TYPE(op)->tp_name, FIELDS[kind][i]);
    }
    return value; /* borrowed */
}

static int
as_long(PyObject *value, long long *out)
{
    *out = PyLong_AsLongLong(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

/* key itself when it is an exact str (a subclass could run Python code in a batch), else
 * NULL with a TypeError. */
static PyObject *
checked_key(PyObject *key)
{
    if (!PyUnicode_CheckExact(key)) {
        PyErr_Format(PyExc_TypeError, "state keys must be str, not %s", Py_TYPE(key)->tp_name);
        return NULL;
    }
    return key;
}

static PyObject *
key_field(PyObject *op, int kind, int i)
{
    PyObject *key = field(op, kind, i);
    return key != NULL ? checked_key(key) : NULL;
}

/* ---- distinct counters ------------------------------------------------------------------ */

typedef struct Sketch Sketch;
struct Sketch {
    Py_ssize_t refs;
    uint64_t *exact;       /* member hashes while exact (registers == NULL) */
    int n_exact, cap_exact;
    uint64_t seen[2];      /* one bit per member, by its hash's top 7 bits: a clear bit
                            * says "not a member" without reading the hashes (a new member
                            * of a full exact sketch skips a 512-byte scan 60 % of the time) */
    uint8_t *registers;    /* 4096 one-byte registers once past EXACT_LIMIT members */
    int zeros;
    double sum;            /* sum of 2**-r over non-empty registers */
    int64_t count;         /* cached estimate; -1 when stale */
    uint64_t version;      /* bumped on every change: a join with this as older goes stale */
    Sketch *older;         /* the kept join's older bucket (a reference), or NULL */
    uint64_t older_version;
    int64_t union_count;   /* the join's count while both sides are exact */
    Sketch *uni;           /* the join's merged registers once either side is not (owned) */
};

static Sketch *
sketch_new(void)
{
    Sketch *s = PyMem_Calloc(1, sizeof(Sketch));
    if (s == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    s->refs = 1;
    s->zeros = M;
    return s;
}

static void sketch_release(Sketch *s);

/* Let go of a join's two sides (either may be NULL). */
static void
release_join(Sketch *older, Sketch *uni)
{
    if (older != NULL) {
        sketch_release(older);
    }
    if (uni != NULL) {
        sketch_release(uni);
    }
}

static void
drop_join(Sketch *s)
{
    Sketch *older = s->older, *uni = s->uni;
    s->older = NULL;
    s->uni = NULL;
    release_join(older, uni);
}

static void
sketch_release(Sketch *s)
{
    if (--s->refs > 0) {
        return;
    }
    drop_join(s);
    PyMem_Free(s->exact);
    PyMem_Free(s->registers);
    PyMem_Free(s);
}

static inline int
seen_bit(uint64_t h, int *word)
{
    *word = (int)(h >> 63);
    return (int)((h >> 57) & 63);
}

static inline int
holds(const Sketch *s, uint64_t h)
{
    int word, bit = seen_bit(h, &word);
    if (!(s->seen[word] >> bit & 1)) {
        return 0;
    }
    for (int i = 0; i < s->n_exact; i++) {
        if (s->exact[i] == h) {
            return 1;
        }
    }
    return 0;
}

static inline int
bit_length(uint64_t x)
{
    return x ? 64 - __builtin_clzll(x) : 0;
}

/* Raise one register if h ranks higher there; 1 when something changed. */
static int
add_hash(Sketch *s, uint64_t h)
{
    int index = (int)(h & INDEX_MASK);
    int rank = RANK_TOP - bit_length(h >> P);
    int old = s->registers[index];
    if (rank <= old) {
        return 0;
    }
    s->registers[index] = (uint8_t)rank;
    if (old) {
        s->sum += WEIGHT[rank] - WEIGHT[old];
    }
    else {
        s->zeros -= 1;
        s->sum += WEIGHT[rank];
    }
    s->count = -1;
    s->version += 1;
    return 1;
}

static int
to_registers(Sketch *s)
{
    uint8_t *registers = PyMem_Calloc(M, 1);
    if (registers == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    uint64_t *hashes = s->exact;
    int n = s->n_exact;
    s->exact = NULL;
    s->n_exact = s->cap_exact = 0;
    s->registers = registers;
    s->zeros = M;
    s->sum = 0.0;
    s->count = -1;
    drop_join(s); /* an exact union count cannot follow registers: rebuilt on demand */
    for (int i = 0; i < n; i++) {
        add_hash(s, hashes[i]);
    }
    PyMem_Free(hashes);
    return 0;
}

static int64_t
sketch_count(Sketch *s)
{
    if (s->registers == NULL) {
        return s->n_exact;
    }
    if (s->count < 0) {
        double sigma = s->zeros < M ? M_SIGMA[s->zeros] : INFINITY;
        int64_t count = (int64_t)nearbyint(ALPHA_MM / (sigma + s->sum)); /* half to even */
        if (count <= EXACT_LIMIT) { /* more than EXACT_LIMIT were seen: never report fewer */
            count = EXACT_LIMIT + 1;
        }
        s->count = count;
    }
    return s->count;
}

static Py_ssize_t
sketch_nbytes(const Sketch *s)
{
    Py_ssize_t size = s->registers != NULL ? M : (Py_ssize_t)s->n_exact * EXACT_BYTES + 64;
    if (s->uni != NULL) {
        size += M;
    }
    return size;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The union of n sketches: *exact_count while every one is exact (*uni = NULL), else a new
 * dense sketch of the merged registers and every exact hash in *uni. */
static int
union_of(Sketch **sketches, int n, int64_t *exact_count, Sketch **uni)
{
    int all_exact = 1;
    Py_ssize_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sketches[i]->registers != NULL) {
            all_exact = 0;
        }
        total += sketches[i]->n_exact;
    }
    *uni = NULL;
    *exact_count = 0;
    if (all_exact) {
        if (total == 0) {
            return 0;
        }
        uint64_t *all = PyMem_Malloc(sizeof(uint64_t) * (size_t)total);
        if (all == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        Py_ssize_t at = 0;
        for (int i = 0; i < n; i++) {
            memcpy(all + at, sketches[i]->exact, sizeof(uint64_t) * (size_t)sketches[i]->n_exact);
            at += sketches[i]->n_exact;
        }
        qsort(all, (size_t)total, sizeof(uint64_t), cmp_u64);
        int64_t distinct = 1;
        for (Py_ssize_t i = 1; i < total; i++) {
            distinct += all[i] != all[i - 1];
        }
        PyMem_Free(all);
        *exact_count = distinct;
        return 0;
    }
    Sketch *u = sketch_new();
    if (u == NULL) {
        return -1;
    }
    u->registers = PyMem_Calloc(M, 1);
    if (u->registers == NULL) {
        sketch_release(u);
        PyErr_NoMemory();
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const uint8_t *r = sketches[i]->registers;
        if (r != NULL) {
            for (int j = 0; j < M; j++) {
                if (r[j] > u->registers[j]) {
                    u->registers[j] = r[j];
                }
            }
        }
    }
    /* The summary as sketch.py's _summary builds it: a histogram summed from rank 1 up. */
    Py_ssize_t histogram[RANK_TOP + 1] = {0};
    int top = 0;
    for (int j = 0; j < M; j++) {
        int r = u->registers[j];
        histogram[r] += 1;
        if (r > top) {
            top = r;
        }
    }
    u->zeros = (int)histogram[0];
    u->sum = 0.0;
    for (int k = 1; k <= top; k++) {
        u->sum += (double)histogram[k] * WEIGHT[k];
    }
    u->count = -1;
    for (int i = 0; i < n; i++) {
        if (sketches[i]->registers == NULL) {
            for (int j = 0; j < sketches[i]->n_exact; j++) {
                add_hash(u, sketches[i]->exact[j]);
            }
        }
    }
    *uni = u;
    return 0;
}

/* Build the union with older from scratch and keep it. */
static int
join(Sketch *s, Sketch *older)
{
    Sketch *pair[2] = {s, older};
    int64_t exact_count;
    Sketch *uni;
    if (union_of(pair, 2, &exact_count, &uni) < 0) {
        return -1;
    }
    older->refs += 1;
    Sketch *was_older = s->older, *was_uni = s->uni;
    s->older = older;
    s->older_version = older->version;
    s->union_count = exact_count;
    s->uni = uni;
    release_join(was_older, was_uni);
    /* The older bucket is closed: its own join is no longer needed, and dropping it keeps a
     * chain of ever older buckets from staying alive. */
    drop_join(older);
    return 0;
}

/* This sketch took a hash it did not hold before: so does the kept join. */
static void
follow(Sketch *s, uint64_t h)
{
    Sketch *older = s->older;
    if (older->version != s->older_version ||
            (s->uni == NULL && older->registers != NULL)) {
        drop_join(s); /* the older side changed: rebuilt when next counted */
        return;
    }
    if (s->uni != NULL) {
        add_hash(s->uni, h);
    }
    else if (!holds(older, h)) {
        s->union_count += 1;
    }
}

static int64_t
count_with(Sketch *s, Sketch *older)
{
    if (s->older != older || older->version != s->older_version) {
        if (join(s, older) < 0) {
            return -1;
        }
    }
    return s->uni == NULL ? s->union_count : sketch_count(s->uni);
}

/* Take hash h; return the count, or the count of the union with older when given (-1 with
 * an exception set on failure). The common cases stay short: a re-read of an exact sketch is
 * one scan, a new member one append. */
static int64_t
add_count(Sketch *s, uint64_t h, Sketch *older)
{
    if (s->registers == NULL) {
        if (holds(s, h)) {
            if (older == NULL) {
                return s->n_exact; /* a re-read: nothing changes, not even the kept join */
            }
        }
        else {
            if (s->n_exact == s->cap_exact) {
                int grown = s->cap_exact ? s->cap_exact * 2 : 4;
                if (grown > EXACT_LIMIT + 1) {
                    grown = EXACT_LIMIT + 1;
                }
                uint64_t *exact = PyMem_Realloc(s->exact, sizeof(uint64_t) * (size_t)grown);
                if (exact == NULL) {
                    PyErr_NoMemory();
                    return -1;
                }
                s->exact = exact;
                s->cap_exact = grown;
            }
            s->exact[s->n_exact++] = h;
            int word, bit = seen_bit(h, &word);
            s->seen[word] |= (uint64_t)1 << bit;
            s->version += 1;
            if (s->n_exact > EXACT_LIMIT) {
                if (to_registers(s) < 0) {
                    return -1;
                }
            }
            else if (s->older != NULL) {
                follow(s, h);
            }
            if (older == NULL) {
                return sketch_count(s);
            }
        }
    }
    else if (add_hash(s, h) && s->older != NULL) {
        follow(s, h);
    }
    if (older == NULL) {
        return sketch_count(s);
    }
    return count_with(s, older);
}

/* ---- the store -------------------------------------------------------------------------- */

enum { K_HIT, K_COUNT, K_VALUE, K_SKETCH };

typedef int32_t pos_t;  /* table positions: a cap stays below 2**30 entries */

/* One entry in 64 bytes, stored in the hash table itself: a look-up reads the line that holds
 * the key's hash, its expiry, its recency links and its state (a budget window or a counter
 * inline, a value or a sketch by reference), where a dict read its index, its entry, a boxed
 * slot number and then the entry. */
typedef struct {
    PyObject *key;     /* NULL: an empty position */
    Py_hash_t hash;
    double expires;
    pos_t prev, next;  /* recency order (positions in the table) */
    int32_t kind;
    union {
        struct {
            long long bucket;
            double prev, cur;
        } hit;
        long long count;
        PyObject *value;
        Sketch *sketch;
    } u;
} Entry;

/* Open addressing with linear probing, at most half full, deletions by backward shift (no
 * tombstones); the entries form a doubly linked list in recency order, least recently used
 * first, and an insert that would pass the cap evicts the first. */
typedef struct {
    PyObject_HEAD
    Entry *table;
    size_t mask;       /* table size - 1 (a power of two) */
    Py_ssize_t used;
    pos_t head;        /* least recently used */
    pos_t tail;        /* most recently used */
    Py_ssize_t cap;
    long long evictions;
    PyThread_type_lock lock;
} Store;

/* A budget hit's answer, the fields of ops.HitResult: one small object holding its numbers
 * (a float is made only when a field is read; the engine's usual check reads ``counted``). */
typedef struct {
    PyObject_HEAD
    double count;
    double reset;
    char counted;
} HitResultObject;

static PyTypeObject HitResultType;

static void
unlink_entry(Store *st, Py_ssize_t i)
{
    Entry *e = &st->table[i];
    if (e->prev >= 0) {
        st->table[e->prev].next = e->next;
    }
    else {
        st->head = e->next;
    }
    if (e->next >= 0) {
        st->table[e->next].prev = e->prev;
    }
    else {
        st->tail = e->prev;
    }
}

static void
link_tail(Store *st, Py_ssize_t i)
{
    Entry *e = &st->table[i];
    e->prev = st->tail;
    e->next = -1;
    if (st->tail >= 0) {
        st->table[st->tail].next = (pos_t)i;
    }
    else {
        st->head = (pos_t)i;
    }
    st->tail = (pos_t)i;
}

static inline void
touch(Store *st, Py_ssize_t i)
{
    if (st->tail != i) {
        unlink_entry(st, i);
        link_tail(st, i);
    }
}

static void
release_payload(Entry *e)
{
    if (e->kind == K_VALUE) {
        Py_CLEAR(e->u.value);
    }
    else if (e->kind == K_SKETCH && e->u.sketch != NULL) {
        sketch_release(e->u.sketch);
        e->u.sketch = NULL;
    }
    e->kind = K_COUNT; /* holds nothing to release */
}

static inline int
same_key(PyObject *a, PyObject *b)
{
    if (a == b) {
        return 1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    int kind = PyUnicode_KIND(a);
    return n == PyUnicode_GET_LENGTH(b) && kind == PyUnicode_KIND(b) &&
        memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)n * (size_t)kind) == 0;
}

/* The position holding key (>= 0), or -(the empty position where it would go) - 1. */
static Py_ssize_t
position(Store *st, PyObject *key, Py_hash_t hash)
{
    size_t i = (size_t)hash & st->mask;
    for (;;) {
        Entry *e = &st->table[i];
        if (e->key == NULL) {
            return -(Py_ssize_t)i - 1;
        }
        if (e->hash == hash && same_key(e->key, key)) {
            return (Py_ssize_t)i;
        }
        i = (i + 1) & st->mask;
    }
}

/* Move the entry at j to the empty position i, its neighbours in recency order following. */
static void
move_entry(Store *st, size_t j, size_t i)
{
    Entry *e = &st->table[i];
    *e = st->table[j];
    st->table[j].key = NULL;
    if (e->prev >= 0) {
        st->table[e->prev].next = (pos_t)i;
    }
    else {
        st->head = (pos_t)i;
    }
    if (e->next >= 0) {
        st->table[e->next].prev = (pos_t)i;
    }
    else {
        st->tail = (pos_t)i;
    }
}

/* Remove the entry at i (payload released): later entries of the same probe run shift back,
 * so entries move, and positions held across a removal are stale. */
static void
remove_at(Store *st, Py_ssize_t at)
{
    size_t i = (size_t)at, j = i, mask = st->mask;
    Entry *e = &st->table[i];
    PyObject *key = e->key;
    unlink_entry(st, at);
    release_payload(e);
    e->key = NULL;
    st->used -= 1;
    for (;;) {
        j = (j + 1) & mask;
        Entry *next = &st->table[j];
        if (next->key == NULL) {
            break;
        }
        size_t home = (size_t)next->hash & mask;
        /* it stays where it is when its home lies cyclically in (i, j] */
        int stays = i < j ? (i < home && home <= j) : (i < home || home <= j);
        if (!stays) {
            move_entry(st, j, i);
            i = j;
        }
    }
    Py_DECREF(key); /* last: the store is consistent should a finalizer run */
}

/* A table of n positions (a power of two) holding every entry again, in the same recency
 * order. */
static int
resize(Store *st, size_t n)
{
    Entry *table = PyMem_Calloc(n, sizeof(Entry));
    if (table == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    Entry *old = st->table;
    size_t mask = n - 1;
    pos_t prev = -1;
    for (pos_t k = st->head; k >= 0; k = old[k].next) {
        size_t i = (size_t)old[k].hash & mask;
        while (table[i].key != NULL) {
            i = (i + 1) & mask;
        }
        table[i] = old[k];
        table[i].prev = prev;
        table[i].next = -1;
        if (prev >= 0) {
            table[prev].next = (pos_t)i;
        }
        else {
            st->head = (pos_t)i;
        }
        prev = (pos_t)i;
    }
    st->tail = prev;
    PyMem_Free(old);
    st->table = table;
    st->mask = mask;
    return 0;
}

static inline Py_hash_t
key_hash(PyObject *key)
{
    return PyObject_Hash(key); /* a str keeps its hash: computed once per key object */
}

/* The position holding key: >= 0, -1 when absent, -2 on error. */
static Py_ssize_t
find(Store *st, PyObject *key)
{
    Py_hash_t hash = key_hash(key);
    if (hash == -1) {
        return -2;
    }
    Py_ssize_t at = position(st, key, hash);
    return at >= 0 ? at : -1;
}

/* A live entry's position: -1 when absent or expired (an expired one is removed), -2 on
 * error. */
static Py_ssize_t
find_live(Store *st, PyObject *key, double now)
{
    Py_ssize_t i = find(st, key);
    if (i >= 0 && st->table[i].expires <= now) {
        remove_at(st, i);
        return -1;
    }
    return i;
}

/* A new entry for key (absent from the table), most recently used; evicts the least recently
 * used one first when the store is full. Returns its position or -1 on error. */
static Py_ssize_t
insert(Store *st, PyObject *key, int kind, double expires)
{
    Py_hash_t hash = key_hash(key);
    if (hash == -1) {
        return -1;
    }
    if (st->used >= st->cap && st->head >= 0) {
        remove_at(st, st->head);
        st->evictions += 1;
    }
    if ((size_t)(st->used + 1) * 2 > st->mask + 1) {
        if (resize(st, (st->mask + 1) * 2) < 0) {
            return -1;
        }
    }
    Py_ssize_t at = position(st, key, hash);
    Py_ssize_t i = -at - 1; /* absent: the caller looked it up */
    Entry *e = &st->table[i];
    Py_INCREF(key);
    e->key = key;
    e->hash = hash;
    e->expires = expires;
    e->kind = kind;
    memset(&e->u, 0, sizeof(e->u));
    link_tail(st, i);
    st->used += 1;
    return i;
}

/* The entry at i takes new state, whatever it held (its payload released), as the most
 * recently used one. */
static Py_ssize_t
reuse(Store *st, Py_ssize_t i, int kind, double expires)
{
    Entry *e = &st->table[i];
    release_payload(e);
    e->kind = kind;
    e->expires = expires;
    memset(&e->u, 0, sizeof(e->u));
    touch(st, i);
    return i;
}

/* The position to write key's new state to: an existing entry is reused, a missing one
 * inserted. -1 on error. */
static Py_ssize_t
store_slot(Store *st, PyObject *key, int kind, double expires)
{
    Py_ssize_t i = find(st, key);
    if (i == -2) {
        return -1;
    }
    return i < 0 ? insert(st, key, kind, expires) : reuse(st, i, kind, expires);
}

static PyObject *
wrong_kind(PyObject *key)
{
    PyErr_Format(PyExc_TypeError, "state key %R holds another kind of value", key);
    return NULL;
}

/* ---- the handlers: one per op kind ------------------------------------------------------ */

/* CPython's float floor division, so buckets match the Python backend's ``now // window``. */
static double
floor_div(double vx, double wx)
{
    double mod = fmod(vx, wx);
    double div = (vx - mod) / wx;
    if (mod && ((wx < 0) != (mod < 0))) {
        div -= 1.0;
    }
    if (div) {
        double floordiv = floor(div);
        if (div - floordiv > 0.5) {
            floordiv += 1.0;
        }
        return floordiv;
    }
    return copysign(0.0, vx / wx);
}

static double
window_reset(double prev, double cur, double elapsed, long long window, long long limit,
             long long cost)
{
    double room = (double)(limit - cost) - cur;
    if (room >= 0) {
        if (prev <= 0) {
            return 0.0;
        }
        double need = 1.0 - room / prev;
        double wait = need * (double)window - elapsed;
        return wait > 0.0 ? wait : 0.0;
    }
    double to_next = (double)window - elapsed;
    long long room_next = limit - cost;
    if (room_next < 0) {
        return INFINITY;
    }
    double need = cur > 0 ? 1.0 - (double)room_next / cur : 0.0;
    return to_next + (need > 0.0 ? need : 0.0) * (double)window;
}

static PyObject *
do_hit(Store *st, PyObject *op, double now)
{
    PyObject *key = key_field(op, OP_HIT, 0);
    long long window, limit, cost;
    if (key == NULL || as_long(field(op, OP_HIT, 1), &window) < 0 ||
            as_long(field(op, OP_HIT, 2), &limit) < 0 ||
            as_long(field(op, OP_HIT, 3), &cost) < 0) {
        return NULL;
    }
    if (window <= 0) {
        PyErr_SetString(PyExc_ValueError, "a budget window must be positive");
        return NULL;
    }
    long long bucket = (long long)floor_div(now, (double)window);
    double elapsed = now - (double)(bucket * window);
    Py_ssize_t i = find(st, key);
    if (i == -2) {
        return NULL;
    }
    double prev = 0.0, cur = 0.0;
    int fresh = i < 0 || st->table[i].expires <= now;
    if (!fresh) {
        Entry *e = &st->table[i];
        if (e->kind != K_HIT) {
            return wrong_kind(key);
        }
        long long gap = bucket - e->u.hit.bucket;
        if (gap == 0) {
            prev = e->u.hit.prev;
            cur = e->u.hit.cur;
        }
        else {
            prev = gap == 1 ? e->u.hit.cur : 0.0;
        }
    }
    double count = prev * (1.0 - elapsed / (double)window) + cur;
    double reset = 0.0;
    int counted = count + (double)cost <= (double)limit;
    if (counted) {
        cur += (double)cost;
    }
    else {
        reset = window_reset(prev, cur, elapsed, window, limit, cost);
    }
    /* After (bucket + 2) * window both buckets are irrelevant: the entry expires then. */
    double expires = (double)((bucket + 2) * window);
    if (fresh) {
        i = i >= 0 ? reuse(st, i, K_HIT, expires) : insert(st, key, K_HIT, expires);
        if (i < 0) {
            return NULL;
        }
    }
    else {
        st->table[i].expires = expires;
        touch(st, i);
    }
    Entry *e = &st->table[i];
    e->u.hit.bucket = bucket;
    e->u.hit.prev = prev;
    e->u.hit.cur = cur;
    HitResultObject *result = PyObject_New(HitResultObject, &HitResultType);
    if (result == NULL) {
        return NULL;
    }
    result->count = count;
    result->reset = reset;
    result->counted = (char)counted;
    return (PyObject *)result;
}

static PyObject *
do_incr(Store *st, PyObject *op, double now)
{
    PyObject *key = key_field(op, OP_INCR, 0);
    long long ttl, amount;
    if (key == NULL || as_long(field(op, OP_INCR, 1), &ttl) < 0 ||
            as_long(field(op, OP_INCR, 2), &amount) < 0) {
        return NULL;
    }
    Py_ssize_t i = find_live(st, key, now);
    if (i == -2) {
        return NULL;
    }
    if (i < 0) {
        i = insert(st, key, K_COUNT, now + (double)ttl);
        if (i < 0) {
            return NULL;
        }
        st->table[i].u.count = amount;
        return PyLong_FromLongLong(amount);
    }
    Entry *e = &st->table[i];
    if (e->kind != K_COUNT) {
        return wrong_kind(key);
    }
    long long count;
    if (__builtin_add_overflow(e->u.count, amount, &count)) {
        PyErr_SetString(PyExc_OverflowError, "counter would pass 2**63 - 1");
        return NULL;
    }
    touch(st, i);
    e->u.count = count;
    return PyLong_FromLongLong(count);
}

static PyObject *
do_get(Store *st, PyObject *op, double now)
{
    PyObject *key = key_field(op, OP_GET, 0);
    if (key == NULL) {
        return NULL;
    }
    Py_ssize_t i = find_live(st, key, now);
    if (i == -2) {
        return NULL;
    }
    if (i < 0) {
        Py_RETURN_NONE;
    }
    touch(st, i);
    Entry *e = &st->table[i];
    if (e->kind == K_COUNT) {
        return PyLong_FromLongLong(e->u.count);
    }
    if (e->kind == K_VALUE) {
        return Py_NewRef(e->u.value);
    }
    Py_RETURN_NONE; /* a budget window or a distinct counter: not a value to read */
}

static PyObject *
put(Store *st, PyObject *op, int kind, int only_if_absent, double now)
{
    PyObject *key = key_field(op, kind, 0);
    PyObject *value = key ? field(op, kind, 1) : NULL;
    long long ttl;
    if (value == NULL || as_long(field(op, kind, 2), &ttl) < 0) {
        return NULL;
    }
    if (only_if_absent) {
        Py_ssize_t i = find_live(st, key, now);
        if (i == -2) {
            return NULL;
        }
        if (i >= 0) {
            touch(st, i);
            Py_RETURN_FALSE;
        }
    }
    Py_ssize_t i = store_slot(st, key, K_VALUE, now + (double)ttl);
    if (i < 0) {
        return NULL;
    }
    st->table[i].u.value = Py_NewRef(value);
    if (only_if_absent) {
        Py_RETURN_TRUE;
    }
    Py_RETURN_NONE;
}

static PyObject *
do_recent(Store *st, PyObject *op, double now)
{
    PyObject *key = key_field(op, OP_RECENT, 0);
    PyObject *value = key ? field(op, OP_RECENT, 1) : NULL;
    long long size, ttl;
    if (value == NULL || as_long(field(op, OP_RECENT, 2), &size) < 0 ||
            as_long(field(op, OP_RECENT, 3), &ttl) < 0) {
        return NULL;
    }
    if (!PyUnicode_CheckExact(value)) {
        PyErr_Format(PyExc_TypeError, "recent values must be str, not %s",
                     Py_TYPE(value)->tp_name);
        return NULL;
    }
    Py_ssize_t i = find_live(st, key, now);
    if (i == -2) {
        return NULL;
    }
    PyObject *values;
    if (i < 0) {
        values = PyTuple_Pack(1, value);
    }
    else {
        PyObject *old = st->table[i].u.value;
        if (st->table[i].kind != K_VALUE || !PyTuple_CheckExact(old)) {
            return wrong_kind(key);
        }
        /* (value, *old[:size - 1]) with Python's slice bounds */
        Py_ssize_t n_old = PyTuple_GET_SIZE(old);
        long long keep = size - 1;
        if (keep < 0) {
            keep += n_old;
            if (keep < 0) {
                keep = 0;
            }
        }
        if (keep > n_old) {
            keep = n_old;
        }
        values = PyTuple_New((Py_ssize_t)keep + 1);
        if (values != NULL) {
            PyTuple_SET_ITEM(values, 0, Py_NewRef(value));
            for (Py_ssize_t j = 0; j < keep; j++) {
                PyTuple_SET_ITEM(values, j + 1, Py_NewRef(PyTuple_GET_ITEM(old, j)));
            }
        }
    }
    if (values == NULL) {
        return NULL;
    }
    /* The tuple was built before the store changes: an allocation failure leaves it as it was. */
    i = i >= 0 ? reuse(st, i, K_VALUE, now + (double)ttl)
               : insert(st, key, K_VALUE, now + (double)ttl);
    if (i < 0) {
        Py_DECREF(values);
        return NULL;
    }
    st->table[i].u.value = Py_NewRef(values);
    return values;
}

/* The sketch under key, created (expiring at ``expires``) when absent or expired. */
static Sketch *
sketch_at(Store *st, PyObject *key, double now, double expires)
{
    Py_ssize_t i = find(st, key);
    if (i == -2) {
        return NULL;
    }
    if (i >= 0 && st->table[i].expires > now) {
        if (st->table[i].kind != K_SKETCH) {
            wrong_kind(key);
            return NULL;
        }
        touch(st, i);
        return st->table[i].u.sketch;
    }
    Sketch *s = sketch_new();
    if (s == NULL) {
        return NULL;
    }
    i = i >= 0 ? reuse(st, i, K_SKETCH, expires) : insert(st, key, K_SKETCH, expires);
    if (i < 0) {
        sketch_release(s);
        return NULL;
    }
    st->table[i].u.sketch = s;
    return s;
}

/* The live sketch under an older bucket's key, or NULL (*failed set on error). */
static Sketch *
older_at(Store *st, PyObject *key, double now, int *failed)
{
    if (checked_key(key) == NULL) {
        *failed = 1;
        return NULL;
    }
    Py_ssize_t i = find_live(st, key, now);
    if (i < 0) {
        *failed = i == -2;
        return NULL;
    }
    if (st->table[i].kind != K_SKETCH) {
        wrong_kind(key);
        *failed = 1;
        return NULL;
    }
    touch(st, i);
    return st->table[i].u.sketch;
}

/* The count of the live sketches (the first is the one added to) in their union. */
static int64_t
count_union(Sketch **sketches, int n)
{
    if (n == 1) {
        return sketch_count(sketches[0]);
    }
    if (n == 2) {
        return count_with(sketches[0], sketches[1]);
    }
    int64_t result;
    Sketch *uni;
    if (union_of(sketches, n, &result, &uni) < 0) {
        return -1;
    }
    if (uni != NULL) {
        result = sketch_count(uni);
        sketch_release(uni);
    }
    return result;
}

/* One counter: add h to the sketch at key and count it with its live older buckets. */
static int64_t
distinct_one(Store *st, PyObject *key, uint64_t h, double now, double expires, PyObject *also)
{
    if (!PyTuple_Check(also)) {
        PyErr_SetString(PyExc_TypeError, "older buckets must be a tuple of keys");
        return -1;
    }
    Sketch *s = sketch_at(st, key, now, expires);
    if (s == NULL) {
        return -1;
    }
    /* Held until done: an older-bucket look-up removes expired entries, and a caller may name
     * this very key (or one already expired) among them. */
    s->refs += 1;
    Py_ssize_t n_also = PyTuple_GET_SIZE(also);
    int failed = 0;
    int64_t result = -1;
    if (n_also <= 1) {
        Sketch *older = n_also ? older_at(st, PyTuple_GET_ITEM(also, 0), now, &failed) : NULL;
        if (older == s) {
            older = NULL; /* a counter named as its own older bucket is counted alone */
        }
        if (!failed) {
            result = add_count(s, h, older);
        }
        sketch_release(s);
        return result;
    }
    /* Several older buckets (the guard never builds this): add, then count the union of the
     * live ones. */
    Sketch **sketches = PyMem_Malloc(sizeof(Sketch *) * (size_t)(n_also + 1));
    if (sketches == NULL) {
        PyErr_NoMemory();
        sketch_release(s);
        return -1;
    }
    int n = 0;
    sketches[n++] = s;
    if (add_count(s, h, NULL) >= 0) {
        for (Py_ssize_t j = 0; j < n_also && !failed; j++) {
            Sketch *older = older_at(st, PyTuple_GET_ITEM(also, j), now, &failed);
            if (older != NULL) {
                older->refs += 1;
                sketches[n++] = older;
            }
        }
        if (!failed) {
            result = count_union(sketches, n);
        }
    }
    for (int j = 0; j < n; j++) {
        sketch_release(sketches[j]);
    }
    PyMem_Free(sketches);
    return result;
}

static int
member_hash(PyObject *member, uint64_t *h)
{
    if (!PyUnicode_CheckExact(member)) {
        PyErr_Format(PyExc_TypeError, "distinct members must be str, not %s",
                     Py_TYPE(member)->tp_name);
        return -1;
    }
    Py_hash_t hash = PyObject_Hash(member);
    if (hash == -1) {
        return -1;
    }
    *h = (uint64_t)hash; /* hash(member) & MASK64 */
    return 0;
}

static PyObject *
do_distinct_add(Store *st, PyObject *op, double now)
{
    PyObject *key = key_field(op, OP_DISTINCT_ADD, 0);
    PyObject *member = key ? field(op, OP_DISTINCT_ADD, 1) : NULL;
    PyObject *also = member ? field(op, OP_DISTINCT_ADD, 3) : NULL;
    long long ttl;
    uint64_t h;
    if (also == NULL || as_long(field(op, OP_DISTINCT_ADD, 2), &ttl) < 0 ||
            member_hash(member, &h) < 0) {
        return NULL;
    }
    int64_t count = distinct_one(st, key, h, now, now + (double)ttl, also);
    return count < 0 ? NULL : PyLong_FromLongLong(count);
}

static PyObject *
do_distinct_add_all(Store *st, PyObject *op, double now)
{
    PyObject *member = field(op, OP_DISTINCT_ADD_ALL, 0);
    PyObject *counters = member ? field(op, OP_DISTINCT_ADD_ALL, 1) : NULL;
    long long t;
    uint64_t h;
    if (counters == NULL || as_long(field(op, OP_DISTINCT_ADD_ALL, 2), &t) < 0 ||
            member_hash(member, &h) < 0) {
        return NULL;
    }
    if (!PyTuple_Check(counters)) {
        PyErr_SetString(PyExc_TypeError, "counters must be a tuple of (key, expires, also)");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(counters);
    PyObject *out = PyTuple_New(n);
    if (out == NULL) {
        return NULL;
    }
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *counter = PyTuple_GET_ITEM(counters, j);
        long long expires;
        if (!PyTuple_Check(counter) || PyTuple_GET_SIZE(counter) != 3) {
            PyErr_SetString(PyExc_TypeError, "each counter must be (key, expires, also)");
            goto error;
        }
        PyObject *key = checked_key(PyTuple_GET_ITEM(counter, 0));
        if (key == NULL) {
            goto error;
        }
        if (as_long(PyTuple_GET_ITEM(counter, 1), &expires) < 0) {
            goto error;
        }
        int64_t count = distinct_one(st, key, h, now, now + (double)(expires - t),
                                     PyTuple_GET_ITEM(counter, 2));
        PyObject *number = count < 0 ? NULL : PyLong_FromLongLong(count);
        if (number == NULL) {
            goto error;
        }
        PyTuple_SET_ITEM(out, j, number);
    }
    return out;
error:
    Py_DECREF(out);
    return NULL;
}

/* ---- the Python type -------------------------------------------------------------------- */

static PyObject *
Store_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"cap", NULL};
    Py_ssize_t cap = 200000;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|n:NativeMemoryStorage", names, &cap)) {
        return NULL;
    }
    if (cap < 1 || cap > (1 << 29)) {
        PyErr_SetString(PyExc_ValueError, "cap must be at least 1 and at most 2**29");
        return NULL;
    }
    Store *st = (Store *)type->tp_alloc(type, 0);
    if (st == NULL) {
        return NULL;
    }
    st->head = st->tail = -1;
    st->cap = cap;
    st->lock = PyThread_allocate_lock();
    if (st->lock == NULL || resize(st, 64) < 0) {
        Py_DECREF(st);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    return (PyObject *)st;
}

/* Empty the store (a new small table when it is to stay usable): entries are detached
 * first and released after, so a finalizer run by a release (a stored value's) sees an empty
 * store. */
static void
clear_store(Store *st, int usable)
{
    Entry *old = st->table;
    size_t n = old != NULL ? st->mask + 1 : 0;
    st->table = NULL;
    st->mask = 0;
    st->used = 0;
    st->head = st->tail = -1;
    int fresh = usable && resize(st, 64) == 0;
    for (size_t i = 0; i < n; i++) {
        if (old[i].key != NULL) {
            release_payload(&old[i]);
            Py_CLEAR(old[i].key);
        }
    }
    if (usable && !fresh) { /* no memory for a new table: the old one serves, emptied */
        PyErr_Clear();
        st->table = old;
        st->mask = n - 1;
        return;
    }
    PyMem_Free(old);
}

static void
Store_dealloc(Store *st)
{
    clear_store(st, 0);
    if (st->lock != NULL) {
        PyThread_free_lock(st->lock);
    }
    Py_TYPE(st)->tp_free((PyObject *)st);
}

static void
lock_store(Store *st)
{
    if (!PyThread_acquire_lock(st->lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(st->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

static PyObject *
Store_execute(Store *st, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "execute(ops, now) takes two arguments");
        return NULL;
    }
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "the native store is not configured");
        return NULL;
    }
    double now = PyFloat_AsDouble(args[1]);
    if (now == -1.0 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *seq = PySequence_Fast(args[0], "ops must be a sequence");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    lock_store(st);
    for (Py_ssize_t j = 0; j < n; j++) {
        PyObject *op = items[j];
        PyTypeObject *type = Py_TYPE(op);
        PyObject *result;
        if (type == OP_TYPES[OP_HIT]) {
            result = do_hit(st, op, now);
        }
        else if (type == OP_TYPES[OP_GET]) {
            result = do_get(st, op, now);
        }
        else if (type == OP_TYPES[OP_DISTINCT_ADD_ALL]) {
            result = do_distinct_add_all(st, op, now);
        }
        else if (type == OP_TYPES[OP_RECENT]) {
            result = do_recent(st, op, now);
        }
        else if (type == OP_TYPES[OP_INCR]) {
            result = do_incr(st, op, now);
        }
        else if (type == OP_TYPES[OP_PUT]) {
            result = put(st, op, OP_PUT, 0, now);
        }
        else if (type == OP_TYPES[OP_PUT_IF_ABSENT]) {
            result = put(st, op, OP_PUT_IF_ABSENT, 1, now);
        }
        else if (type == OP_TYPES[OP_DISTINCT_ADD]) {
            result = do_distinct_add(st, op, now);
        }
        else {
            PyErr_SetObject(PyExc_KeyError, (PyObject *)type);
            result = NULL;
        }
        if (result == NULL) {
            PyThread_release_lock(st->lock);
            Py_DECREF(seq);
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, j, result);
    }
    PyThread_release_lock(st->lock);
    Py_DECREF(seq);
    return out;
}

static PyObject *
Store_close(Store *st, PyObject *Py_UNUSED(ignored))
{
    lock_store(st);
    clear_store(st, 1);
    PyThread_release_lock(st->lock);
    Py_RETURN_NONE;
}

static PyObject *
Store_sketch_bytes(Store *st, PyObject *Py_UNUSED(ignored))
{
    Py_ssize_t total = 0;
    lock_store(st);
    for (Py_ssize_t i = st->head; i >= 0; i = st->table[i].next) {
        if (st->table[i].kind == K_SKETCH && st->table[i].u.sketch != NULL) {
            total += sketch_nbytes(st->table[i].u.sketch);
        }
    }
    PyThread_release_lock(st->lock);
    return PyLong_FromSsize_t(total);
}

static Py_ssize_t
Store_len(Store *st)
{
    return st->used;
}

static PyMethodDef Store_methods[] = {
    {"execute", (PyCFunction)(void (*)(void))Store_execute, METH_FASTCALL,
     "execute(ops, now) -> list: every op of one request, in order, in one call."},
    {"close", (PyCFunction)Store_close, METH_NOARGS, "Drop every entry."},
    {"sketch_bytes", (PyCFunction)Store_sketch_bytes, METH_NOARGS,
     "Bytes the distinct counters hold (as DistinctSketch.nbytes counts them)."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef Store_members[] = {
    {"cap", T_PYSSIZET, offsetof(Store, cap), READONLY, "Most entries kept."},
    {"evictions", T_LONGLONG, offsetof(Store, evictions), READONLY,
     "Entries evicted at the cap so far (least recently used first)."},
    {NULL, 0, 0, 0, NULL},
};

static PySequenceMethods Store_as_sequence = {
    .sq_length = (lenfunc)Store_len,
};

static PyTypeObject StoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "antiscrape._native.NativeMemoryStorage",
    .tp_basicsize = sizeof(Store),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Bounded in-memory state in C (see antiscrape.native).",
    .tp_new = Store_new,
    .tp_dealloc = (destructor)Store_dealloc,
    .tp_methods = Store_methods,
    .tp_members = Store_members,
    .tp_as_sequence = &Store_as_sequence,
};

static PyMemberDef HitResult_members[] = {
    {"count", T_DOUBLE, offsetof(HitResultObject, count), READONLY,
     "Weighted count before this hit."},
    {"reset", T_DOUBLE, offsetof(HitResultObject, reset), READONLY,
     "Seconds until the count has dropped enough for one more hit."},
    {"counted", T_BOOL, offsetof(HitResultObject, counted), READONLY,
     "Whether this hit was recorded."},
    {NULL, 0, 0, 0, NULL},
};

static PyObject *
HitResult_repr(HitResultObject *self)
{
    PyObject *count = PyFloat_FromDouble(self->count);
    PyObject *reset = PyFloat_FromDouble(self->reset);
    PyObject *text = NULL;
    if (count != NULL && reset != NULL) {
        text = PyUnicode_FromFormat("HitResult(count=%R, reset=%R, counted=%s)", count, reset,
                                    self->counted ? "True" : "False");
    }
    Py_XDECREF(count);
    Py_XDECREF(reset);
    return text;
}

static PyObject *
HitResult_richcompare(PyObject *a, PyObject *b, int op)
{
    if (!Py_IS_TYPE(b, &HitResultType) || (op != Py_EQ && op != Py_NE)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    HitResultObject *x = (HitResultObject *)a, *y = (HitResultObject *)b;
    int equal = x->count == y->count && x->reset == y->reset && x->counted == y->counted;
    return PyBool_FromLong(op == Py_EQ ? equal : !equal);
}

static PyTypeObject HitResultType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "antiscrape._native.HitResult",
    .tp_basicsize = sizeof(HitResultObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The result of a budget hit (the fields of antiscrape.state.ops.HitResult).",
    .tp_repr = (reprfunc)HitResult_repr,
    .tp_richcompare = HitResult_richcompare,
    .tp_members = HitResult_members,
};

/* ---- ASGI headers ----------------------------------------------------------------------- */

static PyObject *
latin1(PyObject *raw)
{
    return PyUnicode_DecodeLatin1(PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw), NULL);
}

/* {name: value} of ASGI header pairs (bytes, latin-1: every byte maps, so odd bytes never
 * raise), or None when a pair is not two bytes objects in a tuple or list, or a name repeats:
 * the Python fold (request.headers_from_pairs) handles those. Half the cost of a dict
 * comprehension calling bytes.decode twice per header. */
static PyObject *
decode_headers(PyObject *module, PyObject *pairs)
{
    if (!PyList_CheckExact(pairs) && !PyTuple_CheckExact(pairs)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(pairs);
    PyObject **items = PySequence_Fast_ITEMS(pairs);
    PyObject *headers = PyDict_New();
    if (headers == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = items[i];
        if ((!PyTuple_CheckExact(pair) && !PyList_CheckExact(pair)) ||
                PySequence_Fast_GET_SIZE(pair) != 2 ||
                !PyBytes_CheckExact(PySequence_Fast_GET_ITEM(pair, 0)) ||
                !PyBytes_CheckExact(PySequence_Fast_GET_ITEM(pair, 1))) {
            Py_DECREF(headers);
            Py_RETURN_NONE;
        }
        PyObject *name = latin1(PySequence_Fast_GET_ITEM(pair, 0));
        PyObject *value = name ? latin1(PySequence_Fast_GET_ITEM(pair, 1)) : NULL;
        int failed = value == NULL || PyDict_SetItem(headers, name, value) < 0;
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (failed) {
            Py_DECREF(headers);
            return NULL;
        }
    }
    if (PyDict_GET_SIZE(headers) != n) { /* a repeated name: folded by the caller */
        Py_DECREF(headers);
        Py_RETURN_NONE;
    }
    return headers;
}

/* ---- fingerprint material --------------------------------------------------------------- */

static PyObject *FP_NAMES;     /* identity.FINGERPRINT_HEADERS */
static PyObject *FP_LEFT_OUT;  /* names left out of the order trait */
static PyObject *FP_FALLBACK;  /* the Python version, for mappings that are not a dict */
static PyObject *COMMA, *UNIT_SEPARATOR, *EMPTY;

static PyObject *
header_or_empty(PyObject *headers, PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(headers, name);
    if (value == NULL) {
        return PyErr_Occurred() ? NULL : Py_NewRef(EMPTY);
    }
    return Py_NewRef(value);
}

/* identity.fingerprint_material, for a dict of headers: the selected header values, the
 * header names in the client's order (without cookie and content-length) and a proxy's TLS
 * fingerprint, joined with U+001F. Computed on every protected read. */
static PyObject *
fingerprint_material(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (FP_FALLBACK == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "fingerprint material is not configured");
        return NULL;
    }
    if (nargs < 1 || nargs > 2 || !PyDict_CheckExact(args[0]) ||
            (nargs == 2 && !PyUnicode_CheckExact(args[1]))) {
        return PyObject_Vectorcall(FP_FALLBACK, args, (size_t)nargs, NULL);
    }
    PyObject *headers = args[0];
    int tls = nargs == 2 && PyUnicode_GET_LENGTH(args[1]) > 0;
    Py_ssize_t n = PyTuple_GET_SIZE(FP_NAMES);
    PyObject *parts = PyList_New(n + 1 + tls);
    PyObject *names = NULL, *result = NULL;
    if (parts == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = header_or_empty(headers, PyTuple_GET_ITEM(FP_NAMES, i));
        if (value == NULL) {
            goto done;
        }
        PyList_SET_ITEM(parts, i, value);
    }
    int skip = 0;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(FP_LEFT_OUT); i++) {
        int found = PyDict_Contains(headers, PyTuple_GET_ITEM(FP_LEFT_OUT, i));
        if (found < 0) {
            goto done;
        }
        skip |= found;
    }
    names = PyList_New(0);
    if (names == NULL) {
        goto done;
    }
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    while (PyDict_Next(headers, &pos, &name, &value)) {
        if (skip) {
            int left_out = PySequence_Contains(FP_LEFT_OUT, name);
            if (left_out < 0) {
                goto done;
            }
            if (left_out) {
                continue;
            }
        }
        if (PyList_Append(names, name) < 0) {
            goto done;
        }
    }
    PyObject *order = PyUnicode_Join(COMMA, names);
    if (order == NULL) {
        goto done;
    }
    PyList_SET_ITEM(parts, n, order);
    if (tls) {
        PyObject *fingerprint = header_or_empty(headers, args[1]);
        if (fingerprint == NULL) {
            goto done;
        }
        PyList_SET_ITEM(parts, n + 1, fingerprint);
    }
    result = PyUnicode_Join(UNIT_SEPARATOR, parts);
done:
    Py_XDECREF(names);
    Py_DECREF(parts);
    return result;
}

static PyObject *
configure_fingerprint(PyObject *module, PyObject *args)
{
    PyObject *names, *left_out, *fallback;
    if (!PyArg_ParseTuple(args, "O!O!O:configure_fingerprint", &PyTuple_Type, &names,
                          &PyTuple_Type, &left_out, &fallback)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(names, i))) {
            PyErr_SetString(PyExc_TypeError, "configure_fingerprint: names must be str");
            return NULL;
        }
    }
    Py_XSETREF(FP_NAMES, Py_NewRef(names));
    Py_XSETREF(FP_LEFT_OUT, Py_NewRef(left_out));
    Py_XSETREF(FP_FALLBACK, Py_NewRef(fallback));
    Py_RETURN_NONE;
}

/* ---- configuration ---------------------------------------------------------------------- */

static int
fill_doubles(PyObject *values, double *out, Py_ssize_t n, const char *what)
{
    PyObject *seq = PySequence_Fast(values, what);
    if (seq == NULL) {
        return -1;
    }
    if (PySequence_Fast_GET_SIZE(seq) != n) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd numbers", what, n);
        Py_DECREF(seq);
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        out[i] = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (out[i] == -1.0 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
    }
    Py_DECREF(seq);
    return 0;
}

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *classes, *weights, *m_sigma;
    double alpha_mm;
    if (!PyArg_ParseTuple(args, "O!OOd:configure", &PyTuple_Type, &classes, &weights,
                          &m_sigma, &alpha_mm)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(classes) != N_OPS) {
        PyErr_Format(PyExc_ValueError, "configure: expected %d op classes", N_OPS);
        return NULL;
    }
    PyTypeObject *types[N_OPS];
    Py_ssize_t offsets[N_OPS][4];
    for (int k = 0; k < N_OPS; k++) {
        PyObject *cls = PyTuple_GET_ITEM(classes, k);
        if (!PyType_Check(cls)) {
            PyErr_SetString(PyExc_TypeError, "configure: op classes must be classes");
            return NULL;
        }
        types[k] = (PyTypeObject *)cls;
        for (int f = 0; f < 4 && FIELDS[k][f] != NULL; f++) {
            PyObject *descr = PyObject_GetAttrString(cls, FIELDS[k][f]);
            int is_slot = descr != NULL && Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
            if (is_slot) {
                offsets[k][f] = ((PyMemberDescrObject *)descr)->d_member->offset;
            }
            Py_XDECREF(descr);
            if (!is_slot) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "configure: %s.%s is not a slot",
                             types[k]->tp_name, FIELDS[k][f]);
                return NULL;
            }
        }
    }
    double weight[RANK_TOP + 1];
    if (fill_doubles(weights, weight, RANK_TOP + 1, "weights") < 0 ||
            fill_doubles(m_sigma, M_SIGMA, M, "m_sigma") < 0) {
        return NULL;
    }
    memcpy(WEIGHT, weight, sizeof(WEIGHT));
    ALPHA_MM = alpha_mm;
    for (int k = 0; k < N_OPS; k++) {
        Py_INCREF(types[k]);
        Py_XSETREF(OP_TYPES[k], types[k]);
        memcpy(OFFSET[k], offsets[k], sizeof(offsets[k]));
    }
    configured = 1;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"fingerprint_material", (PyCFunction)(void (*)(void))fingerprint_material, METH_FASTCALL,
     "fingerprint_material(headers, tls_header='') -> str: identity.fingerprint_material."},
    {"configure_fingerprint", configure_fingerprint, METH_VARARGS,
     "configure_fingerprint(names, left_out, fallback): identity's header names, and its "
     "Python version for mappings that are not a dict."},
    {"decode_headers", decode_headers, METH_O,
     "decode_headers(pairs) -> dict | None: ASGI header pairs as str (latin-1), or None when "
     "a name repeats or a pair is not two bytes objects."},
    {"configure", configure, METH_VARARGS,
     "configure(op_classes, weights, m_sigma, alpha_mm): the op classes in the order Hit, "
     "Incr, Get, Put, PutIfAbsent, DistinctAdd, DistinctAddAll, Recent, and sketch.py's "
     "constants."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "antiscrape._native",
    .m_doc = "antiscrape's hot path in C: the in-memory state backend and "
              "the ASGI header decoding (see antiscrape/native.py).",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    if (PyType_Ready(&StoreType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    COMMA = PyUnicode_InternFromString(",");
    UNIT_SEPARATOR = PyUnicode_InternFromString("\x1f");
    EMPTY = PyUnicode_InternFromString("");
    if (COMMA == NULL || UNIT_SEPARATOR == NULL || EMPTY == NULL) {
        Py_DECREF(module);
        return NULL;
    }
    if (PyType_Ready(&HitResultType) < 0 ||
            PyModule_AddObjectRef(module, "HitResult", (PyObject *)&HitResultType) < 0 ||
            PyModule_AddObjectRef(module, "NativeMemoryStorage", (PyObject *)&StoreType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
