/*
 * candles.c: the C twin of simulator/ohlcv.py ``OhlcvEngine.add_trade`` and its bar emission (``TradeFolder``),
 * over the engine's own state arrays.
 */

/* The layout of a symbol's state array (simulator/ohlcv.py; OHLCV_LAYOUT lets a test compare the two). */
enum { C_START, C_END, C_OPEN_T, C_CLOSE_T, C_OPEN, C_HIGH, C_LOW, C_CLOSE, C_VOLUME, C_COUNT, C_KEY, C_SLOTS };
enum { S_LAST = 0, S_SETTLED = 1, S_SEQUENCE = 2, S_SECOND = 3, S_BLOCK = S_SECOND + C_SLOTS };
enum { S_CANDLES = S_BLOCK + C_SLOTS, BAR_VALUES = 10 };
#define INTERIM_EVERY_NS (5 * NS_PER_S)
#define MAX_PERIODS 64

typedef struct {
    PyObject_HEAD
    Py_buffer *views;       /* one held export per state array (``array('q')``): it stays put, as an exported
                             * array cannot resize, and the export keeps it alive */
    i64 **rows;             /* views[i].buf */
    Py_ssize_t nrows;
    PyObject *recent;       /* dict of symbol indices in order of last trading second, or None */
    PyObject *count_after;  /* OhlcvEngine._count_just_after */
    PyObject *symbol_ids;   /* list of str, by symbol index */
    PyObject *period_ids;   /* tuple of str, by period index */
    i64 next_key;
    Py_ssize_t seconds, blocks, lengths;
    i64 second_at[MAX_PERIODS], second_len[MAX_PERIODS], block_at[MAX_PERIODS], block_len[MAX_PERIODS];
    i64 length[MAX_PERIODS];
} FolderObject;

static PyTypeObject Folder_Type;

/* Python's ``%`` for a positive divisor (C's truncates towards zero; a never-traded symbol's time is < 0). */
static inline i64
floor_mod(i64 a, i64 b)
{
    i64 r = a % b;
    return r < 0 ? r + b : r;
}

/* ohlcv.py ``_merge``: the later trades at ``src`` into the candle or accumulator at ``dst``. */
static void
merge(i64 *st, Py_ssize_t src, Py_ssize_t dst)
{
    st[dst + C_CLOSE_T] = st[src + C_CLOSE_T];
    if (st[src + C_HIGH] > st[dst + C_HIGH]) {
        st[dst + C_HIGH] = st[src + C_HIGH];
    }
    if (st[src + C_LOW] < st[dst + C_LOW]) {
        st[dst + C_LOW] = st[src + C_LOW];
    }
    st[dst + C_CLOSE] = st[src + C_CLOSE];
    st[dst + C_VOLUME] += st[src + C_VOLUME];
    st[dst + C_COUNT] += st[src + C_COUNT];
}

/* ohlcv.py ``_fold``: the accumulator at ``acc`` into the candles at (``at``, ``len``), opening new ones. */
static void
fold(i64 *st, Py_ssize_t acc, const i64 *at, const i64 *len, Py_ssize_t n)
{
    i64 start = st[acc];
    for (Py_ssize_t i = 0; i < n; i++) {
        i64 *candle = st + at[i];
        if (candle[C_END] <= start) {
            memcpy(candle, st + acc, C_SLOTS * sizeof(i64));
            candle[C_START] = start - floor_mod(start, len[i]);
            candle[C_END] = candle[C_START] + len[i];
        }
        else {
            merge(st, acc, at[i]);
        }
    }
}

/* ohlcv.py ``OhlcvEngine._fold_pending``. */
static void
fold_pending(FolderObject *fo, i64 *st, i64 until)
{
    if (st[S_SECOND + C_COUNT]) {
        fold(st, S_SECOND, fo->second_at, fo->second_len, fo->seconds);
        if (st[S_BLOCK + C_COUNT]) {
            merge(st, S_SECOND, S_BLOCK);
        }
        else {
            memcpy(st + S_BLOCK, st + S_SECOND, C_SLOTS * sizeof(i64));
            st[S_BLOCK] -= floor_mod(st[S_BLOCK], INTERIM_EVERY_NS);
            st[S_BLOCK + C_END] = st[S_BLOCK] + INTERIM_EVERY_NS;
        }
        st[S_SECOND + C_COUNT] = 0;
    }
    if (st[S_BLOCK + C_COUNT] && until >= st[S_BLOCK + C_END]) {
        fold(st, S_BLOCK, fo->block_at, fo->block_len, fo->blocks);
        st[S_BLOCK + C_COUNT] = 0;
    }
}

