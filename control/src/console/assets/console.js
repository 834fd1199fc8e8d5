// The ferrovs console page: polls /api/status, renders it, and posts actions with the user's
// basic-auth credentials and CSRF token. No framework, no build step; DOM built with
// textContent only (nothing from the server is parsed as HTML).
"use strict";

const FWD = { dr: "Route", nat: "Masq", tun: "Tunnel", fullnat: "FullNat" };
const state = { auth: null, csrf: null, user: null, prev: null, prevAt: 0, timer: null };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k);
  return e;
}

function hostPort(addr, port) {
  return (addr.includes(":") ? "[" + addr + "]" : addr) + ":" + port;
}

function human(n) {
  const u = ["", "K", "M", "G", "T"];
  let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; }
  return (i ? n.toFixed(1) : String(Math.round(n))) + u[i];
}

function ago(s) {
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h";
  return Math.floor(s / 86400) + "d";
}

function say(ok, text) {
  const m = document.getElementById("msg");
  m.className = ok ? "ok" : "err";
  m.textContent = text;
}

async function post(action) {
  if (!state.auth) { say(false, "log in first"); return null; }
  let r;
  try {
    r = await fetch("/api/action", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "Authorization": state.auth,
        "X-CSRF-Token": state.csrf,
        "X-Requested-With": "ferrovs-console",
      },
      body: JSON.stringify(action),
    });
  } catch (e) { say(false, "the gateway did not answer: " + e); return null; }
  let o;
  try { o = await r.json(); } catch (e) { o = { ok: false, message: "HTTP " + r.status }; }
  say(o.ok, (o.ok ? "done: " : "refused: " + o.message + "\n") + (o.command || ""));
  refresh();
  return o;
}

function rsAction(kind, svc, d, extra) {
  return post(Object.assign({
    action: kind, protocol: svc.key.protocol, service: hostPort(svc.key.vip, svc.key.port),
    server: hostPort(d.address, d.port),
  }, extra || {}));
}

function health(d) {
  const h = d.health;
  if (!h) return el("td", { class: "unchecked", "data-label": "Health", text: "—" });
  const td = el("td", { class: h.state, "data-label": "Health", title: h.check || "" },
    h.state + (h.state === "unchecked" ? "" : " " + ago(h.for_s)));
  if (h.last_failure) td.append(el("div", { class: "muted", text: "last failure: " + h.last_failure }));
  return td;
}

function serverRow(svc, d) {
  const key = hostPort(svc.key.vip, svc.key.port);
  const c = d.state.counters;
  const w = el("input", { class: "w", type: "number", min: 0, max: 65535, value: d.weight, "aria-label": "weight" });
  return el("tr", { class: "rs", "data-service": svc.key.protocol + " " + key, "data-server": hostPort(d.address, d.port) },
    el("td", { class: "server", text: hostPort(d.address, d.port) }),
    el("td", { class: "fwd", "data-label": "Forward", text: FWD[d.forward] || d.forward }),
    el("td", { class: "num weight", "data-label": "Weight", text: String(d.weight) }),
    health(d),
    el("td", { class: "num active", "data-label": "Active", text: String(d.state.active_conns) }),
    el("td", { class: "num inactive", "data-label": "Inactive", text: String(d.state.inactive_conns) }),
    el("td", { class: "num wide", "data-label": "Conns", text: human(c.conns) }),
    el("td", { class: "num", "data-label": "Pkts in/out", text: human(c.inpkts) + " / " + human(c.outpkts) }),
    el("td", { class: "num wide", "data-label": "Bytes in/out", text: human(c.inbytes) + " / " + human(c.outbytes) }),
    el("td", { class: "num", "data-label": "conn/s, pkt/s, B/s", text: c.cps + " / " + human(c.inpps) + " / " + human(c.inbps) + "B" }),
    el("td", { class: "act" },
      w,
      el("button", { class: "set", type: "button", text: "Set", onclick: () => rsAction("weight", svc, d, { weight: w.value }) }),
      el("button", { class: "quiesce", type: "button", text: "Quiesce", onclick: () => rsAction("quiesce", svc, d) }),
      el("button", { class: "out", type: "button", text: "Take out", onclick: () => rsAction("out", svc, d) }),
      el("button", { class: "remove danger", type: "button", text: "Remove",
        onclick: () => confirm("Remove " + hostPort(d.address, d.port) + "?") && rsAction("remove_server", svc, d) })));
}

