/*
 * symbol.h: the state of one symbol in C (simulator/market.py ``SymbolState``), shared by price.c, flow.c and
 * symbol.c: the struct, and readers of the reference objects' attributes and of the price factors' slots.
 */

#define REFILL_RATE_PER_S 20.0            /* market.py _REFILL_RATE_PER_S */
static PyTypeObject *trade_type;
static Py_ssize_t trade_at[6]; /* symbol_id, time_exchange_ns, price_ticks, size_lots, taker_side, uuid */
static PyObject *taker_buy, *taker_sell, *random_class, *uuid_bits;

typedef struct {
    PyObject_HEAD
    PyObject *symbol;
    PyObject *symbol_id;
    PyObject *index;
    PyObject *rng;
    PyObject *random;      /* rng.random */
    PyObject *getrandbits; /* rng.getrandbits */
    PyObject *factors;     /* PriceFactors: read when the fair mid expires and at each arrival (activity) */
    /* offsets of the factors' slots read on the hot path: activity, vol_scale, step_count, next_step_ns, history */
    Py_ssize_t at_activity, at_vol_scale, at_step_count, at_next_step_ns, at_history;
    PyObject *on_trade;
    FolderObject *folder;  /* on_trade itself when it is a TradeFolder: called without boxing */
    MakerObject *maker;
    BookObject *book;      /* NULL until first needed */
    PyObject *init_seed;
    double mid0;
    /* flow.py TradeFlow */
    double beta, jump, base_rate, excitation, trade_size_lots, step_sigma;
    int last_buy, run_buy;
    i64 run_left;
    /* price.py SymbolPricer */
    Py_ssize_t base, quote, lag;
    int kind, is_call;
    double ticks, sd, decay_per_ns, mean, basis, carry_per_ns, strike, vol, mid;
    double premium, premium_sd, premium_decay_per_ns;
    i64 last_ns, expiry_ns, valid_until_ns;
    /* market.py SymbolState */
    double us_per_book, spread_multiplier;
    int halted;
    i64 next_trade_ns, next_book_ns, next_ns, trades_count, volume_lots, last_price_ticks;
} StateObject;

static PyTypeObject State_Type;

static int
attr_double(PyObject *obj, const char *name, double *out)
{
    PyObject *value = PyObject_GetAttrString(obj, name);
    if (value == NULL) {
        return -1;
    }
    *out = PyFloat_AsDouble(value);
    Py_DECREF(value);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static int
attr_i64(PyObject *obj, const char *name, i64 *out)
{
    return as_i64(PyObject_GetAttrString(obj, name), out);
}

static int
attr_bool(PyObject *obj, const char *name, int *out)
{
    PyObject *value = PyObject_GetAttrString(obj, name);
    if (value == NULL) {
        return -1;
    }
    *out = PyObject_IsTrue(value);
    Py_DECREF(value);
    return *out < 0 ? -1 : 0;
}

/* The value in the factors' slot at ``at`` (borrowed): read through the slot's offset, as for events, since
 * a lookup by name on every event would cost more than the rest of a gap draw. */
static PyObject *
factors_slot(StateObject *st, Py_ssize_t at)
{
    PyObject *value = *(PyObject **)((char *)st->factors + at);
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a PriceFactors slot is not set");
    }
    return value;
}

static int
factors_double(StateObject *st, Py_ssize_t at, double *out)
{
    PyObject *value = factors_slot(st, at);
    if (value == NULL) {
        return -1;
    }
    *out = PyFloat_AsDouble(value);
    return (*out == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

static int
factors_i64(StateObject *st, Py_ssize_t at, i64 *out)
{
    PyObject *value = factors_slot(st, at);
    if (value == NULL) {
        return -1;
    }
    *out = PyLong_AsLongLong(value);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
attr_ref(PyObject *obj, const char *name, PyObject **out)
{
    *out = PyObject_GetAttrString(obj, name);
    return *out == NULL ? -1 : 0;
}
