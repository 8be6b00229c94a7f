// repobus dashboard: hand-written, no build step, no dependencies.
// Every URL is relative to <base href>, which carries the --base-path.
"use strict";

const MAX_ROWS = 500;          // live feed rows kept in the DOM
const ROWS_PER_FRAME = 100;    // live feed rows rendered per animation frame
const REFRESH_MS = 10000;      // repositories/builds refresh while visible

const $ = (sel, root = document) => root.querySelector(sel);
const state = {
  token: sessionStorage.getItem("repobus-read-token") || "",
  view: "live",
  source: null,
  queue: [],          // live events waiting for the next animation frame
  frame: 0,
  paused: false,
  received: 0,
  lastId: null,
  timer: 0,
};

// ---------------------------------------------------------------- helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

function badge(status) {
  const s = status || "—";
  return el("span", { class: "badge s-" + String(s).replace(/[^a-z-]/g, ""), text: s });
}

// The formats of toLocaleTimeString() and toLocaleString(), made once:
// those build a formatter on every call, too slow for a feed under load.
const TIME_FORMAT = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "numeric", second: "numeric" });
const DATE_TIME_FORMAT = new Intl.DateTimeFormat(undefined,
  { year: "numeric", month: "numeric", day: "numeric", hour: "numeric", minute: "numeric", second: "numeric" });

function shortTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  if (isNaN(d)) return iso;
  const now = new Date();
  const today = now.getDate() === d.getDate() && now.getMonth() === d.getMonth() && now.getFullYear() === d.getFullYear();
  return (today ? TIME_FORMAT : DATE_TIME_FORMAT).format(d);
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function showError(message) {
  const box = $("#error");
  box.textContent = message;
  box.hidden = false;
  clearTimeout(showError.t);
  showError.t = setTimeout(() => { box.hidden = true; }, 6000);
}

function authHeaders() {
  return state.token ? { Authorization: "Bearer " + state.token } : {};
}

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json", ...authHeaders() } });
  if (response.status === 401) {
    askToken();
    const error = new Error("read credentials required");
    error.unauthorized = true;
    throw error;
  }
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error((body && body.error) || response.status + " " + response.statusText);
  }
  return body;
}

function askToken() {
  $("#auth").hidden = false;
  $("#auth-token").focus();
}

function eventRow(record, withSeq) {
  const row = el("tr", {
    class: "clickable",
    tabindex: "0",
    "data-seq": record.seq,
    title: "Open event " + record.seq,
    onclick: () => openDetail(record.seq),
    onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openDetail(record.seq); } },
  },
    el("td", { class: "time", text: shortTime(record.time), title: record.time }),
    el("td", { class: "type", text: record.type }),
    el("td", {}, badge(record.status)),
    el("td", { class: "summary", text: record.summary }),
  );
  if (withSeq) row.append(el("td", { class: "num" }, el("a", { href: "#event-" + record.seq, text: "#" + record.seq,
    onclick: (e) => { e.preventDefault(); e.stopPropagation(); openDetail(record.seq); } })));
  return row;
}

// ---------------------------------------------------------------- views

function show(view) {
  if (!document.getElementById("view-" + view)) view = "live";
  state.view = view;
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-" + view;
  for (const tab of document.querySelectorAll("#tabs a")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  }
  clearInterval(state.timer);
  if (view === "repos") { loadRepos(); state.timer = setInterval(loadRepos, REFRESH_MS); }
  if (view === "builds") { loadBuilds(); state.timer = setInterval(loadBuilds, REFRESH_MS); }
  if (view === "trends") loadTrends();
}

// Live feed: one EventSource; rows are rendered in batches, once per frame.
function connectLive() {
  if (state.source) state.source.close();
  const form = new FormData($("#live-form"));
  const params = new URLSearchParams();
  for (const key of ["subject", "filters"]) {
    const v = String(form.get(key) || "").trim();
    if (v) params.set(key, v);
  }
  if (state.token) params.set("access_token", state.token);
  const url = "v1/stream" + (params.toString() ? "?" + params : "");
  const source = new EventSource(url);
  state.source = source;
  const conn = $("#conn");
  source.onopen = () => { conn.textContent = "live"; conn.className = "conn live"; };
  source.onerror = () => {
    conn.className = "conn down";
    if (source.readyState === EventSource.CLOSED) {
      // Refused (not a dropped connection): find out why; a 401 asks for
      // the read token.
      conn.textContent = "disconnected";
      api("v1/stats?since=PT1H").catch((e) => { if (!e.unauthorized) showError("Live feed: " + e.message); });
    } else {
      // The browser reconnects by itself, sending Last-Event-ID: no gap.
      conn.textContent = "reconnecting…";
    }
  };
  source.addEventListener("event", (message) => {
    let record;
    try { record = JSON.parse(message.data); } catch { return; }
    state.lastId = message.lastEventId;
    // Counted on arrival: under load the queue drops what the feed could
    // not show anyway, but the count stays exact.
    state.received++;
    state.queue.push(record);
    if (state.queue.length > MAX_ROWS) state.queue.splice(0, state.queue.length - MAX_ROWS);
    if (!state.frame && !state.paused) state.frame = requestAnimationFrame(flushLive);
    if (record.repo_id && state.view === "repos") scheduleRepos();
  });
}