// The service's SYN proxy: its mode, for "auto" on how many workers it is engaged now and how
// often workers engaged it and let go; nothing from a gateway that does not report it.
function synProxy(svc) {
  const p = svc.syn_proxy;
  if (!p) return null;
  let text = "SYN proxy " + p.mode;
  if (p.mode === "auto") {
    text += ": engaged on " + p.engaged_workers + " of " + p.workers + " workers, switched on " +
      p.engaged_total + ", off " + p.released_total;
  }
  return el("span", { class: "badge syn-proxy" + (p.engaged_workers > 0 ? " engaged" : ""), text,
    title: "SYN cookies answer the service's SYNs on the engaged workers" });
}

function serviceCard(svc) {
  const key = hostPort(svc.key.vip, svc.key.port);
  const c = svc.counters;
  const modes = [...new Set(svc.real_servers.map((d) => FWD[d.forward] || d.forward))].join(", ");
  const form = el("form", { class: "inline act add-server" },
    el("input", { name: "server", placeholder: "ADDRESS:PORT", required: true }),
    el("input", { name: "weight", class: "w", value: "1", "aria-label": "weight" }),
    el("select", { name: "forward" }, ...Object.keys(FWD).map((f) => el("option", { value: f, text: FWD[f] }))),
    el("button", { type: "submit", text: "Add real server" }));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    post({ action: "add_server", protocol: svc.key.protocol, service: key, server: f.get("server"),
      weight: f.get("weight"), forward: f.get("forward") });
  });
  return el("div", { class: "card service", "data-service": svc.key.protocol + " " + key },
    el("h3", {},
      el("span", { class: "vip", text: svc.key.protocol.toUpperCase() + " " + key }),
      el("span", { class: "badge sched", text: svc.scheduler + (svc.sched_flags.length ? " (" + svc.sched_flags.join(",") + ")" : "") }),
      svc.persistence_s ? el("span", { class: "badge", text: "persistent " + svc.persistence_s + "s" }) : null,
      modes ? el("span", { class: "badge", text: modes }) : null,
      synProxy(svc),
      el("span", { class: "muted", text: human(c.conns) + " conns, " + c.cps + " conn/s, " + human(c.inpps) + " pkt/s in, " + human(c.inbps) + "B/s in" }),
      el("button", { class: "act remove-service danger", type: "button", text: "Remove service",
        onclick: () => confirm("Remove " + key + " and its real servers?") &&
          post({ action: "remove_service", protocol: svc.key.protocol, service: key }) })),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["Real server", "Forward", "Weight", "Health", "Active", "Inactive"].map((t) => el("th", { text: t })),
        el("th", { class: "wide", text: "Conns" }), el("th", { text: "Pkts in/out" }), el("th", { class: "wide", text: "Bytes in/out" }),
        el("th", { text: "conn/s / pkt/s / B/s" }), el("th", { class: "act", text: "Actions" }))),
      el("tbody", {}, ...svc.real_servers.map((d) => serverRow(svc, d))))),
    form);
}

