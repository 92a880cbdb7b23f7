/*
 * symbol.c: the C twin of simulator/market.py ``SymbolState``: it takes over a reference state's handover, and
 * turns a trade arrival or a book change into events (with flow.c, price.c and the book).
 */
static int
take_factor_slots(StateObject *st)
{
    PyTypeObject *type = Py_TYPE(st->factors);
    return slot_offset(type, "activity", &st->at_activity) || slot_offset(type, "vol_scale", &st->at_vol_scale) ||
                   slot_offset(type, "step_count", &st->at_step_count) ||
                   slot_offset(type, "next_step_ns", &st->at_next_step_ns) ||
                   slot_offset(type, "history", &st->at_history)
               ? -1
               : 0;
}

/* Read a ``SymbolHandover`` (simulator/market.py): the explicit contract between the reference state and this
 * twin, so no private attribute of the Python objects is read here. */
static int
take_state(StateObject *st, PyObject *ref)
{
    PyObject *maker = NULL, *flow = NULL, *pricer = NULL, *book = NULL;
    int failed = attr_ref(ref, "symbol", &st->symbol) || attr_ref(ref, "symbol_id", &st->symbol_id) ||
                 attr_ref(ref, "catalog_index", &st->index) || attr_ref(ref, "rng", &st->rng) ||
                 attr_ref(st->rng, "random", &st->random) || attr_ref(st->rng, "getrandbits", &st->getrandbits) ||
                 attr_ref(ref, "factors", &st->factors) || take_factor_slots(st) ||
                 attr_ref(ref, "on_trade", &st->on_trade) || attr_ref(ref, "init_seed", &st->init_seed) ||
                 attr_double(ref, "mid0", &st->mid0) || attr_ref(ref, "book_maker", &maker) ||
                 attr_ref(ref, "flow", &flow) || attr_ref(ref, "pricer", &pricer) || attr_ref(ref, "book", &book) ||
                 take_flow(st, flow) || take_pricer(st, pricer) ||
                 attr_double(ref, "us_per_book", &st->us_per_book) ||
                 attr_double(ref, "spread_multiplier", &st->spread_multiplier) ||
                 attr_bool(ref, "halted", &st->halted) || attr_i64(ref, "next_trade_ns", &st->next_trade_ns) ||
                 attr_i64(ref, "next_book_ns", &st->next_book_ns) || attr_i64(ref, "next_ns", &st->next_ns) ||
                 attr_i64(ref, "trades_count", &st->trades_count) || attr_i64(ref, "volume_lots", &st->volume_lots) ||
                 attr_i64(ref, "last_price_ticks", &st->last_price_ticks);
    Py_XDECREF(flow);
    Py_XDECREF(pricer);
    if (!failed && Py_IS_TYPE(st->on_trade, &Folder_Type)) {
        st->folder = (FolderObject *)st->on_trade; /* borrowed: on_trade holds it */
    }
    if (!failed && !Py_IS_TYPE(maker, &Maker_Type)) {
        PyErr_SetString(PyExc_TypeError, "the handover's book maker must be a simulator._speedups.BookMaker");
        failed = 1;
    }
    if (!failed && book != Py_None && !Py_IS_TYPE(book, &Book_Type)) {
        PyErr_SetString(PyExc_TypeError, "the handover's book must be a coinapi_emulator.simulator._speedups.Book");
        failed = 1;
    }
    if (failed) {
        Py_XDECREF(maker);
        Py_XDECREF(book);
        return -1;
    }
    st->maker = (MakerObject *)maker;
    if (book == Py_None) {
        Py_DECREF(book);
    }
    else {
        st->book = (BookObject *)book;
    }
    return 0;
}

static PyObject *
State_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *handover;
    static char *keywords[] = {"handover", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O:SymbolState", keywords, &handover)) {
        return NULL;
    }
    StateObject *st = PyObject_GC_New(StateObject, type);
    if (st == NULL) {
        return NULL;
    }
    memset(&st->symbol, 0, sizeof(StateObject) - offsetof(StateObject, symbol));
    PyObject_GC_Track(st);
    if (take_state(st, handover) < 0) {
        Py_DECREF(st);
        return NULL;
    }
    return (PyObject *)st;
}

static int
State_traverse(StateObject *st, visitproc visit, void *arg)
{
    Py_VISIT(st->symbol);
    Py_VISIT(st->symbol_id);
    Py_VISIT(st->index);
    Py_VISIT(st->rng);
    Py_VISIT(st->random);
    Py_VISIT(st->getrandbits);
    Py_VISIT(st->factors);
    Py_VISIT(st->on_trade);
    Py_VISIT(st->maker);
    Py_VISIT(st->book);
    Py_VISIT(st->init_seed);
    return 0;
}