function flushLive() {
  state.frame = 0;
  // A bounded batch per frame, so that a burst (or a slow machine) never
  // blocks the page for long; the rest follows in the next frames.
  const batch = state.queue.splice(0, ROWS_PER_FRAME);
  if (state.queue.length && !state.paused) state.frame = requestAnimationFrame(flushLive);
  if (!batch.length) return;
  const body = $("#live-table tbody");
  const fragment = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i--) {
    const row = eventRow(batch[i], false);
    if (batch.length < 20) row.classList.add("fresh");
    fragment.append(row);
  }
  body.prepend(fragment);
  while (body.rows.length > MAX_ROWS) body.deleteRow(body.rows.length - 1);
  $("#live-count").textContent = state.received + " events received (showing the latest " +
    Math.min(body.rows.length, MAX_ROWS) + "); last id " + state.lastId + ".";
}

let reposPending = 0;
function scheduleRepos() {
  if (reposPending) return;
  reposPending = setTimeout(() => { reposPending = 0; loadRepos(); }, 500);
}

function opCells(op) {
  const f = op.last_finished;
  let status;
  if (op.in_progress) {
    status = el("span", {}, badge("running"), " ",
      el("span", { class: "muted", text: duration(op.running_seconds) + " so far" }));
  } else {
    status = f ? badge(f.result || f.status) : el("span", { class: "muted", text: "—" });
  }
  const cells = [
    el("td", { class: "op" }, status),
    el("td", { class: "time", text: f ? shortTime(f.completed || f.time) : "—", title: f ? (f.completed || "") : "" }),
    el("td", { class: "num", text: f ? duration(f.duration_seconds) : "—" }),
  ];
  return { cells, finished: f };
}

async function loadRepos() {
  let answer;
  try { answer = await api("v1/repos"); } catch (e) { showError("Repositories: " + e.message); return; }
  const form = new FormData($("#repos-form"));
  const q = String(form.get("q") || "").toLowerCase();
  const busyOnly = form.get("busy") === "on";
  const failedOnly = form.get("failed") === "on";
  const body = $("#repos-table tbody");
  const fragment = document.createDocumentFragment();
  let shown = 0;
  for (const repo of answer.repos) {
    const busy = repo.sync.in_progress || repo.publish.in_progress;
    const failed = [repo.sync.last_finished, repo.publish.last_finished]
      .some((f) => f && (f.result === "failed" || f.result === "error"));
    if (q && !repo.repo_id.toLowerCase().includes(q)) continue;
    if (busyOnly && !busy) continue;
    if (failedOnly && !failed) continue;
    const sync = opCells(repo.sync);
    const publish = opCells(repo.publish);
    const f = sync.finished;
    const counts = f ? [f.added_count, f.updated_count, f.removed_count].map((n) => n ?? "—").join(" / ") : "—";
    const target = (repo.sync.in_progress ? repo.sync.last_started : null) || f || repo.sync.last_started ||
      repo.publish.last_finished || repo.publish.last_started;
    const row = el("tr", { class: "clickable", tabindex: "0", "data-repo": repo.repo_id,
      onclick: () => target && openDetail(target.seq),
      onkeydown: (e) => { if (e.key === "Enter" && target) openDetail(target.seq); } },
      el("td", { class: "type", text: repo.repo_id }),
      ...sync.cells,
      el("td", { class: "num", text: counts }),
      ...publish.cells);
    fragment.append(row);
    shown++;
  }
  body.replaceChildren(fragment);
  $("#repos-summary").textContent = answer.repos.length + " repositories, " + shown + " shown; " +
    answer.syncing + " syncing, " + answer.publishing + " publishing now.";
}