function renderServices(st) {
  const list = document.getElementById("service-list");
  const busy = list.contains(document.activeElement) && document.activeElement.tagName !== "BUTTON";
  if (busy) return; // do not wipe what the operator is typing
  if (!st.listing) {
    list.replaceChildren(el("p", { class: "down", text: "listing failed: " + (st.listing_error || "?") }));
    return;
  }
  list.replaceChildren(...(st.listing.services.length ? st.listing.services.map(serviceCard)
    : [el("p", { class: "muted", text: "no virtual services" })]));
  const out = st.console.taken_out;
  document.getElementById("out-section").hidden = out.length === 0;
  document.getElementById("out-list").replaceChildren(...out.map((t) => {
    const svc = { key: t.service };
    return el("tr", { class: "taken-out" },
      el("td", { text: t.service.protocol.toUpperCase() + " " + hostPort(t.service.vip, t.service.port) }),
      el("td", { text: hostPort(t.server.address, t.server.port) }),
      el("td", { text: FWD[t.server.forward] || t.server.forward }),
      el("td", { class: "num", text: String(t.server.weight) }),
      el("td", {}, el("button", { class: "act back", type: "button", text: "Put back", onclick: () => rsAction("back", svc, t.server) })));
  }));
}

function renderHa(st) {
  const box = document.getElementById("ha");
  const parts = [];
  if (st.ha && !(st.ha.mode === "none" && st.ha.addresses.length === 0)) {
    parts.push(el("p", {}, "mode " + st.ha.mode + ", " + (st.ha.synced ? "in sync with the kernel" : "not in sync"),
      st.ha.problem ? el("span", { class: "down", text: " — " + st.ha.problem }) : null));
    parts.push(el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["Address", "Owner", "Since", "Via"].map((t) => el("th", { text: t })))),
      el("tbody", {}, ...st.ha.addresses.map((a) => el("tr", { class: "ha-address", "data-address": a.address },
        el("td", { text: a.address }), el("td", { class: a.owned ? "up" : "unchecked", text: a.owned ? "this gateway (master)" : "not owned (backup)" }),
        el("td", { text: ago(Math.max(0, st.ha.now_s - a.since_s)) }), el("td", { text: a.tap || "" })))))));
  } else {
    parts.push(el("p", { class: "muted", text: "no director HA on this gateway" }));
  }
  const sync = st.gateway.sync;
  const daemons = st.daemons || [];
  if (sync || daemons.length) {
    parts.push(el("p", { class: "sync-daemons" }, "session sync: " + daemons.map((d) => d.state + " (syncid " + d.syncid + ", " + d.mcast_interface +
      (d.port ? ", port " + d.port : "") + ")").join(", ") +
      (sync ? ", " + (sync.ready ? "initial resync complete" : "resync pending") : "")));
    if (sync) parts.push(el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["Peer", "State", "Sent", "Received", "In flight"].map((t) => el("th", { text: t })))),
      el("tbody", {}, ...sync.peers.map((p) => el("tr", { class: "sync-peer", "data-peer": p.address },
        el("td", { text: p.address }), el("td", { class: p.state === "up" ? "up" : "down", text: p.state }),
        el("td", { class: "num", text: human(p.sessions_sent) }), el("td", { class: "num", text: human(p.sessions_received) }),
        el("td", { class: "num", text: String(p.in_flight) })))))));
  } else {
    parts.push(el("p", { class: "muted", text: "no session sync" }));
  }
  box.replaceChildren(...parts);
  const an = document.getElementById("announce");
  const a = st.announce;
  if (!a) { an.replaceChildren(el("p", { class: "muted", text: "nothing announced (no [announce])" })); return; }
  an.replaceChildren(
    el("p", {}, "table " + a.table + (a.drained ? ", drained" : "") + ", BIRD " + (a.bird_up ? "up" : "down"),
      a.problem ? el("span", { class: "down", text: " — " + a.problem }) : null),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["VIP", "Announced", "Since", "Why"].map((t) => el("th", { text: t })))),
      el("tbody", {}, ...a.vips.map((v) => el("tr", {},
        el("td", { text: v.vip }), el("td", { class: v.announced ? "up" : "down", text: v.announced ? "yes" : "no" }),
        el("td", { text: ago(Math.max(0, a.now_s - v.since_s)) }), el("td", { text: v.why })))))));
}