/* ohlcv.py ``OhlcvEngine._settle``. */
static int
settle(FolderObject *fo, i64 *st, i64 until)
{
    i64 after = st[S_SETTLED];
    if (until <= after) {
        return 0;
    }
    st[S_SETTLED] = until;
    i64 last = st[S_LAST], count = 0;
    if (after == last && until == last + NS_PER_S) {
        PyObject *n = PyObject_CallFunction(fo->count_after, "L", until);
        if (as_i64(n, &count) < 0) {
            return -1;
        }
        st[S_SEQUENCE] += count;
        return 0;
    }
    i64 block = last - floor_mod(last, INTERIM_EVERY_NS) + INTERIM_EVERY_NS;
    int interim = after < block && block <= until;
    for (Py_ssize_t i = 0; i < fo->lengths; i++) {
        i64 end = last - floor_mod(last, fo->length[i]) + fo->length[i];
        count += after < end && end <= until;
        count += interim && block < end;
    }
    st[S_SEQUENCE] += count;
    return 0;
}

/* ohlcv.py ``OhlcvEngine._start_second``. */
static int
start_second(FolderObject *fo, i64 *st, PyObject *index, i64 t, i64 price, i64 size)
{
    fold_pending(fo, st, t);
    i64 second = t - floor_mod(t, NS_PER_S);
    if (fo->recent == Py_None) {
        if (settle(fo, st, second) < 0) {
            return -1;
        }
    }
    else if ((PyDict_Contains(fo->recent, index) == 1 && PyDict_DelItem(fo->recent, index) < 0) ||
             PyDict_SetItem(fo->recent, index, Py_None) < 0) {
        return -1;
    }
    i64 *acc = st + S_SECOND;
    st[S_LAST] = acc[C_START] = second;
    acc[C_END] = second + NS_PER_S;
    acc[C_OPEN_T] = acc[C_CLOSE_T] = t;
    acc[C_OPEN] = acc[C_HIGH] = acc[C_LOW] = acc[C_CLOSE] = price;
    acc[C_VOLUME] = size;
    acc[C_COUNT] = 1;
    acc[C_KEY] = fo->next_key++;
    return 0;
}