async function loadBuilds() {
  const form = new FormData($("#builds-form"));
  const params = new URLSearchParams();
  for (const key of ["owner", "project", "since"]) {
    const v = String(form.get(key) || "").trim();
    if (v) params.set(key, v);
  }
  let answer;
  try { answer = await api("v1/builds?" + params); } catch (e) { showError("Builds: " + e.message); return; }
  const list = $("#builds-list");
  const fragment = document.createDocumentFragment();
  if (!answer.projects.length) fragment.append(el("p", { class: "hint", text: "No Copr builds since " + shortTime(answer.since) + "." }));
  for (const p of answer.projects) {
    const fails = el("div", { class: "fails" }, el("span", { class: "muted", text: p.ended + " chroot builds ended; failures per chroot:" }));
    const failing = Object.entries(p.failures);
    if (!failing.length) fails.append(el("span", { text: "none" }));
    for (const [chroot, n] of failing) fails.append(el("span", { class: "badge s-failed", text: chroot + ": " + n }));
    const head = el("tr", {}, el("th", { text: "Build" }), ...p.chroots.map((c) => el("th", { text: c })));
    const rows = p.builds.map((b) => el("tr", {},
      el("td", {}, el("b", { text: "#" + b.build_id }), " ", el("span", { class: "muted", text: (b.package || "") + (b.submitter ? " by " + b.submitter : "") })),
      ...p.chroots.map((c) => {
        const cell = b.chroots[c];
        if (!cell) return el("td", { class: "muted", text: "·" });
        return el("td", {}, el("button", { type: "button", class: "badge cell s-" + cell.status, text: cell.status,
          title: c + " — " + cell.time, onclick: () => openDetail(cell.seq) }));
      })));
    fragment.append(el("article", { class: "project" },
      el("h3", { text: p.owner + "/" + p.project }),
      fails,
      el("div", { class: "scroll" }, el("table", { class: "matrix" }, el("thead", {}, head), el("tbody", {}, ...rows)))));
  }
  list.replaceChildren(fragment);
}

// Trends: two hand-drawn SVG charts.
const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function chart(target, buckets, value, max, kind, label) {
  // Drawn at the container's width, so text and dots keep their shape.
  const W = Math.max(320, Math.round(target.clientWidth || 800)), H = 180, L = 36, B = 22, T = 8;
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  const n = Math.max(1, buckets.length);
  const step = (W - L) / n;
  const y = (v) => H - B - (max ? (v / max) * (H - B - T) : 0);
  root.append(svg("line", { class: "axis", x1: L, y1: H - B, x2: W, y2: H - B }));
  root.append(svg("text", { x: 2, y: T + 8 }, document.createTextNode(kind === "rate" ? Math.round(max * 100) + "%" : String(max))));
  root.append(svg("text", { x: 2, y: H - B }, document.createTextNode("0")));
  const labelEvery = Math.ceil(n / 8);
  const points = [];
  buckets.forEach((b, i) => {
    const v = value(b);
    const x = L + i * step;
    if (kind === "rate") {
      if (b.finished) points.push(`${x + step / 2},${y(v)}`);
    } else {
      const rect = svg("rect", { class: "bar-ev", x: x + 1, y: y(v), width: Math.max(1, step - 2), height: H - B - y(v) });
      rect.append(svg("title", {}, document.createTextNode(`${shortTime(b.start)}: ${v} events, ${b.failed} failed`)));
      root.append(rect);
      if (b.failed) root.append(svg("rect", { class: "bar-fail", x: x + 1, y: y(b.failed), width: Math.max(1, step - 2), height: H - B - y(b.failed) }));
    }
    if (i % labelEvery === 0) {
      const d = new Date(b.start);
      const text = buckets.length > 30 || (buckets[n - 1] && new Date(buckets[n - 1].start) - new Date(buckets[0].start) > 86400000 * 2)
        ? d.toLocaleDateString() : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      root.append(svg("text", { x: x + 1, y: H - 6 }, document.createTextNode(text)));
    }
  });
  if (kind === "rate" && points.length) {
    root.append(svg("polyline", { class: "line", points: points.join(" ") }));
    for (const p of points) { const [cx, cy] = p.split(","); root.append(svg("circle", { cx, cy, r: 3, class: "bar-fail" })); }
  }
  target.replaceChildren(root);
}

