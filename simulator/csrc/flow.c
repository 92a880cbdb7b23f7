/*
 * flow.c: the C twin of simulator/flow.py ``TradeFlow``: Hawkes arrivals in the market's operational time, the
 * metaorder behind the taker side, trade sizes, and the orders of takers racing to stale quotes.
 */
#define SIZE_TAIL_EXPONENT (-1.0 / 1.3)   /* flow.py _SIZE_EXPONENT */
#define TRADE_SIZE_CAP 20000.0            /* flow.py SIZE_CAP */
#define ROUND_SHARE 0.5                   /* flow.py ROUND_SHARE */
#define METAORDER_SHARE 0.8               /* flow.py METAORDER_SHARE */
#define RUN_EXPONENT (-1.0 / 1.3)         /* flow.py _RUN_EXPONENT */
#define RUN_CAP 20000.0                   /* flow.py RUN_CAP */
#define RACE_Z 1.5                        /* flow.py RACE_Z */
#define RACE_SIZE 100.0                   /* flow.py RACE_SIZE */

static int
take_flow(StateObject *st, PyObject *flow)
{
    return attr_double(flow, "beta", &st->beta) || attr_double(flow, "jump", &st->jump) ||
                   attr_double(flow, "base_rate_per_s", &st->base_rate) ||
                   attr_double(flow, "excitation", &st->excitation) ||
                   attr_double(flow, "size_lots", &st->trade_size_lots) ||
                   attr_double(flow, "step_sigma", &st->step_sigma) ||
                   attr_bool(flow, "last_buy", &st->last_buy) || attr_bool(flow, "run_buy", &st->run_buy) ||
                   attr_i64(flow, "run_left", &st->run_left)
               ? -1
               : 0;
}

/* flow.py ``TradeFlow.next_gap_ns`` at the factors' current activity. */
static int
next_trade_gap(StateObject *st, i64 *out)
{
    double r, beta = st->beta, gap_s = INFINITY, activity;
    if (factors_double(st, st->at_activity, &activity) < 0) {
        return -1;
    }
    if (st->base_rate > 0.0) {
        if (draw(st->random, &r) < 0) {
            return -1;
        }
        gap_s = -log(1.0 - r) / st->base_rate;
    }
    double excitation = st->excitation;
    if (excitation > 1e-12) {
        if (draw(st->random, &r) < 0) {
            return -1;
        }
        double d = 1.0 + beta * log(1.0 - r) / excitation;
        if (d > 0.0) {
            double excited = -log(d) / beta;
            if (excited < gap_s) {
                gap_s = excited;
            }
        }
    }
    if (gap_s == INFINITY) {
        *out = (i64)1 << 62;
        return 0;
    }
    st->excitation = excitation * exp(-beta * gap_s) + st->jump;
    *out = ((i64)floor(gap_s / activity * 1e6) + 1) * 1000;
    return 0;
}

/* flow.py ``TradeFlow.taker_is_buy``. */
static int
taker_side(StateObject *st, double pressure, int *is_buy)
{
    double r;
    if (draw(st->random, &r) < 0) {
        return -1;
    }
    if (r < METAORDER_SHARE) {
        if (st->run_left <= 0) {
            if (draw(st->random, &r) < 0) {
                return -1;
            }
            double length = pow(1.0 - r, RUN_EXPONENT);
            st->run_left = length < RUN_CAP ? (i64)floor(length) : (i64)RUN_CAP;
            if (draw(st->random, &r) < 0) {
                return -1;
            }
            st->run_buy = r < 0.5;
        }
        st->run_left -= 1;
        *is_buy = st->run_buy;
    }
    else {
        double lean = 0.4 * pressure / (1.0 + fabs(pressure)) + (st->last_buy ? 0.08 : -0.08);
        if (draw(st->random, &r) < 0) {
            return -1;
        }
        *is_buy = r < 0.5 + lean;
    }
    st->last_buy = *is_buy;
    return 0;
}

/* flow.py ``TradeFlow.size_lots``. */
static int
trade_size(StateObject *st, i64 *out)
{
    double r;
    if (draw(st->random, &r) < 0) {
        return -1;
    }
    double scale = pow(1.0 - r, SIZE_TAIL_EXPONENT);
    if (scale > TRADE_SIZE_CAP) {
        scale = TRADE_SIZE_CAP;
    }
    i64 lots = (i64)floor(st->trade_size_lots * scale);
    if (lots == 0) {
        lots = 1;
    }
    if (draw(st->random, &r) < 0) {
        return -1;
    }
    if (r < ROUND_SHARE && lots >= 10) {
        i64 unit = 1;
        while (unit <= lots / 10) {
            unit *= 10;
        }
        lots = (i64)floor((double)lots / (double)unit + 0.5) * unit;
    }
    *out = lots;
    return 0;
}

/* flow.py ``TradeFlow.racer_lots`` at the factors' current vol_scale and activity. */
static int
racer_lots(StateObject *st, double run, i64 *out)
{
    double r, vol_scale, activity;
    if (factors_double(st, st->at_vol_scale, &vol_scale) < 0 || factors_double(st, st->at_activity, &activity) < 0 ||
        draw(st->random, &r) < 0) {
        return -1;
    }
    *out = r * RACE_Z * st->step_sigma * vol_scale >= run * activity ? 0 : (i64)floor(st->trade_size_lots * RACE_SIZE);
    return 0;
}