/* ohlcv.py ``OhlcvEngine.add_trade``. */
static int
folder_add(FolderObject *fo, PyObject *index, i64 t, i64 price, i64 size)
{
    Py_ssize_t i = PyLong_AsSsize_t(index);
    if (i == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (i < 0 || i >= fo->nrows) {
        PyErr_SetString(PyExc_IndexError, "symbol index out of range");
        return -1;
    }
    i64 *st = fo->rows[i];
    if (t >= st[S_SECOND + C_END]) {
        return start_second(fo, st, index, t, price, size);
    }
    i64 *acc = st + S_SECOND;
    acc[C_CLOSE_T] = t;
    if (price > acc[C_HIGH]) {
        acc[C_HIGH] = price;
    }
    else if (price < acc[C_LOW]) {
        acc[C_LOW] = price;
    }
    acc[C_CLOSE] = price;
    acc[C_VOLUME] += size;
    acc[C_COUNT] += 1;
    return 0;
}

static PyObject *
Folder_call(FolderObject *fo, PyObject *args, PyObject *kwargs)
{
    PyObject *index;
    i64 t, price, size;
    static char *keywords[] = {"index", "time_ns", "price_ticks", "size_lots", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OLLL:add_trade", keywords, &index, &t, &price, &size)) {
        return NULL;
    }
    if (folder_add(fo, index, t, price, size) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static int
periods_arg(PyObject *periods, i64 *at, i64 *len, Py_ssize_t *n)
{
    PyObject *seq = PySequence_Fast(periods, "periods must be a sequence of (offset, length)");
    if (seq == NULL) {
        return -1;
    }
    *n = PySequence_Fast_GET_SIZE(seq);
    int failed = *n > MAX_PERIODS;
    for (Py_ssize_t i = 0; !failed && i < *n; i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(seq, i);
        failed = !PyArg_ParseTuple(pair, "LL", &at[i], &len[i]);
    }
    Py_DECREF(seq);
    if (failed && !PyErr_Occurred()) {
        PyErr_SetString(PyExc_ValueError, "too many periods");
    }
    return failed ? -1 : 0;
}

/* Export every state array for the folder's life; each must be an ``array('q')`` of at least ``size`` items. */
static int
hold_rows(FolderObject *fo, PyObject *states, Py_ssize_t size)
{
    Py_ssize_t n = PyList_GET_SIZE(states);
    fo->views = PyMem_Calloc(n ? n : 1, sizeof(Py_buffer));
    fo->rows = PyMem_Calloc(n ? n : 1, sizeof(i64 *));
    if (fo->views == NULL || fo->rows == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_buffer *view = &fo->views[i];
        PyObject *state = PyList_GET_ITEM(states, i);
        if (!PyObject_CheckBuffer(state)) {
            goto not_state;
        }
        if (PyObject_GetBuffer(state, view, PyBUF_WRITABLE | PyBUF_FORMAT) < 0) {
            return -1;
        }
        fo->nrows = i + 1;
        if (view->format == NULL || strcmp(view->format, "q") != 0 || view->len < size * (Py_ssize_t)sizeof(i64)) {
            goto not_state;
        }
        fo->rows[i] = view->buf;
    }
    return 0;
not_state:
    PyErr_SetString(PyExc_TypeError, "states must be array('q') in the layout of simulator/ohlcv.py");
    return -1;
}

static PyObject *
Folder_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"states",  "recent",      "second_periods", "block_periods", "lengths",
                               "count_after", "symbol_ids", "period_ids",     NULL};
    PyObject *states, *recent, *second_periods, *block_periods, *lengths, *count_after, *symbol_ids, *period_ids;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OOOOOO!O!:TradeFolder", keywords, &PyList_Type, &states,
                                     &recent, &second_periods, &block_periods, &lengths, &count_after, &PyList_Type,
                                     &symbol_ids, &PyTuple_Type, &period_ids)) {
        return NULL;
    }
    if (PyList_GET_SIZE(symbol_ids) != PyList_GET_SIZE(states)) {
        return PyErr_Format(PyExc_ValueError, "one symbol id per state list");
    }
    if (recent != Py_None && !PyDict_CheckExact(recent)) {
        return PyErr_Format(PyExc_TypeError, "recent must be a dict or None");
    }
    FolderObject *fo = PyObject_GC_New(FolderObject, type);
    if (fo == NULL) {
        return NULL;
    }
    fo->views = NULL;
    fo->rows = NULL;
    fo->nrows = 0;
    fo->recent = Py_NewRef(recent);
    fo->count_after = Py_NewRef(count_after);
    fo->symbol_ids = Py_NewRef(symbol_ids);
    fo->period_ids = Py_NewRef(period_ids);
    fo->next_key = 1;
    PyObject_GC_Track(fo);
    PyObject *seq = PySequence_Fast(lengths, "lengths must be a sequence of ints");
    int failed = seq == NULL || periods_arg(second_periods, fo->second_at, fo->second_len, &fo->seconds) < 0 ||
                 periods_arg(block_periods, fo->block_at, fo->block_len, &fo->blocks) < 0;
    if (!failed) {
        fo->lengths = PySequence_Fast_GET_SIZE(seq);
        failed = fo->lengths > MAX_PERIODS;
        for (Py_ssize_t i = 0; !failed && i < fo->lengths; i++) {
            failed = as_i64(Py_NewRef(PySequence_Fast_GET_ITEM(seq, i)), &fo->length[i]) < 0;
        }
        if (failed && !PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "too many periods");
        }
    }
    Py_XDECREF(seq);
    failed = failed || hold_rows(fo, states, S_CANDLES + C_SLOTS * fo->lengths) < 0;
    if (failed) {
        Py_DECREF(fo);
        return NULL;
    }
    return (PyObject *)fo;
}

