// The dashboard page: polls /dashboard/state, and watches one symbol over the CoinAPI WebSocket like any client.
"use strict";

const POLL_MS = 1000;
const RECONNECT_MS = 2000;
const BOOK_LEVELS = 10;
const RECENT_TRADES = 1000;

const $ = (id) => document.getElementById(id);

const page = {
  state: null,
  previous: null, // {at, routed}: the last poll's counters, for rates
  socket: null,
  symbol: null,
  refused: null, // the error that closed the last connection: no reconnecting until Watch is pressed
  chooserFilled: false,
};

// -- status line -------------------------------------------------------------------------------------------------

function say(text, isError = false) {
  const line = $("status-line");
  line.textContent = text;
  line.classList.toggle("error", isError);
}

// -- state: clock, connections, messages per second --------------------------------------------------------------

async function poll() {
  try {
    const response = await fetch("/dashboard/state", { cache: "no-store" });
    if (!response.ok) throw new Error(`GET /dashboard/state answered ${response.status}`);
    render(await response.json());
  } catch (error) {
    say(`The emulator does not answer: ${error.message}`, true);
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

function render(state) {
  page.state = state;
  $("version").textContent = state.version;
  $("clock-time").textContent = state.time;
  const paused = $("clock-state");
  paused.textContent = state.paused ? "paused" : "running";
  paused.classList.toggle("paused", state.paused);
  $("clock-speed").textContent = `speed ${state.speed}`;
  $("controls").hidden = !state.admin;
  $("admin-token-label").hidden = !state.admin_token;
  renderConnections(state.connections, state.connections_total);
  renderRates(state.routed);
  if (!page.chooserFilled) fillChooser(state);
}

function fillChooser(state) {
  const list = $("symbols");
  for (const symbolId of state.symbols) {
    const option = document.createElement("option");
    option.value = symbolId;
    list.appendChild(option);
  }
  page.chooserFilled = true;
  $("speed").value = state.speed;
  $("symbol").value = state.default_symbol;
  watch();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function scopeText(scope) {
  const parts = Object.entries(scope).map(([type, filters]) => {
    const values = Object.values(filters).flat();
    return values.length ? `${type}: ${values.join(", ")}` : `${type}: all`;
  });
  return parts.join("; ") || "(no subscription yet)";
}

function renderConnections(connections, total) {
  const shown = connections.length < total ? ` (the first ${connections.length} shown)` : "";
  $("connection-count").textContent = `${total}${shown}`;
  const body = $("connection-rows");
  body.replaceChildren();
  for (const connection of connections) {
    const row = body.insertRow();
    cell(row, connection.id);
    cell(row, connection.peer);
    cell(row, connection.market === "private" ? `private seed ${connection.seed}` : "shared");
    cell(row, connection.messages_sent);
    cell(row, scopeText(connection.scope));
  }
}

function renderRates(routed) {
  const now = performance.now();
  const before = page.previous;
  page.previous = { at: now, routed };
  const body = $("rate-rows");
  body.replaceChildren();
  for (const [type, total] of Object.entries(routed)) {
    const row = body.insertRow();
    row.dataset.type = type;
    cell(row, type);
    const elapsed = before ? (now - before.at) / 1000 : 0;
    const rate = elapsed > 0 ? (total - (before.routed[type] || 0)) / elapsed : 0;
    cell(row, rate.toFixed(rate < 10 ? 1 : 0));
    cell(row, total);
  }
}

// -- clock controls (the admin API) ------------------------------------------------------------------------------

async function admin(path, body = {}) {
  const headers = { "Content-Type": "application/json" };
  const token = $("admin-token").value;
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    const response = await fetch(`/admin${path}`, { method: "POST", headers, body: JSON.stringify(body) });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    say(`${path}: time ${answer.time}, speed ${answer.speed}${answer.paused ? ", paused" : ""}`);
  } catch (error) {
    say(`${path} failed: ${error.message}`, true);
  }
}

function speedValue() {
  const text = $("speed").value.trim();
  return text.toLowerCase() === "max" ? "max" : Number(text);
}

$("pause").addEventListener("click", () => admin("/clock/pause"));
$("resume").addEventListener("click", () => admin("/clock/resume"));
$("step").addEventListener("click", () => admin("/clock/step", { seconds: 1 }));
$("set-speed").addEventListener("click", () => admin("/clock/speed", { speed: speedValue() }));

// -- the watched symbol: chart and book --------------------------------------------------------------------------

const chart = LightweightCharts.createChart($("chart"), {
  autoSize: true,
  layout: { background: { color: "#161c23" }, textColor: "#d8dee6" },
  grid: { vertLines: { color: "#1f2832" }, horzLines: { color: "#1f2832" } },
  timeScale: { timeVisible: true, secondsVisible: true },
});
const series = {
  trade: chart.addSeries(LightweightCharts.LineSeries, { color: "#4c8dff", lineWidth: 2, title: "trade" }),
  bid: chart.addSeries(LightweightCharts.LineSeries, { color: "#26a69a", lineWidth: 1, title: "bid" }),
  ask: chart.addSeries(LightweightCharts.LineSeries, { color: "#ef5350", lineWidth: 1, title: "ask" }),
};
const lastTime = { trade: 0, bid: 0, ask: 0 };

// CoinAPI times have seven fractional digits; the chart plots whole seconds (a later point replaces one of its second)
function seconds(time) {
  return Date.parse(`${time.slice(0, 19)}Z`) / 1000;
}

function plot(name, time, value) {
  const at = seconds(time);
  if (at < lastTime[name]) return; // the chart takes points in time order only
  lastTime[name] = at;
  series[name].update({ time: at, value });
}

function resetChart() {
  for (const name of Object.keys(series)) {
    series[name].setData([]);
    lastTime[name] = 0;
  }
  for (const id of ["last-price", "bid-price", "ask-price"]) $(id).textContent = "–";
  $("book-rows").replaceChildren();
}

function renderBook(book) {
  const body = $("book-rows");
  body.replaceChildren();
  const bids = book.bids.slice(0, BOOK_LEVELS);
  const asks = book.asks.slice(0, BOOK_LEVELS);
  const largest = Math.max(...bids.map((l) => l.size), ...asks.map((l) => l.size), 1e-12);
  for (let i = 0; i < Math.max(bids.length, asks.length); i++) {
    const row = body.insertRow();
    const bid = bids[i];
    const ask = asks[i];
    const bidSize = cell(row, bid ? bid.size : "", "bid-size");
    cell(row, bid ? bid.price : "", "bid");
    cell(row, ask ? ask.price : "", "ask");
    const askSize = cell(row, ask ? ask.size : "", "ask-size");
    bidSize.style.setProperty("--depth", `${bid ? (100 * bid.size) / largest : 0}%`);
    askSize.style.setProperty("--depth", `${ask ? (100 * ask.size) / largest : 0}%`);
  }
}

function onMessage(event) {
  const message = JSON.parse(event.data);
  switch (message.type) {
    case "trade":
      $("last-price").textContent = message.price;
      plot("trade", message.time_exchange, message.price);
      break;
    case "quote":
      $("bid-price").textContent = message.bid_price;
      $("ask-price").textContent = message.ask_price;
      plot("bid", message.time_exchange, message.bid_price);
      plot("ask", message.time_exchange, message.ask_price);
      break;
    case "book20":
      renderBook(message);
      break;
    case "error": // the server closes the connection next; Watch dials again
      page.refused = message.message;
      break;
    case "reconnect":
      say(`The server asks clients to reconnect within ${message.within_seconds} s`);
      break;
    default: // hearbeat, and anything injected
  }
}

function hello(symbolId) {
  return JSON.stringify({
    type: "hello",
    apikey: $("api-key").value,
    heartbeat: true,
    subscribe_data_type: ["trade", "quote", "book20"],
    subscribe_filter_symbol_id: [`${symbolId}$`],
  });
}

function connect() {
  page.refused = null;
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/v1/`);
  page.socket = socket;
  socket.addEventListener("open", () => socket.send(hello(page.symbol)));
  socket.addEventListener("message", onMessage);
  socket.addEventListener("close", (event) => {
    if (page.socket !== socket) return; // replaced on purpose
    page.socket = null;
    if (page.refused) {
      say(`The server refused the dashboard's subscription: ${page.refused}. Change the symbol or key, then Watch.`, true);
      return;
    }
    say(`The dashboard's connection closed (${event.code} ${event.reason}); reconnecting`, event.code !== 1000);
    setTimeout(() => page.socket || connect(), RECONNECT_MS);
  });
}

// The chart starts with the trades the server still holds for REST (--retain), then goes on live.
async function plotRecentTrades(symbolId) {
  const path = `/v1/trades/${encodeURIComponent(symbolId)}/latest?limit=${RECENT_TRADES}`;
  try {
    const response = await fetch(path, { headers: { "X-CoinAPI-Key": $("api-key").value } });
    if (!response.ok) return;
    const trades = (await response.json()).sort((a, b) => (a.time_exchange < b.time_exchange ? -1 : 1));
    for (const trade of trades) plot("trade", trade.time_exchange, trade.price);
  } catch (error) {
    // no history is no reason not to go live
  }
}

// A new hello replaces the connection's whole subscription, so switching symbols keeps the connection.
async function watch() {
  const symbolId = $("symbol").value.trim();
  if (!symbolId) return;
  page.symbol = symbolId;
  resetChart();
  say(`Watching ${symbolId}`);
  await plotRecentTrades(symbolId);
  if (page.symbol !== symbolId) return; // another symbol was chosen meanwhile
  if (page.socket && page.socket.readyState === WebSocket.OPEN) page.socket.send(hello(symbolId));
  else if (!page.socket) connect();
}

$("watch").addEventListener("click", watch);
$("symbol").addEventListener("change", watch);

poll();