async function loadTrends() {
  const form = new FormData($("#trends-form"));
  const since = String(form.get("custom") || "").trim() || String(form.get("since"));
  let stats;
  try { stats = await api("v1/stats?since=" + encodeURIComponent(since)); } catch (e) { showError("Trends: " + e.message); return; }
  const card = (n, what) => el("div", { class: "card" }, el("b", { text: n }), el("span", { text: what }));
  $("#trends-cards").replaceChildren(
    card(stats.total, "events"),
    card(stats.finished, "finished operations"),
    card(stats.failed, "failed"),
    card((stats.failure_rate * 100).toFixed(1) + " %", "failure rate"),
    card(stats.bucket_seconds === 3600 ? "1 h" : "1 day", "bucket"));
  state.stats = stats;
  const maxEvents = Math.max(1, ...stats.buckets.map((b) => b.events));
  chart($("#chart-events"), stats.buckets, (b) => b.events, maxEvents, "count", "Events per bucket");
  const rate = (b) => (b.finished ? b.failed / b.finished : 0);
  chart($("#chart-failures"), stats.buckets, rate, Math.max(0.01, ...stats.buckets.map(rate)), "rate", "Failure rate per bucket");
}

async function runSearch(event) {
  if (event) event.preventDefault();
  const form = new FormData($("#search-form"));
  const params = new URLSearchParams();
  for (const key of ["filters", "sort", "limit", "since", "after", "before"]) {
    const v = String(form.get(key) || "").trim();
    if (v) params.set(key, v);
  }
  let rows;
  try { rows = await api("v1/events?" + params); } catch (e) {
    $("#search-summary").textContent = "Error: " + e.message;
    return;
  }
  $("#search-table tbody").replaceChildren(...rows.map((r) => eventRow(r, true)));
  $("#search-summary").textContent = rows.length + " events match.";
}

// ---------------------------------------------------------------- detail

let lastFocus = null;
async function openDetail(seq) {
  if (seq === undefined || seq === null) return;
  let detail;
  try { detail = await api("v1/detail/" + encodeURIComponent(seq)); } catch (e) { showError("Event " + seq + ": " + e.message); return; }
  lastFocus = document.activeElement;
  const r = detail.record;
  $("#detail-title").textContent = r.type + " #" + r.seq;
  $("#detail-summary").replaceChildren(badge(r.status), " ", r.summary);
  const kv = (obj) => Object.entries(obj).map(([k, v]) => el("tr", {}, el("td", { text: k }),
    el("td", { text: typeof v === "string" ? v : JSON.stringify(v) })));
  $("#detail-record tbody").replaceChildren(...kv(r));
  $("#detail-headers tbody").replaceChildren(...kv(detail.headers));
  let body = detail.body;
  try { body = JSON.stringify(JSON.parse(body), null, 2); } catch { /* shown as stored */ }
  $("#detail-body").textContent = body;
  $("#detail").hidden = false;
  $(".detail-box").focus();
  history.replaceState(null, "", "#event-" + seq);
}

function closeDetail() {
  $("#detail").hidden = true;
  history.replaceState(null, "", "#" + state.view);
  if (lastFocus) lastFocus.focus();
}

// ---------------------------------------------------------------- start

function route() {
  const hash = location.hash.slice(1);
  const m = /^event-(\d+)$/.exec(hash);
  if (m) { openDetail(m[1]); return; }
  show(hash || "live");
}

document.addEventListener("DOMContentLoaded", () => {
  $("#live-form").addEventListener("submit", (e) => { e.preventDefault(); $("#live-table tbody").replaceChildren(); state.received = 0; connectLive(); });
  $("#live-pause").addEventListener("click", (e) => {
    state.paused = !state.paused;
    e.target.setAttribute("aria-pressed", String(state.paused));
    e.target.textContent = state.paused ? "Resume" : "Pause";
    if (!state.paused && state.queue.length) state.frame = requestAnimationFrame(flushLive);
  });
  $("#repos-form").addEventListener("input", loadRepos);
  $("#repos-form").addEventListener("submit", (e) => { e.preventDefault(); loadRepos(); });
  $("#repos-refresh").addEventListener("click", loadRepos);
  $("#builds-form").addEventListener("submit", (e) => { e.preventDefault(); loadBuilds(); });
  $("#trends-form").addEventListener("submit", (e) => { e.preventDefault(); loadTrends(); });
  $("#search-form").addEventListener("submit", runSearch);
  $("#detail-close").addEventListener("click", closeDetail);
  $("#detail").addEventListener("click", (e) => { if (e.target.id === "detail") closeDetail(); });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && !$("#detail").hidden) closeDetail(); });
  $("#auth-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.token = $("#auth-token").value;
    sessionStorage.setItem("repobus-read-token", state.token);
    $("#auth").hidden = true;
    $("#error").hidden = true;
    connectLive();
    show(state.view);
  });
  window.addEventListener("hashchange", route);
  let resizing = 0;
  window.addEventListener("resize", () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (state.view === "trends" && state.stats) loadTrends(); }, 200);
  });
  connectLive();
  route();
});
