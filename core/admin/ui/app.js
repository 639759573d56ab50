// wasmgate console: reads the admin API (same origin) and draws it.
// Hand-written, no framework and no build step (docs/rationale.md).
"use strict";

const REFRESH_MS = 3000;
const PAGE_SIZE = 50;

const state = {
  view: "overview",
  trafficRoute: "",        // "" charts all routes
  routes: [], routesPage: 0, routesGen: null, // routes are fetched again only when the generation changes
  refusals: null,
  traffic: null,
  token: sessionStorage.getItem("wasmgate-token") || "",
  timer: 0,
};

// h builds an element: h("td", {class: "num"}, "text", child...). Text is
// always set as text, never parsed as HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

class AuthError extends Error {}

async function api(path) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const resp = await fetch(path, { headers, cache: "no-store" });
  if (resp.status === 401) throw new AuthError((await resp.json().catch(() => ({}))).error || "token required");
  if (!resp.ok) throw new Error(path + ": " + ((await resp.json().catch(() => ({}))).error || resp.status));
  return resp.json();
}

// ---- formatting

function fmtNum(v, digits = 1) {
  if (v === undefined || v === null || Number.isNaN(v)) return "–";
  if (Math.abs(v) >= 1000) return (v / 1000).toFixed(1) + "k";
  return Number.isInteger(v) ? String(v) : v.toFixed(digits);
}
const fmtPct = (v) => (v * 100).toFixed(v > 0 && v < 0.01 ? 2 : 1) + "%";

function fmtDuration(ms) {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400); s %= 86400;
  const hh = Math.floor(s / 3600); s %= 3600;
  const mm = Math.floor(s / 60); s %= 60;
  if (d) return `${d}d ${hh}h`;
  if (hh) return `${hh}h ${mm}m`;
  if (mm) return `${mm}m ${s}s`;
  return `${s}s`;
}
const fmtTime = (iso) => new Date(iso).toLocaleTimeString();

function fmtBytes(n) {
  if (n === undefined || n === null) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 || n >= 100 ? Math.round(n) : n.toFixed(1)) + " " + units[i];
}

// ---- charts: an SVG polyline per series, scaled to the window's maximum

