/*
 * simulator._speedups: the market's hot path in C, one file per Python twin, compiled as one unit (this file
 * includes the others, so their static functions need no prototypes across files):
 *
 *   common.h      shared headers, types and book constants
 *   events.c      events built as simulator/events.py's frozen dataclasses
 *   book.c        book.py Book
 *   book_maker.c  book.py BookMaker
 *   candles.c     ohlcv.py OhlcvEngine's trade folding and bars (TradeFolder)
 *   symbol.h      market.py SymbolState's struct and attribute readers
 *   price.c       price.py SymbolPricer
 *   flow.c        flow.py TradeFlow
 *   symbol.c      market.py SymbolState
 *   scheduler.c   market.py Market._run
 *   speedups.c    this file: the module
 * *
 * ``Book`` and ``BookMaker`` here have the API and the behaviour of the pure-Python classes in
 * ``simulator/book.py``, which stay the reference: the same calls give the same levels, the same events
 * and the same random draws, in the same order, from the same generator (its ``random`` method is called
 * for every draw, so a ``random.Random`` subclass works too). tests/simulator/test_speedups.py holds the
 * two to that, event for event. The market spends most of its time in the book; done in C, a book event
 * costs a few method calls instead of a few hundred bytecodes.
 *
 * Prices (ticks) and sizes (lots) are 64-bit here, where Python's are unbounded: the catalogue's largest
 * are below 2**53 by orders of magnitude, which also keeps their comparisons with float mids exact.
 *
 * Events are built as the frozen slotted dataclasses of ``simulator.events``: allocated with the type's
 * own allocator, their slots filled through the offsets of the slot descriptors (what the frozen
 * ``__init__`` would store, without its ``object.__setattr__`` per field).
 */
#include "common.h"
#include "events.c"
#include "book.c"
#include "book_maker.c"
#include "candles.c"
#include "symbol.h"
#include "price.c"
#include "flow.c"
#include "symbol.c"
#include "scheduler.c"

static int
load_event_types(void)
{
    PyObject *events = PyImport_ImportModule("coinapi_emulator.simulator.events");
    if (events == NULL) {
        return -1;
    }
    trade_type = (PyTypeObject *)PyObject_GetAttrString(events, "Trade");
    bar_type = (PyTypeObject *)PyObject_GetAttrString(events, "Bar");
    PyObject *sides = PyObject_GetAttrString(events, "TakerSide");
    if (sides != NULL) {
        taker_buy = PyObject_GetAttrString(sides, "BUY");
        taker_sell = PyObject_GetAttrString(sides, "SELL");
        Py_DECREF(sides);
    }
    level_type = (PyTypeObject *)PyObject_GetAttrString(events, "Level");
    delta_type = (PyTypeObject *)PyObject_GetAttrString(events, "BookDelta");
    quote_type = (PyTypeObject *)PyObject_GetAttrString(events, "Quote");
    Py_DECREF(events);
    if (level_type == NULL || delta_type == NULL || quote_type == NULL || trade_type == NULL || bar_type == NULL ||
        taker_buy == NULL || taker_sell == NULL) {
        return -1;
    }
    static const char *trade_fields[] = {"symbol_id", "time_exchange_ns", "price_ticks",
                                         "size_lots", "taker_side",       "uuid"};
    for (int i = 0; i < 6; i++) {
        if (slot_offset(trade_type, trade_fields[i], &trade_at[i]) < 0) {
            return -1;
        }
    }
    static const char *bar_fields[] = {
        "symbol_id",        "period_id",        "time_period_start_ns", "time_period_end_ns", "time_open_ns",
        "time_close_ns",    "price_open_ticks", "price_high_ticks",     "price_low_ticks",    "price_close_ticks",
        "volume_traded_lots", "trades_count",   "is_final",             "time_ns",            "sequence"};
    for (int i = 0; i < 15; i++) {
        if (slot_offset(bar_type, bar_fields[i], &bar_at[i]) < 0) {
            return -1;
        }
    }
    PyObject *random_module = PyImport_ImportModule("random");
    if (random_module == NULL) {
        return -1;
    }
    random_class = PyObject_GetAttrString(random_module, "Random");
    Py_DECREF(random_module);
    uuid_bits = PyLong_FromLong(128);
    if (random_class == NULL || uuid_bits == NULL) {
        return -1;
    }
    static const char *delta_fields[] = {"symbol_id", "time_exchange_ns", "asks", "bids"};
    static const char *quote_fields[] = {"symbol_id",     "time_exchange_ns", "ask_price_ticks",
                                         "ask_size_lots", "bid_price_ticks",  "bid_size_lots"};
    if (slot_offset(level_type, "price_ticks", &level_price_at) < 0 ||
        slot_offset(level_type, "size_lots", &level_size_at) < 0) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (slot_offset(delta_type, delta_fields[i], &delta_at[i]) < 0) {
            return -1;
        }
    }
    for (int i = 0; i < 6; i++) {
        if (slot_offset(quote_type, quote_fields[i], &quote_at[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
add_layout(PyObject *module)
{
    PyObject *layout = Py_BuildValue("(iiiii)(iiiiiiiiiii)", S_LAST, S_SETTLED, S_SEQUENCE, S_SECOND, S_BLOCK,
                                     C_START, C_END, C_OPEN_T, C_CLOSE_T, C_OPEN, C_HIGH, C_LOW, C_CLOSE, C_VOLUME,
                                     C_COUNT, C_KEY);
    int failed = layout == NULL || PyModule_AddObjectRef(module, "OHLCV_LAYOUT", layout) < 0;
    Py_XDECREF(layout);
    return failed ? -1 : 0;
}

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "coinapi_emulator.simulator._speedups",
    .m_doc = "The market's hot path in C: one twin per Python class (book, flow, price, candles, symbol, scheduler).",
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    double profile_scale =
        LEVEL_MEAN * (LEVEL_SIZE_TAIL - 1.0) / (LEVEL_SIZE_TAIL - pow(LEVEL_SIZE_CAP, 1.0 - LEVEL_SIZE_TAIL));
    for (int d = 0; d < PROFILE_LEN; d++) {
        size_profile[d] = profile_scale * (1.0 + HUMP_HEIGHT * d / HUMP_DEPTH * exp(1.0 - d / HUMP_DEPTH));
    }
    empty_tuple = PyTuple_New(0);
    if (empty_tuple == NULL || load_event_types() < 0 || PyType_Ready(&Book_Type) < 0 ||
        PyType_Ready(&Maker_Type) < 0 || PyType_Ready(&State_Type) < 0 ||
        PyType_Ready(&Scheduler_Type) < 0 || PyType_Ready(&Run_Type) < 0 ||
        PyType_Ready(&Folder_Type) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "Book", (PyObject *)&Book_Type) < 0 ||
        PyModule_AddObjectRef(module, "BookMaker", (PyObject *)&Maker_Type) < 0 ||
        PyModule_AddObjectRef(module, "SymbolState", (PyObject *)&State_Type) < 0 ||
        PyModule_AddObjectRef(module, "Scheduler", (PyObject *)&Scheduler_Type) < 0 ||
        PyModule_AddObjectRef(module, "TradeFolder", (PyObject *)&Folder_Type) < 0 ||
        add_layout(module) < 0 ||
        PyModule_AddIntConstant(module, "MIN_LEVELS", MIN_LEVELS) < 0 ||
        PyModule_AddIntConstant(module, "MAX_LEVELS", MAX_LEVELS) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