static int
Folder_traverse(FolderObject *fo, visitproc visit, void *arg)
{
    Py_VISIT(fo->recent);
    Py_VISIT(fo->count_after);
    Py_VISIT(fo->symbol_ids);
    Py_VISIT(fo->period_ids);
    return 0;
}

static int
Folder_clear(FolderObject *fo)
{
    Py_CLEAR(fo->recent);
    Py_CLEAR(fo->count_after);
    Py_CLEAR(fo->symbol_ids);
    Py_CLEAR(fo->period_ids);
    return 0;
}

static void
Folder_dealloc(FolderObject *fo)
{
    PyObject_GC_UnTrack(fo);
    for (Py_ssize_t i = 0; i < fo->nrows; i++) {
        PyBuffer_Release(&fo->views[i]);
    }
    PyMem_Free(fo->views);
    PyMem_Free(fo->rows);
    Folder_clear(fo);
    PyObject_GC_Del(fo);
}

static PyTypeObject *bar_type;
static Py_ssize_t bar_at[15]; /* symbol_id, period_id, ten candle values, is_final, time_ns, sequence */

/* One symbol's bar of period ``pi`` due at a whole second: its sort key and the symbol index. */
typedef struct {
    i64 key;
    Py_ssize_t index;
} BarItem;

static int
bar_item_order(const void *a, const void *b)
{
    const BarItem *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    return (x->index > y->index) - (x->index < y->index);
}

/* ohlcv.py ``_sort_key``. */
static i64
bar_sort_key(const i64 *st, Py_ssize_t pi, int is_final, i64 second_ns)
{
    const i64 *candle = st + S_CANDLES + C_SLOTS * pi;
    if (is_final || candle[C_START] >= second_ns - INTERIM_EVERY_NS) {
        return candle[C_KEY];
    }
    return st[S_BLOCK + C_KEY];
}

/* ohlcv.py ``OhlcvEngine._append_bar`` (``_fast.make_bar``). */
static int
append_bar(FolderObject *fo, PyObject *out, Py_ssize_t index, Py_ssize_t pi, int is_final, PyObject *second,
           i64 sequence)
{
    const i64 *candle = fo->rows[index] + S_CANDLES + C_SLOTS * pi;
    PyObject *values[15];
    values[0] = Py_NewRef(PyList_GET_ITEM(fo->symbol_ids, index));
    values[1] = Py_NewRef(PyTuple_GET_ITEM(fo->period_ids, pi));
    for (int i = 0; i < BAR_VALUES; i++) {
        values[2 + i] = PyLong_FromLongLong(candle[i]);
    }
    values[12] = PyBool_FromLong(is_final);
    values[13] = Py_NewRef(second);
    values[14] = PyLong_FromLongLong(sequence);
    PyObject *bar = new_event(bar_type, bar_at, values, 15);
    if (bar == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, bar);
    Py_DECREF(bar);
    return failed;
}

/* Per due period: (period index, earliest last-trade second of an emitting symbol, is_final). */
typedef struct {
    Py_ssize_t pi;
    i64 since;
    int is_final;
    BarItem *items;
    Py_ssize_t len, cap;
} DuePeriod;

static int
due_push(DuePeriod *d, i64 key, Py_ssize_t index)
{
    if (d->len == d->cap) {
        Py_ssize_t cap = d->cap ? 2 * d->cap : 256;
        BarItem *items = PyMem_Realloc(d->items, cap * sizeof(BarItem));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        d->items = items;
        d->cap = cap;
    }
    d->items[d->len++] = (BarItem){key, index};
    return 0;
}

/* Find the symbols that emit at ``second_ns`` among the most recently traded (ohlcv.py ``_emit_all``). */
static int
collect_bars(FolderObject *fo, DuePeriod *due, Py_ssize_t ndue, i64 second_ns)
{
    i64 threshold = due[0].since;
    for (Py_ssize_t k = 1; k < ndue; k++) {
        threshold = due[k].since < threshold ? due[k].since : threshold;
    }
    PyObject *newest_first = PyObject_CallMethod(fo->recent, "__reversed__", NULL);
    if (newest_first == NULL) {
        return -1;
    }
    PyObject *index_obj;
    int failed = 0;
    while (!failed && (index_obj = PyIter_Next(newest_first)) != NULL) {
        Py_ssize_t index = PyLong_AsSsize_t(index_obj);
        Py_DECREF(index_obj);
        if (index < 0 || index >= fo->nrows) {
            failed = 1;
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_IndexError, "symbol index out of range");
            }
            break;
        }
        i64 *st = fo->rows[index];
        i64 last = st[S_LAST];
        if (last < threshold) {
            break;
        }
        fold_pending(fo, st, second_ns);
        for (Py_ssize_t k = 0; !failed && k < ndue; k++) {
            if (last >= due[k].since) {
                failed = due_push(&due[k], bar_sort_key(st, due[k].pi, due[k].is_final, second_ns), index) < 0;
            }
        }
    }
    Py_DECREF(newest_first);
    return failed || PyErr_Occurred() ? -1 : 0;
}

