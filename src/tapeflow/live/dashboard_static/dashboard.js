// tapeflow live dashboard: draws the frames the node pushes over /ws; the kill button posts to /kill.
// Text from the node (symbols, reasons) is only ever set as textContent, never parsed as HTML.
"use strict";

const MAX_POINTS = 600;
let token = "";
let equity = [];
let retry = 500;

function $(id) { return document.getElementById(id); }

function text(id, value) {
  const el = $(id);
  if (el) { el.textContent = value === null || value === undefined || value === "" ? "-" : String(value); }
}

function duration(ns) {
  if (ns === null || ns === undefined) { return "-"; }
  if (ns < 1e3) { return ns + " ns"; }
  if (ns < 1e6) { return (ns / 1e3).toFixed(1) + " us"; }
  if (ns < 1e9) { return (ns / 1e6).toFixed(1) + " ms"; }
  return (ns / 1e9).toFixed(1) + " s";
}

function fillRows(tableId, rows, cells, key) {
  const body = $(tableId).tBodies[0];
  const fresh = document.createDocumentFragment();
  for (const row of rows) {
    const tr = document.createElement("tr");
    if (key) { tr.dataset.key = key(row); }
    for (const [name, value] of cells(row)) {
      const td = document.createElement("td");
      td.className = name;
      td.textContent = value === null || value === undefined ? "-" : String(value);
      tr.appendChild(td);
    }
    fresh.appendChild(tr);
  }
  body.replaceChildren(fresh);
}

function drawEquity() {
  const line = $("equity-line");
  text("equity-points", equity.length);
  if (equity.length < 2) { line.setAttribute("points", ""); return; }
  let lo = Math.min(...equity), hi = Math.max(...equity);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const step = 600 / (equity.length - 1);
  const points = equity.map((v, i) => (i * step).toFixed(1) + "," + (110 - ((v - lo) / (hi - lo)) * 100).toFixed(1));
  line.setAttribute("points", points.join(" "));
}

function latency(rowId, stats) {
  const cells = $(rowId).cells;
  const values = stats && stats.count ? [stats.count, duration(stats.p50), duration(stats.p99),
    duration(stats.p999), duration(stats.max)] : [0, "-", "-", "-", "-"];
  values.forEach((v, i) => { cells[i + 1].textContent = String(v); });
}

function draw(frame) {
  const s = frame.node;
  text("run-id", frame.run_id);
  text("venue", frame.venue);
  text("event-time", frame.event_time);
  text("feed-events", s.feed_events);
  text("event-rate", Math.round(s.events_per_s));
  text("frame-seq", frame.seq);
  const p = s.pnl;
  text("pnl-realized", p.realized); text("pnl-unrealized", p.unrealized); text("pnl-fees", p.fees);
  text("pnl-total", p.total); text("pnl-cash", p.cash); text("pnl-equity", p.equity); text("pnl-fills", p.fills);
  equity.push(Number(p.equity));
  if (equity.length > MAX_POINTS) { equity = equity.slice(equity.length - MAX_POINTS); }
  drawEquity();
  fillRows("positions", s.positions, r => [["symbol", r.symbol], ["qty", r.quantity], ["avg", r.avg_price],
    ["mark", r.mark], ["value", r.market_value], ["unrealized", r.unrealized], ["realized", r.realized]],
    r => r.symbol);
  text("open-order-count", s.open_order_count);
  fillRows("orders", s.open_orders, r => [["id", r.client_order_id], ["symbol", r.symbol], ["side", r.side],
    ["qty", r.quantity], ["filled", r.filled], ["price", r.price || "MKT"], ["status", r.status]],
    r => r.client_order_id);
  const risk = s.risk;
  text("kill-state", risk.kill_switch ? "ENGAGED" : "off");
  $("kill-state").className = risk.kill_switch ? "bad" : "good";
  $("kill-banner").hidden = !risk.kill_switch;
  text("kill-banner-why", risk.kill_switch ? "(" + risk.kill_source + ": " + risk.kill_reason + ")" : "");
  text("risk-passed", risk.passed); text("risk-rejected", risk.rejected); text("kill-refused", frame.kill_refused);
  // the chase's counters and the failed state writes: an alarm (non-zero) means an order or the switch's state
  // may not be what the switch says, so it is shown in the alarm colour
  text("kill-cancels-resent", risk.kill_cancels_resent);
  for (const [id, value] of [["kill-cancel-alarms", risk.kill_cancel_alarms],
    ["kill-cancels-unanswered", risk.kill_cancels_unanswered], ["kill-persist-failures", risk.kill_persist_failures]]) {
    text(id, value);
    $(id).className = value ? "bad" : "";
  }
  fillRows("rejections", Object.entries(risk.rejections_by_rule), r => [["rule", r[0]], ["refused", r[1]]]);
  fillRows("throttles", risk.throttles, r => [["rule", r.rule], ["limit", r.limit === null ? "off" : r.limit],
    ["burst", r.burst], ["refused", r.refused]]);
  const f = s.feed;
  if (f) {
    text("feed-connected", f.connected.join(", ") || "none");
    text("feed-stale", f.stale.join(", ") || "none");
    text("feed-down", Object.keys(f.down).join(", ") || "none");
    text("feed-age", duration(f.last_market_age_ns));
    text("feed-disconnects", f.disconnects); text("feed-reconnects", f.reconnects);
    const list = $("feed-recent");
    list.replaceChildren(...f.recent.map(line => { const li = document.createElement("li"); li.textContent = line; return li; }));
  }
  latency("latency-tick-to-trade", s.tick_to_trade);
  latency("latency-ack", s.ack);
  fillRows("signals", frame.signals.slice().reverse(), r => [["time", r.time], ["kind", r.kind],
    ["strategy", r.strategy_id], ["symbol", r.symbol], ["what", r.what], ["reason", r.reason]]);
  if (frame.ended) { status("run ended", "down"); }
}

function status(words, kind) {
  const el = $("status");
  el.textContent = words;
  el.className = "status " + kind;
}

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws");
  let ended = false;
  ws.onopen = () => { retry = 500; status("live", "up"); };
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    ended = ended || frame.ended;
    draw(frame);
  };
  ws.onclose = () => {
    if (ended) { return; }
    status("disconnected: retrying", "down");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 5000);
  };
}

async function kill(event) {
  event.preventDefault();
  const given = $("kill-token").value || token;
  const headers = { "Content-Type": "application/json" };
  if (given) { headers["Authorization"] = "Bearer " + given; }
  const result = $("kill-result");
  result.textContent = "sending...";
  try {
    const answer = await fetch("/kill", {
      method: "POST", headers: headers, body: JSON.stringify({ reason: $("kill-reason").value }),
      cache: "no-store", credentials: "omit",
    });
    const body = await answer.json();
    if (answer.ok && body.ok) {
      result.textContent = "kill switch engaged (" + body.request + "): " + body.cancelled_orders + " orders cancelled" +
        (body.already_engaged ? ", it was already engaged" : "");
      result.className = "good";
    } else {
      result.textContent = "refused (" + answer.status + "): " + body.error;
      result.className = "bad";
    }
  } catch (err) {
    result.textContent = "failed: " + err;
    result.className = "bad";
  }
}

function start() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    token = hash.get("token");
    history.replaceState(null, "", location.pathname);  // not left in the address bar, a bookmark or a screenshot
  }
  $("kill-form").addEventListener("submit", kill);
  connect();
}

start();