static int
State_clear(StateObject *st)
{
    Py_CLEAR(st->symbol);
    Py_CLEAR(st->symbol_id);
    Py_CLEAR(st->index);
    Py_CLEAR(st->rng);
    Py_CLEAR(st->random);
    Py_CLEAR(st->getrandbits);
    Py_CLEAR(st->factors);
    st->folder = NULL;
    Py_CLEAR(st->on_trade);
    Py_CLEAR(st->maker);
    Py_CLEAR(st->book);
    Py_CLEAR(st->init_seed);
    return 0;
}

static void
State_dealloc(StateObject *st)
{
    PyObject_GC_UnTrack(st);
    State_clear(st);
    PyObject_GC_Del(st);
}

/* The book, built on first use from the start-time mid with its own generator (market.py SymbolState.book). */
static BookObject *
state_book(StateObject *st)
{
    if (st->book != NULL) {
        return st->book;
    }
    PyObject *rng = PyObject_CallOneArg(random_class, st->init_seed);
    if (rng == NULL) {
        return NULL;
    }
    PyObject *mid = PyFloat_FromDouble(st->mid0);
    PyObject *args[2] = {mid, rng};
    PyObject *book = mid == NULL ? NULL : Maker_initial_book(st->maker, args, 2);
    Py_XDECREF(mid);
    Py_DECREF(rng);
    st->book = (BookObject *)book;
    return st->book;
}

/* A lower-case RFC 4122 version-4 UUID string from the generator's next 128 bits (rng.py uuid4_string). */
static PyObject *
draw_uuid(StateObject *st)
{
    static const char hex[] = "0123456789abcdef";
    PyObject *bits = PyObject_CallOneArg(st->getrandbits, uuid_bits);
    if (bits == NULL) {
        return NULL;
    }
    unsigned char b[16];
#if PY_VERSION_HEX >= 0x030D0000
    int failed = _PyLong_AsByteArray((PyLongObject *)bits, b, 16, 0, 0, 1);
#else
    int failed = _PyLong_AsByteArray((PyLongObject *)bits, b, 16, 0, 0);
#endif
    Py_DECREF(bits);
    if (failed < 0) {
        return NULL;
    }
    b[6] = (b[6] & 0x0F) | 0x40;
    b[8] = (b[8] & 0x3F) | 0x80;
    PyObject *text = PyUnicode_New(36, 127);
    if (text == NULL) {
        return NULL;
    }
    Py_UCS1 *c = PyUnicode_1BYTE_DATA(text);
    for (int i = 0, j = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            c[j++] = '-';
        }
        c[j++] = hex[b[i] >> 4];
        c[j++] = hex[b[i] & 0xF];
    }
    return text;
}

static int
append_trade(StateObject *st, PyObject *out, PyObject *time_ns, i64 price, i64 size, PyObject *side)
{
    PyObject *price_obj = PyLong_FromLongLong(price);
    PyObject *size_obj = PyLong_FromLongLong(size);
    PyObject *values[6] = {Py_NewRef(st->symbol_id), Py_NewRef(time_ns), price_obj, size_obj, Py_NewRef(side),
                           draw_uuid(st)};
    if (values[5] == NULL || price_obj == NULL || size_obj == NULL) {
        for (int i = 0; i < 6; i++) {
            Py_XDECREF(values[i]);
        }
        return -1;
    }
    PyObject *call[4] = {st->index, time_ns, price_obj, size_obj};
    PyObject *trade = new_event(trade_type, trade_at, values, 6);
    if (trade == NULL) {
        return -1;
    }
    int failed = PyList_Append(out, trade);
    Py_DECREF(trade);
    if (failed) {
        return -1;
    }
    if (st->folder != NULL) {
        return folder_add(st->folder, st->index, PyLong_AsLongLong(time_ns), price, size);
    }
    PyObject *done = PyObject_Vectorcall(st->on_trade, call, 4, NULL);
    Py_XDECREF(done);
    return done == NULL ? -1 : 0;
}