static int
emit_bars(FolderObject *fo, DuePeriod *due, Py_ssize_t ndue, PyObject *second, PyObject *out)
{
    for (Py_ssize_t k = 0; k < ndue; k++) {
        qsort(due[k].items, due[k].len, sizeof(BarItem), bar_item_order);
        for (Py_ssize_t j = 0; j < due[k].len; j++) {
            Py_ssize_t index = due[k].items[j].index;
            i64 sequence = ++fo->rows[index][S_SEQUENCE];
            if (append_bar(fo, out, index, due[k].pi, due[k].is_final, second, sequence) < 0) {
                return -1;
            }
        }
    }
    return 0;
}

/* ``OhlcvEngine._due``'s list of (period index, since, is_final), into ``due`` (its items lists empty). */
static int
parse_due(FolderObject *fo, PyObject *list, DuePeriod *due, Py_ssize_t *ndue)
{
    memset(due, 0, MAX_PERIODS * sizeof(DuePeriod));
    *ndue = PyList_GET_SIZE(list);
    if (*ndue > MAX_PERIODS) {
        PyErr_SetString(PyExc_ValueError, "too many periods");
        return -1;
    }
    for (Py_ssize_t k = 0; k < *ndue; k++) {
        i64 pi;
        if (!PyArg_ParseTuple(PyList_GET_ITEM(list, k), "LLp", &pi, &due[k].since, &due[k].is_final)) {
            return -1;
        }
        if (pi < 0 || pi >= PyTuple_GET_SIZE(fo->period_ids)) {
            PyErr_SetString(PyExc_IndexError, "period index out of range");
            return -1;
        }
        due[k].pi = (Py_ssize_t)pi;
    }
    return 0;
}

static void
free_due(DuePeriod *due, Py_ssize_t ndue)
{
    for (Py_ssize_t k = 0; k < ndue; k++) {
        PyMem_Free(due[k].items);
    }
}

static PyObject *
Folder_emit_all(FolderObject *fo, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0]) || !PyList_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "emit_all(due: list, second_ns: int, out: list)");
        return NULL;
    }
    if (fo->recent == Py_None) {
        PyErr_SetString(PyExc_ValueError, "emit_all needs an engine that builds every bar");
        return NULL;
    }
    DuePeriod due[MAX_PERIODS];
    Py_ssize_t ndue = 0;
    i64 second_ns = PyLong_AsLongLong(args[1]);
    int failed = (second_ns == -1 && PyErr_Occurred()) || parse_due(fo, args[0], due, &ndue) < 0;
    failed = failed || (ndue && (collect_bars(fo, due, ndue, second_ns) < 0 ||
                                 emit_bars(fo, due, ndue, args[1], args[2]) < 0));
    free_due(due, ndue);
    return failed ? NULL : Py_NewRef(Py_None);
}

/* ohlcv.py ``OhlcvEngine._sequence``: the candles the symbol emitted before ``second_ns``, plus its bars of the
 * periods up to ``pi`` at ``second_ns``. */
static int
wanted_sequence(FolderObject *fo, i64 *st, Py_ssize_t pi, const DuePeriod *due, Py_ssize_t ndue, i64 second_ns,
                i64 *sequence)
{
    if (settle(fo, st, second_ns - NS_PER_S) < 0) {
        return -1;
    }
    i64 last = st[S_LAST], count = 0;
    for (Py_ssize_t k = 0; k < ndue; k++) {
        count += due[k].pi <= pi && last >= due[k].since;
    }
    *sequence = st[S_SEQUENCE] + count;
    return 0;
}