function renderWorkers(st, dt) {
  const prev = state.prev ? state.prev.gateway.workers : [];
  document.getElementById("workers").replaceChildren(...st.gateway.workers.map((w, i) => {
    const p = prev[i];
    let load = "—", rx = "—", tx = "—";
    if (p && dt > 0) {
      const busy = w.busy_polls - p.busy_polls, idle = w.idle_polls - p.idle_polls;
      if (busy + idle > 0) load = Math.round((100 * busy) / (busy + idle)) + "%";
      rx = human((w.rx_packets - p.rx_packets) / dt);
      tx = human((w.tx_packets - p.tx_packets) / dt);
    }
    const drops = Object.entries(w.drops);
    return el("tr", {},
      el("td", { text: String(w.worker) }), el("td", { class: "num", text: load }),
      el("td", { class: "num", text: rx }), el("td", { class: "num", text: tx }),
      el("td", { class: "num", text: human(w.sessions) }), el("td", { class: "num", text: String(w.generation) }),
      el("td", { text: drops.length ? drops.map(([r, n]) => r + " " + human(n)).join(", ") : "none" }));
  }));
}

function render(st) {
  const g = st.gateway;
  const now = Date.now() / 1000;
  const dt = state.prevAt ? now - state.prevAt : 0;
  document.getElementById("summary").textContent =
    "ferrovs " + g.version + (g.dpdk_version ? " on " + g.dpdk_version : "") + " · up " + ago(g.uptime_s) +
    " · generation " + g.generation + " · last reload " + (g.last_reload_ok ? "ok" : "FAILED") +
    " (" + g.reloads_total + " reloads, " + g.reload_failures_total + " failed)";
  document.getElementById("login").hidden = !!state.auth || !st.console.actions;
  renderServices(st);
  renderHa(st);
  renderWorkers(st, dt);
  document.getElementById("updated").textContent = "Updated " + new Date().toLocaleTimeString() + ".";
  state.prev = st;
  state.prevAt = now;
}

async function refresh() {
  clearTimeout(state.timer);
  try {
    const r = await fetch("/api/status", { headers: { "X-Requested-With": "ferrovs-console" } });
    if (r.ok) render(await r.json());
    else document.getElementById("summary").textContent = "status: HTTP " + r.status;
  } catch (e) {
    document.getElementById("summary").textContent = "the gateway does not answer (" + e + ")";
  }
  state.timer = setTimeout(refresh, 2000);
}

async function login(ev) {
  ev.preventDefault();
  const user = document.getElementById("user").value;
  const auth = "Basic " + btoa(unescape(encodeURIComponent(user + ":" + document.getElementById("password").value)));
  const r = await fetch("/api/session", { headers: { "Authorization": auth, "X-Requested-With": "ferrovs-console" } });
  let o = {};
  try { o = await r.json(); } catch (e) { /* the status says enough */ }
  if (!r.ok) { say(false, "login failed: " + (o.message || "HTTP " + r.status)); return; }
  Object.assign(state, { auth, csrf: o.csrf, user: o.user });
  document.getElementById("password").value = "";
  document.getElementById("login").hidden = true;
  document.getElementById("whoami").hidden = false;
  document.getElementById("who").textContent = "logged in as " + o.user;
  document.body.classList.add("authed");
  say(true, "logged in as " + o.user);
}

function logout() {
  Object.assign(state, { auth: null, csrf: null, user: null });
  document.body.classList.remove("authed");
  document.getElementById("whoami").hidden = true;
  document.getElementById("login").hidden = false;
  say(true, "logged out");
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("login").addEventListener("submit", login);
  document.getElementById("logout").addEventListener("click", logout);
  const f = document.getElementById("add-service-form");
  f.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const d = new FormData(f);
    post({ action: "add_service", protocol: d.get("protocol"), service: d.get("service"),
      scheduler: d.get("scheduler"), persistence: d.get("persistence") });
  });
  refresh();
});