/* market.py ``SymbolState._record_fills``: a new list with one trade per fill (steals ``fills``). */
static PyObject *
record_fills(StateObject *st, PyObject *time_ns, int is_buy, PyObject *fills)
{
    Py_ssize_t n = PyList_GET_SIZE(fills);
    PyObject *out = PyList_New(0);
    i64 volume = 0, price = 0;
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *fill = PyList_GET_ITEM(fills, i);
        price = PyLong_AsLongLong(PyTuple_GET_ITEM(fill, 0));
        i64 filled = PyLong_AsLongLong(PyTuple_GET_ITEM(fill, 1));
        if (append_trade(st, out, time_ns, price, filled, is_buy ? taker_buy : taker_sell) < 0) {
            Py_CLEAR(out);
        }
        volume += filled;
    }
    Py_DECREF(fills);
    if (out != NULL && n > 0) {
        st->trades_count += n;
        st->volume_lots += volume;
        st->last_price_ticks = price;
    }
    return out;
}

/* market.py ``SymbolState._race``: a new list of the racer's trades, empty when no racer won. */
static PyObject *
state_race(StateObject *st, BookObject *book, PyObject *time_ns, double mid, i64 ask, i64 bid)
{
    int is_buy = mid > (double)ask;
    double run = is_buy ? mid - (double)ask : (double)bid - mid;
    i64 lots;
    if (racer_lots(st, run / mid, &lots) < 0) {
        return NULL;
    }
    if (lots == 0) {
        return PyList_New(0);
    }
    i64 limit = is_buy ? (i64)floor(mid) : (i64)ceil(mid);
    Side *side = is_buy ? &book->asks : &book->bids;
    PyObject *fills = book_sweep(side, lots, limit * side->sign);
    return fills == NULL ? NULL : record_fills(st, time_ns, is_buy, fills);
}

/* market.py ``SymbolState._trade``. */
static PyObject *
state_trade(StateObject *st, i64 t, PyObject *time_ns)
{
    i64 gap;
    if (next_trade_gap(st, &gap) < 0) {
        return NULL;
    }
    st->next_trade_ns = t + gap;
    if (st->halted) {
        return PyTuple_New(0);
    }
    BookObject *book = state_book(st);
    double mid, r;
    i64 touch[4];
    if (book == NULL || fair_mid(st, t, &mid) < 0 || book_touch(book, touch) < 0) {
        return NULL;
    }
    double pressure = (mid - 0.5 * (double)(touch[0] + touch[2])) / (double)(touch[0] - touch[2]);
    int is_buy;
    i64 size;
    if (taker_side(st, pressure, &is_buy) < 0 || trade_size(st, &size) < 0) {
        return NULL;
    }
    PyObject *fills = book_sweep(is_buy ? &book->asks : &book->bids, size, NO_LIMIT);
    if (fills == NULL) {
        return NULL;
    }
    if (PyList_GET_SIZE(fills) == 0) {
        Py_DECREF(fills);
        return PyTuple_New(0);
    }
    PyObject *out = record_fills(st, time_ns, is_buy, fills);
    if (out == NULL) {
        return NULL;
    }
    PyObject *changes = book_emit(book, st->symbol_id, time_ns);
    int failed = changes == NULL || PyList_SetSlice(out, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, changes) < 0;
    Py_XDECREF(changes);
    if (failed || draw(st->random, &r) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    i64 refill_ns = t + ((i64)floor(-log(1.0 - r) / REFILL_RATE_PER_S * 1e6) + 1) * 1000;
    if (refill_ns < st->next_book_ns) {
        st->next_book_ns = refill_ns;
    }
    return out;
}

/* market.py ``SymbolState._book_event``. */
static PyObject *
state_book_event(StateObject *st, i64 t, PyObject *time_ns)
{
    double r, mid, activity;
    if (draw(st->random, &r) < 0 || factors_double(st, st->at_activity, &activity) < 0) {
        return NULL;
    }
    st->next_book_ns = t + ((i64)floor(-log(1.0 - r) * st->us_per_book / activity) + 1) * 1000;
    if (st->halted) {
        return PyTuple_New(0);
    }
    if (fair_mid(st, t, &mid) < 0) {
        return NULL;
    }
    BookObject *book = state_book(st);
    i64 touch[4];
    if (book == NULL || book_touch(book, touch) < 0) {
        return NULL;
    }
    PyObject *out = NULL;
    if (mid < (double)touch[2] || (double)touch[0] < mid) {
        out = state_race(st, book, time_ns, mid, touch[0], touch[2]);
        if (out == NULL) {
            return NULL;
        }
    }
    if (maker_update(st->maker, book, mid, st->spread_multiplier) < 0) {
        Py_XDECREF(out);
        return NULL;
    }
    PyObject *changes = book_emit(book, st->symbol_id, time_ns);
    if (out == NULL || changes == NULL) {
        Py_XDECREF(out);
        return changes;
    }
    int failed = PyList_SetSlice(out, PY_SSIZE_T_MAX, PY_SSIZE_T_MAX, changes) < 0;
    Py_DECREF(changes);
    if (failed) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static PyObject *
State_event(StateObject *st, PyObject *time_ns)
{
    i64 t = PyLong_AsLongLong(time_ns);
    if (t == -1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *out = st->next_trade_ns <= t ? state_trade(st, t, time_ns) : state_book_event(st, t, time_ns);
    st->next_ns = st->next_trade_ns < st->next_book_ns ? st->next_trade_ns : st->next_book_ns;
    return out;
}

static PyObject *
State_get_book(StateObject *st, void *Py_UNUSED(closure))
{
    return Py_XNewRef((PyObject *)state_book(st));
}

#define STATE_I64_GETTER(field)                                                                                \
    static PyObject *State_get_##field(StateObject *st, void *Py_UNUSED(closure))                              \
    {                                                                                                          \
        return PyLong_FromLongLong(st->field);                                                                 \
    }
STATE_I64_GETTER(next_ns)
STATE_I64_GETTER(next_trade_ns)
STATE_I64_GETTER(next_book_ns)
STATE_I64_GETTER(trades_count)
STATE_I64_GETTER(volume_lots)
STATE_I64_GETTER(last_price_ticks)

static PyObject *
State_get_halted(StateObject *st, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(st->halted);
}

static int
State_set_halted(StateObject *st, PyObject *value, void *Py_UNUSED(closure))
{
    int halted = value == NULL ? -1 : PyObject_IsTrue(value);
    if (halted < 0) {
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_AttributeError, "halted cannot be deleted");
        }
        return -1;
    }
    st->halted = halted;
    return 0;
}

static PyObject *
State_get_spread_multiplier(StateObject *st, void *Py_UNUSED(closure))
{
    return PyFloat_FromDouble(st->spread_multiplier);
}

static int
State_set_spread_multiplier(StateObject *st, PyObject *value, void *Py_UNUSED(closure))
{
    double multiplier = value == NULL ? -1.0 : PyFloat_AsDouble(value);
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "spread_multiplier cannot be deleted");
        return -1;
    }
    if (multiplier == -1.0 && PyErr_Occurred()) {
        return -1;
    }
    st->spread_multiplier = multiplier;
    return 0;
}