/* One due period of ohlcv.py ``OhlcvEngine._emit_wanted``: the bars of the symbols in ``wanted`` (a set of
 * indices) that traded in its window, in the order of their first trade there. */
static int
emit_wanted_period(FolderObject *fo, DuePeriod *d, const DuePeriod *due, Py_ssize_t ndue, PyObject *wanted,
                   i64 second_ns, PyObject *second, PyObject *out)
{
    PyObject *indices = PyObject_GetIter(wanted);
    if (indices == NULL) {
        return -1;
    }
    PyObject *index_obj;
    int failed = 0;
    while (!failed && (index_obj = PyIter_Next(indices)) != NULL) {
        Py_ssize_t index = PyLong_AsSsize_t(index_obj);
        Py_DECREF(index_obj);
        if (index < 0 || index >= fo->nrows) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_IndexError, "symbol index out of range");
            }
            failed = 1;
            break;
        }
        i64 *st = fo->rows[index];
        if (st[S_LAST] >= d->since) {
            fold_pending(fo, st, second_ns);
            failed = due_push(d, bar_sort_key(st, d->pi, d->is_final, second_ns), index) < 0;
        }
    }
    Py_DECREF(indices);
    if (failed || PyErr_Occurred()) {
        return -1;
    }
    qsort(d->items, d->len, sizeof(BarItem), bar_item_order);
    for (Py_ssize_t j = 0; j < d->len; j++) {
        Py_ssize_t index = d->items[j].index;
        i64 sequence;
        if (wanted_sequence(fo, fo->rows[index], d->pi, due, ndue, second_ns, &sequence) < 0 ||
            append_bar(fo, out, index, d->pi, d->is_final, second, sequence) < 0) {
            return -1;
        }
    }
    return 0;
}

static PyObject *
Folder_emit_wanted(FolderObject *fo, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_Check(args[0]) || !PyList_Check(args[2]) || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "emit_wanted(due: list, second_ns: int, out: list, wanted: list)");
        return NULL;
    }
    if (fo->recent != Py_None) {
        PyErr_SetString(PyExc_ValueError, "emit_wanted needs an engine that builds only the wanted bars");
        return NULL;
    }
    DuePeriod due[MAX_PERIODS];
    Py_ssize_t ndue = 0;
    i64 second_ns = PyLong_AsLongLong(args[1]);
    int failed = (second_ns == -1 && PyErr_Occurred()) || parse_due(fo, args[0], due, &ndue) < 0;
    for (Py_ssize_t k = 0; !failed && k < ndue; k++) {
        if (due[k].pi >= PyList_GET_SIZE(args[3])) {
            PyErr_SetString(PyExc_IndexError, "one wanted set per period");
            failed = 1;
            break;
        }
        PyObject *wanted = PyList_GET_ITEM(args[3], due[k].pi);
        int any = PyObject_IsTrue(wanted); /* ``if not wanted: continue`` (an empty set, or None) */
        failed = any < 0 || (any && emit_wanted_period(fo, &due[k], due, ndue, wanted, second_ns, args[1],
                                                       args[2]) < 0);
    }
    free_due(due, ndue);
    return failed ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef Folder_methods[] = {
    {"emit_all", (PyCFunction)(void (*)(void))Folder_emit_all, METH_FASTCALL,
     "OhlcvEngine._emit_all: append every bar due at second_ns to out, counting each as its symbol's next."},
    {"emit_wanted", (PyCFunction)(void (*)(void))Folder_emit_wanted, METH_FASTCALL,
     "OhlcvEngine._emit_wanted: append the bars of the wanted pairs (wanted[pi]: a set of symbol indices) due "
     "at second_ns to out."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Folder_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.simulator._speedups.TradeFolder",
    .tp_basicsize = sizeof(FolderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "OhlcvEngine.add_trade in C, over the engine's state arrays: call it with "
              "(index, time_ns, price_ticks, size_lots).",
    .tp_new = Folder_new,
    .tp_call = (ternaryfunc)Folder_call,
    .tp_methods = Folder_methods,
    .tp_dealloc = (destructor)Folder_dealloc,
    .tp_traverse = (traverseproc)Folder_traverse,
    .tp_clear = (inquiry)Folder_clear,
};