function chart(container, times, series, opts = {}) {
  // Drawn at the container's pixel width, so text and lines keep their size.
  const W = Math.max(240, container.clientWidth || 600), H = opts.height || 150, L = 46, R = 8, T = 8, B = 20;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("role", "img");
  const mk = (tag, attrs, text) => {
    const el = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    svg.append(el);
    return el;
  };
  const n = times.length;
  let max = 0;
  for (const s of series) for (const v of s.values) max = Math.max(max, v);
  if (opts.minMax) max = Math.max(max, opts.minMax);
  max = max > 0 ? max * 1.1 : 1;
  for (let i = 0; i <= 2; i++) {
    const y = T + (H - T - B) * i / 2;
    mk("line", { class: "grid", x1: L, x2: W - R, y1: y, y2: y });
    mk("text", { class: "axis", x: L - 5, y: y + 4, "text-anchor": "end" }, opts.fmt ? opts.fmt(max * (1 - i / 2)) : fmtNum(max * (1 - i / 2)));
  }
  if (n < 2) {
    mk("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, "collecting samples…");
  } else {
    const t0 = times[0], t1 = times[n - 1];
    const x = (t) => L + (W - L - R) * (t - t0) / Math.max(1, t1 - t0);
    const y = (v) => T + (H - T - B) * (1 - v / max);
    mk("text", { class: "axis", x: L, y: H - 5 }, new Date(t0 * 1000).toLocaleTimeString());
    mk("text", { class: "axis", x: W - R, y: H - 5, "text-anchor": "end" }, new Date(t1 * 1000).toLocaleTimeString());
    series.forEach((s, i) => {
      const pts = s.values.map((v, j) => `${x(times[j]).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
      if (i === 0 && opts.area) {
        mk("polygon", { class: "area", points: `${x(t0)},${y(0)} ${pts} ${x(t1)},${y(0)}` });
      }
      mk("polyline", { class: "s" + i, points: pts, "data-points": n });
    });
  }
  const legend = series.length > 1 ? h("div", { class: "legend" }, series.map((s, i) => h("span", { class: "k" + i }, s.name))) : null;
  container.replaceChildren(svg, legend || "");
}

// ---- overview

async function renderOverview() {
  const [st, tr, rf] = await Promise.all([api("../status"), api("../traffic").catch(() => null), api("../refusals").catch(() => null)]);
  const card = (label, value, small) => h("div", { class: "card" }, h("div", { class: "label" }, label), h("div", { class: "value" + (small ? " small" : "") }, value));
  const started = st.started_at ? Date.parse(st.started_at) : null;
  const listeners = Object.entries(st.listeners || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  $("ov-cards").replaceChildren(
    card("Version", st.version || "–"),
    card("Uptime", started ? fmtDuration(Date.now() - started) : "–"),
    card("Config generation", String(st.generation)),
    card("Config hash", h("span", { class: "mono", title: st.config_hash || "" }, (st.config_hash || "").slice(0, 12) || "–"), true),
    card("Routes", String(st.routes)),
    card("Upstreams", String(st.upstreams)),
    card("Config file", st.file || "(embedded)", true),
    card("Listeners", listeners || "–", true),
    rf ? h("a", { class: "card link", href: "#refusals" }, h("div", { class: "label" }, "Refused: auth / rate limit"),
      h("div", { class: "value", id: "ov-refused" }, `${rf.auth} / ${rf.rate_limit}`)) : null,
  );
  if (tr) chart($("ov-chart"), tr.total.time, [{ name: "req/s", values: tr.total.rps }], { area: true, height: 180 });
  else $("ov-chart").replaceChildren(h("p", { class: "muted" }, "No traffic history on this gateway."));
  const reloads = st.reloads || [];
  $("ov-reloads").replaceChildren(reloads.length === 0 ? h("p", { class: "muted" }, "none yet") :
    h("div", { class: "table-wrap" }, h("table", { id: "reloads-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "Result"), h("th", {}, "Serving"))),
      h("tbody", {}, reloads.map((r) => h("tr", {},
        h("td", { class: "mono nowrap" }, fmtTime(r.at)),
        h("td", {}, r.ok ? h("span", { class: "badge ok" }, "loaded") :
          [h("span", { class: "badge bad" }, "rejected"), h("pre", { class: "error" }, r.error)]),
        h("td", { class: "nowrap" }, "generation " + r.generation)))))));
  const certs = st.certificates || [];
  $("ov-certs-panel").hidden = certs.length === 0;
  $("ov-certs").replaceChildren(h("div", { class: "table-wrap" }, h("table", { id: "certs-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Names"), h("th", {}, "Issuer"), h("th", {}, "Expires"), h("th", {}, "Source"), h("th", {}, "Last error"))),
    h("tbody", {}, certs.map((c) => h("tr", {},
      h("td", { class: "mono" }, (c.names || []).join(", ")),
      h("td", {}, c.issuer || "–"),
      h("td", { class: "mono nowrap" }, c.not_after && !c.not_after.startsWith("0001") ? fmtTime(c.not_after) : "not obtained yet"),
      h("td", {}, c.managed ? "acme" : "file"),
      h("td", {}, c.last_error ? h("pre", { class: "error" }, c.last_error) : "–")))))));
}

// ---- routes

function matchText(r) {
  if (r.path) return r.path;
  if (r.prefix) return r.prefix + "*";
  if (r.regex) return "~ " + r.regex;
  return "/*";
}

function routeHaystack(r) {
  return [r.name, (r.hosts || []).join(" "), matchText(r), (r.methods || []).join(" "),
    (r.filters || []).join(" "), r.upstream || (r.respond ? "respond" : "aggregate")].join(" ").toLowerCase();
}

// loadRoutes fetches the route table when the config generation changed
// since the last fetch: with 1,000 routes it is the console's largest
// answer, and it only changes on a reload.
async function loadRoutes() {
  const st = await api("../status");
  if (st.generation === state.routesGen) return false;
  const routes = await api("../routes");
  for (const r of routes) r._hay = routeHaystack(r);
  state.routes = routes;
  state.routesGen = st.generation;
  return true;
}

function renderRoutes() {
  const q = $("routes-search").value.trim().toLowerCase();
  const terms = q.split(/\s+/).filter(Boolean);
  const rows = terms.length ? state.routes.filter((r) => terms.every((t) => r._hay.includes(t))) : state.routes;
  const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
  state.routesPage = Math.min(state.routesPage, pages - 1);
  const page = rows.slice(state.routesPage * PAGE_SIZE, (state.routesPage + 1) * PAGE_SIZE);
  $("routes-count").textContent = terms.length ? `${rows.length} of ${state.routes.length} routes` : `${rows.length} routes`;
  $("routes-page").textContent = `page ${state.routesPage + 1} of ${pages}`;
  $("routes-prev").disabled = state.routesPage === 0;
  $("routes-next").disabled = state.routesPage >= pages - 1;
  $("routes-pager").hidden = pages === 1;
  const chain = (fs) => !fs || fs.length === 0 ? h("span", { class: "muted" }, "none") :
    fs.flatMap((f, i) => [i ? h("span", { class: "arrow" }, "→") : null, h("span", { class: "chip" }, f)]);
  const target = (r) => r.upstream ? h("a", { href: "#upstreams", class: "mono" }, r.upstream) :
    h("span", { class: "muted" }, r.respond ? "static response" : "aggregate");
  $("routes-table").tBodies[0].replaceChildren(...page.map((r) => h("tr", { "data-route": r.name },
    h("td", {}, h("a", { href: "#traffic/" + encodeURIComponent(r.name) }, r.name)),
    h("td", { class: "mono" }, (r.methods || []).map((m) => h("span", { class: "method" }, m)),
      (r.hosts && r.hosts.length ? r.hosts.join(",") : ""), matchText(r)),
    h("td", {}, chain(r.filters)),
    h("td", {}, target(r)))));
  if (page.length === 0) $("routes-table").tBodies[0].replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "no route matches")));
}

// ---- upstreams

function targetState(t) {
  if (t.ejected) return h("span", { class: "badge bad", title: t.ejected_until ? "until " + fmtTime(t.ejected_until) : "" }, "ejected");
  if (!t.healthy) return h("span", { class: "badge bad", title: t.last_check_error || "" }, "unhealthy");
  if (t.slow_start_share > 0 && t.slow_start_share < 1) return h("span", { class: "badge warn" }, "warming " + Math.round(t.slow_start_share * 100) + "%");
  return h("span", { class: "badge ok" }, "healthy");
}

async function renderUpstreams() {
  const ups = await api("../upstreams");
  const stat = (label, v) => h("span", { class: "stat" }, label + " ", h("b", {}, String(v)));
  $("upstreams").replaceChildren(...(ups.length === 0 ? [h("p", { class: "muted" }, "No upstreams configured.")] : ups.map((u) => {
    const br = u.circuit_breaker;
    const brState = br ? h("span", { class: "badge " + (br.state === "open" ? "bad" : br.state === "half-open" ? "warn" : "ok") }, "breaker " + br.state) : null;
    const up = u.targets.filter((t) => t.available).length;
    return h("div", { class: "panel", "data-upstream": u.name },
      h("div", { class: "up-head" }, h("h2", {}, u.name),
        h("span", { class: "badge " + (up === 0 ? "bad" : up < u.targets.length ? "warn" : "ok") }, `${up}/${u.targets.length} available`),
        brState, stat("balancer", u.balancer), stat("in flight", u.in_flight), stat("retries", u.retries),
        br ? stat("breaker opens", br.opens) : null, br ? stat("overflows", br.overflows) : null),
      h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Target"), h("th", {}, "State"), h("th", { class: "num" }, "In flight"),
          h("th", { class: "num" }, "EWMA ms"), h("th", { class: "num hide-narrow" }, "Weight"), h("th", { class: "num" }, "Ejections"),
          h("th", { class: "num hide-narrow" }, "Requests"), h("th", { class: "num hide-narrow" }, "Failures"))),
        h("tbody", {}, u.targets.map((t) => h("tr", { "data-target": t.url },
          h("td", { class: "mono" }, t.url, t.last_check_error ? h("div", { class: "error" }, t.last_check_error) : null),
          h("td", {}, targetState(t)),
          h("td", { class: "num" }, t.in_flight), h("td", { class: "num" }, fmtNum(t.ewma_ms, 2)),
          h("td", { class: "num hide-narrow" }, t.weight), h("td", { class: "num" }, t.ejections),
          h("td", { class: "num hide-narrow" }, t.requests), h("td", { class: "num hide-narrow" }, t.failures)))))));
  })));
}

// ---- plugins

async function renderPlugins() {
  const plugins = await api("../plugins");
  const body = $("plugins-table").tBodies[0];
  if (plugins.length === 0) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No route runs a plugin.")));
    return;
  }
  const count = (v, bad) => h("td", { class: "num" }, v > 0 && bad ? h("span", { class: "badge " + bad }, String(v)) : String(v));
  body.replaceChildren(...plugins.map((p) => h("tr", { "data-plugin": p.name },
    h("td", {}, h("b", {}, p.name), " ", h("span", { class: "muted" }, p.kind)),
    h("td", {}, h("div", { class: "chips" }, (p.routes || []).map((r) => h("a", { class: "chip", href: "#traffic/" + encodeURIComponent(r) }, r)))),
    h("td", { class: "num", title: `${p.idle_instances} idle; ${p.instances_created} started since load` },
      `${p.instances} / ${p.max_instances}`),
    h("td", { class: "num" }, String(p.exchanges)),
    count(p.traps, "bad"), count(p.deadline_hits, "warn"),
    h("td", { class: "num hide-narrow" }, String(p.unavailable)),
    h("td", { class: "num hide-narrow" }, String(p.instances_discarded)),
    h("td", { class: "num nowrap", title: "limit per instance " + fmtBytes(p.memory_limit_bytes) }, fmtBytes(p.memory_bytes)))));
}

// ---- refusals

async function renderRefusals() {
  const rf = await api("../refusals");
  state.refusals = rf;
  const card = (label, value, cls) => h("div", { class: "card" + (value > 0 ? " " + cls : "") },
    h("div", { class: "label" }, label), h("div", { class: "value" }, String(value)));
  $("rf-cards").replaceChildren(card("Auth refusals", rf.auth, "bad"), card("Rate limited", rf.rate_limit, "warn"),
    card("Other refusals", rf.other, ""));
  renderRefusalsTable();
}

const kindBadge = { auth: "bad", rate_limit: "warn", other: "" };

function renderRefusalsTable() {
  const rf = state.refusals;
  if (!rf) return;
  const terms = $("refusals-search").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
  const rows = rf.refusals.filter((r) => terms.every((t) => `${r.route} ${r.filter} ${r.status} ${r.kind}`.toLowerCase().includes(t)));
  $("refusals-count").textContent = rows.length > PAGE_SIZE ? `busiest ${PAGE_SIZE} of ${rows.length}` : `${rows.length} shown`;
  const body = $("refusals-table").tBodies[0];
  if (rows.length === 0) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "muted" }, rf.refusals.length ? "no refusal matches" : "No request refused yet.")));
    return;
  }
  body.replaceChildren(...rows.slice(0, PAGE_SIZE).map((r) => h("tr", { "data-route": r.route, "data-filter": r.filter, "data-status": r.status },
    h("td", {}, h("a", { href: "#traffic/" + encodeURIComponent(r.route) }, r.route)),
    h("td", {}, h("span", { class: "chip" }, r.filter)),
    h("td", {}, h("span", { class: "badge " + kindBadge[r.kind] }, String(r.status))),
    h("td", { class: "num" }, String(r.total)),
    h("td", { class: "num" }, fmtNum(r.per_second)))));
}

// ---- traffic

async function renderTraffic() {
  const q = state.trafficRoute ? "?route=" + encodeURIComponent(state.trafficRoute) : "";
  let tr;
  try {
    tr = await api("../traffic" + q);
  } catch (e) {
    if (!state.trafficRoute || e instanceof AuthError) throw e;
    state.trafficRoute = ""; // the route went away in a reload
    tr = await api("../traffic");
  }
  state.traffic = tr;
  const s = tr.series || tr.total;
  $("tr-title").textContent = state.trafficRoute ? "Route " + state.trafficRoute : "All routes";
  chart($("tr-rps"), s.time, [{ name: "req/s", values: s.rps }], { area: true });
  chart($("tr-err"), s.time, [{ name: "5xx", values: s.error_rate }], { fmt: fmtPct, minMax: 0.01 });
  chart($("tr-lat"), s.time, [{ name: "p50", values: s.p50_ms }, { name: "p99", values: s.p99_ms }]);
  renderTrafficTable();
}

function renderTrafficTable() {
  const tr = state.traffic;
  if (!tr) return;
  const q = $("traffic-search").value.trim().toLowerCase();
  const rows = tr.routes.filter((r) => !q || r.name.toLowerCase().includes(q)).slice(0, PAGE_SIZE);
  const all = h("tr", { class: "clickable" + (state.trafficRoute === "" ? " selected" : ""), onclick: () => selectRoute("") },
    h("td", {}, h("b", {}, "All routes")), h("td", { class: "num" }, fmtNum(last(tr.total.rps))),
    h("td", { class: "num" }, fmtPct(last(tr.total.error_rate) || 0)), h("td", { class: "num" }, fmtNum(last(tr.total.p50_ms), 2)),
    h("td", { class: "num" }, fmtNum(last(tr.total.p99_ms), 2)));
  $("traffic-table").tBodies[0].replaceChildren(all, ...rows.map((r) => h("tr", {
    class: "clickable" + (state.trafficRoute === r.name ? " selected" : ""), "data-route": r.name, onclick: () => selectRoute(r.name),
  }, h("td", {}, r.name), h("td", { class: "num" }, fmtNum(r.rps)), h("td", { class: "num" }, fmtPct(r.error_rate)),
    h("td", { class: "num" }, fmtNum(r.p50_ms, 2)), h("td", { class: "num" }, fmtNum(r.p99_ms, 2)))));
}

const last = (a) => a && a.length ? a[a.length - 1] : undefined;

function selectRoute(name) {
  location.hash = name ? "#traffic/" + encodeURIComponent(name) : "#traffic";
}

// ---- the loop

const renderers = {
  overview: renderOverview,
  routes: async () => { if (await loadRoutes()) renderRoutes(); },
  upstreams: renderUpstreams,
  plugins: renderPlugins,
  refusals: renderRefusals,
  traffic: renderTraffic,
};

async function refresh() {
  clearTimeout(state.timer);
  const live = $("live");
  try {
    await renderers[state.view]();
    if (!$("hdr-version").textContent) {
      api("../status").then((st) => { $("hdr-version").textContent = st.version; }).catch(() => {});
    }
    $("token").hidden = true;
    $("fetch-error").hidden = true;
    live.className = "live ok";
    $("live-text").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    live.className = "live bad";
    if (e instanceof AuthError) {
      $("token").hidden = false;
      $("token-error").textContent = state.token ? e.message : "";
      $("live-text").textContent = "needs a token";
      return; // wait for one
    }
    $("fetch-error").textContent = "Cannot read the admin API: " + e.message;
    $("fetch-error").hidden = false;
    $("live-text").textContent = "disconnected";
  }
  state.timer = setTimeout(refresh, REFRESH_MS);
}

function route() {
  const [view, arg] = location.hash.slice(1).split("/");
  state.view = renderers[view] ? view : "overview";
  if (state.view === "traffic") state.trafficRoute = arg ? decodeURIComponent(arg) : "";
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.view === state.view);
  for (const v of document.querySelectorAll(".view")) v.hidden = v.id !== "view-" + state.view;
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  $("routes-search").addEventListener("input", () => { state.routesPage = 0; renderRoutes(); });
  $("routes-prev").addEventListener("click", () => { state.routesPage--; renderRoutes(); });
  $("routes-next").addEventListener("click", () => { state.routesPage++; renderRoutes(); });
  $("traffic-search").addEventListener("input", renderTrafficTable);
  $("refusals-search").addEventListener("input", renderRefusalsTable);
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("token-input").value.trim();
    sessionStorage.setItem("wasmgate-token", state.token);
    refresh();
  });
  window.addEventListener("hashchange", route);
  route();
});