static PyMemberDef State_members[] = {
    {"symbol", T_OBJECT, offsetof(StateObject, symbol), READONLY, "The catalogue symbol."},
    {"symbol_id", T_OBJECT, offsetof(StateObject, symbol_id), READONLY, "The symbol's id."},
    {"index", T_OBJECT, offsetof(StateObject, index), READONLY, "The symbol's position in the catalogue."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef State_getset[] = {
    {"book", (getter)State_get_book, NULL, "The symbol's book; built on first use.", NULL},
    {"next_ns", (getter)State_get_next_ns, NULL, "Time of the symbol's next event.", NULL},
    {"next_trade_ns", (getter)State_get_next_trade_ns, NULL, "Time of the next trade arrival.", NULL},
    {"next_book_ns", (getter)State_get_next_book_ns, NULL, "Time of the next book change.", NULL},
    {"trades_count", (getter)State_get_trades_count, NULL, "Trades since the market started.", NULL},
    {"volume_lots", (getter)State_get_volume_lots, NULL, "Traded volume since the start, in lots.", NULL},
    {"last_price_ticks", (getter)State_get_last_price_ticks, NULL, "Price of the last trade, 0 before.", NULL},
    {"halted", (getter)State_get_halted, (setter)State_set_halted, "Scenario hook: no events while True.", NULL},
    {"spread_multiplier", (getter)State_get_spread_multiplier, (setter)State_set_spread_multiplier,
     "Scenario hook: multiplies the quoted spread of new touch levels.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef State_methods[] = {
    {"event", (PyCFunction)State_event, METH_O,
     "The symbol's event at t (its next_ns): a trade arrival or a background book change."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject State_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "coinapi_emulator.simulator._speedups.SymbolState",
    .tp_basicsize = sizeof(StateObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The C twin of simulator.market.SymbolState, taking over a reference state's handover().",
    .tp_new = State_new,
    .tp_dealloc = (destructor)State_dealloc,
    .tp_traverse = (traverseproc)State_traverse,
    .tp_clear = (inquiry)State_clear,
    .tp_methods = State_methods,
    .tp_members = State_members,
    .tp_getset = State_getset,
};
