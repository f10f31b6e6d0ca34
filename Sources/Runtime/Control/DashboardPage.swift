/// The dashboard served at `/` by the control server: one self-contained page (inline CSS and JS,
/// no external assets) that renders `GET /v1/status`, follows `GET /v1/events` (SSE events `status`
/// and `log`) and drives `POST /v1/services/NAME/{restart,stop,start}` with `X-Devhost-Request: 1`.
///
/// DOM contract relied on by Tests/Scripts/dashboard_check.py:
/// `[data-service=NAME]` per service, `[data-instance=LABEL]` per instance with a `[data-state]`
/// child holding the state text, `button[data-action][data-service]`, `pre[data-logs=NAME]`,
/// `[data-error=NAME]` (error text of the last action, empty when none), and
/// `document.body.dataset.ready == "1"` once the first status is rendered; `#faults` (hidden while no
/// fault is in force) with `[data-fault=ID]` per fault and `#faultclear`.
enum DashboardPage {
    static let html: String = #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>devhost</title>
        <style>
        :root{color-scheme:light dark;--bg:#f5f6f8;--fg:#1d2330;--muted:#667085;--card:#fff;--line:#e2e5ea;--log:#f0f2f5;--link:#2557d6;
          --ok:#11784f;--okbg:#dff4ea;--warn:#9a5800;--warnbg:#fff0d4;--bad:#bf2430;--badbg:#fde4e6;
          --off:#5f6673;--offbg:#eaecef;--btn:#fff;--btnh:#eef0f3}
        @media (prefers-color-scheme: dark){:root{--bg:#111418;--fg:#e4e7ec;--muted:#98a2b3;--card:#1a1e24;
          --line:#2c323b;--log:#0d1014;--link:#7fa9ff;--ok:#4ade80;--okbg:#113020;--warn:#fbbf24;--warnbg:#33270b;
          --bad:#f87171;--badbg:#3b1518;--off:#a0a7b3;--offbg:#272c34;--btn:#222831;--btnh:#2d343e}}
        *{box-sizing:border-box}
        body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
        pre,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12.5px}
        header{position:sticky;top:0;z-index:1;display:flex;flex-wrap:wrap;align-items:center;gap:6px 16px;
          padding:10px 20px;background:var(--card);border-bottom:1px solid var(--line)}
        h1{margin:0;font-size:18px;font-weight:600}
        .meta{display:flex;flex-wrap:wrap;gap:2px 14px;color:var(--muted);font-size:12.5px}
        .spacer{flex:1}
        .pill{display:inline-block;padding:1px 9px;border-radius:999px;font-size:12px;font-weight:600;white-space:nowrap}
        .ok{color:var(--ok);background:var(--okbg)}.warn{color:var(--warn);background:var(--warnbg)}
        .bad{color:var(--bad);background:var(--badbg)}.off{color:var(--off);background:var(--offbg)}
        #conn[hidden],#empty[hidden]{display:none}
        main{display:grid;gap:16px;max-width:1200px;margin:0 auto;padding:16px 20px}
        .card{background:var(--card);border:1px solid var(--line);border-radius:8px;overflow:hidden}
        .head{display:flex;flex-wrap:wrap;align-items:center;gap:6px 14px;padding:10px 14px;border-bottom:1px solid var(--line)}
        h2{margin:0;font-size:15px;font-weight:600}
        .routes a{color:var(--link);margin-right:10px;text-decoration:none}.routes a:hover{text-decoration:underline}
        .port,.remote{color:var(--muted);font-size:12.5px}.remote:empty{display:none}
        .lasterr{color:var(--bad);font-size:12px;white-space:pre-wrap}
        .probe{color:var(--muted);font-size:12px}
        .actions{display:flex;gap:6px;margin-left:auto}
        button{min-width:76px;padding:3px 10px;font:inherit;font-size:12.5px;color:var(--fg);background:var(--btn);
          border:1px solid var(--line);border-radius:6px;cursor:pointer}
        button:hover:not(:disabled){background:var(--btnh)}button:disabled{opacity:.6;cursor:progress}
        .err{padding:6px 14px;color:var(--bad);background:var(--badbg);font-size:12.5px;white-space:pre-wrap}.err:empty{display:none}
        table{width:100%;border-collapse:collapse}
        th,td{padding:5px 14px;text-align:left;white-space:nowrap;border-bottom:1px solid var(--line)}
        th{color:var(--muted);font-size:11px;font-weight:600;text-transform:uppercase;letter-spacing:.04em}
        td.state{width:45%;white-space:normal}td.state .pill{white-space:normal}
        td.num{font-variant-numeric:tabular-nums}
        td.none{color:var(--muted);text-align:center}
        pre.logs{min-height:3em;max-height:240px;margin:0;padding:8px 14px;overflow:auto;background:var(--log);white-space:pre-wrap;word-break:break-all}
        .logs .src{color:var(--muted)}
        pre.logs:empty::before{content:"no output yet";color:var(--muted)}
        #empty{padding:40px;color:var(--muted);text-align:center}
        #faults{display:flex;flex-wrap:wrap;align-items:center;gap:6px 14px;padding:8px 20px;color:var(--warn);background:var(--warnbg);
          border-bottom:1px solid var(--line);font-weight:600}#faults[hidden]{display:none}#faults .list{display:grid;gap:2px}
        </style>
        </head>
        <body>
        <header>
          <h1 id="title">devhost</h1>
          <div class="meta"><span id="dir" class="mono"></span><span id="info"></span></div>
          <span class="spacer"></span>
          <span id="conn" class="pill warn" hidden>disconnected — reconnecting…</span>
          <span id="overall" class="pill off">loading…</span>
        </header>
        <div id="faults" role="alert" hidden><div class="list" id="faultlist"></div><span class="spacer"></span>
          <button id="faultclear" type="button">Clear faults</button></div>
        <div id="empty">Waiting for status…</div>
        <main id="services"></main>
        <script>
        "use strict";
        const MAX_LINES = 200;
        const LABEL = {restart: "Restart", stop: "Stop", start: "Start"};
        const BUSY = {restart: "restarting…", stop: "stopping…", start: "starting…"};
        const cards = new Map();        // service name -> card parts
        const pendingLogs = new Map();  // log events for services not rendered yet
        const busy = {};                // service name -> running action
        let status = null;

        const $ = id => document.getElementById(id);
        function h(tag, attrs, ...kids) {
          const e = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) {
            if (v == null) continue;
            if (k === "text") e.textContent = v; else if (k === "class") e.className = v; else e.setAttribute(k, v);
          }
          for (const c of kids) if (c != null) e.append(c);   // strings become text nodes
          return e;
        }

        function fmtDur(s) {
          if (s == null || !isFinite(s)) return "—";
          s = Math.max(0, Math.floor(s));
          const d = Math.floor(s / 86400), hr = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
          const p = n => String(n).padStart(2, "0");
          if (d) return d + "d" + p(hr) + "h";
          if (hr) return hr + "h" + p(m) + "m";
          if (m) return m + "m" + p(sec) + "s";
          return sec + "s";
        }

        function kind(inst) {
          const st = String(inst.state || "").toLowerCase();
          if (st.startsWith("stopped")) return "off";
          if (inst.ok) return "ok";
          if (/^(failed|unhealthy|exited|crashed|error)/.test(st)) return "bad";
          if (/^(starting|waiting|restarting|pending)/.test(st) || inst.health === "pending") return "warn";
          return "bad";
        }

        function ensureCard(name) {
          let c = cards.get(name);
          if (c) return c;
          const routes = h("span", {class: "routes"}), port = h("span", {class: "port mono", title: "stable port"});
          const remote = h("span", {class: "remote mono", "data-remote": name, title: "forwarded from"});
          const actions = h("div", {class: "actions"}), btns = {};
          for (const a of ["restart", "stop", "start"]) {
            const b = h("button", {type: "button", "data-action": a, "data-service": name, text: LABEL[a]});
            b.addEventListener("click", () => act(name, a));
            btns[a] = b;
            actions.append(b);
          }
          const err = h("div", {class: "err", "data-error": name, role: "alert"});
          const tbody = h("tbody");
          const cols = ["Instance", "State", "Health", "PID", "Port", "Restarts", "Uptime"];
          const table = h("table", null, h("thead", null, h("tr", null, ...cols.map(t => h("th", {text: t})))), tbody);
          const pre = h("pre", {class: "logs", "data-logs": name});
          const root = h("section", {class: "card", "data-service": name},
            h("div", {class: "head"}, h("h2", {text: name}), remote, routes, port, actions), err, table, pre);
          c = {root, remote, routes, port, btns, err, tbody, pre, count: 0, queue: pendingLogs.get(name) || []};
          pendingLogs.delete(name);
          cards.set(name, c);
          if (c.queue.length) scheduleFlush();
          return c;
        }

        function row(inst, forward) {
          const k = kind(inst);
          const up = h("td", {class: "num", "data-uptime": "", text: fmtDur(inst.uptime_seconds)});
          if (inst.uptime_seconds != null && k !== "off") { up.dataset.base = inst.uptime_seconds; up.dataset.at = inst._at; }
          const num = v => h("td", {class: "num", text: v == null ? "—" : String(v)});
          return h("tr", {"data-instance": inst.label},
            h("td", {class: "mono", text: inst.label}),
            h("td", {class: "state"}, h("span", {class: "pill " + k, "data-state": k, text: String(inst.state ?? "")}),
              // A forward's last error stays after it recovers: it says why the tunnel went down.
              inst.last_error ? h("div", {class: "lasterr", "data-last-error": inst.label, text: inst.last_error}) : null),
            // A forward's passing check says what answered through the tunnel (`redis PONG`).
            h("td", {text: inst.health ?? "-"}, forward && inst.health_detail
              ? h("div", {class: "probe", "data-health-detail": inst.label, text: inst.health_detail}) : null), num(inst.pid), num(inst.port), num(inst.restarts), up);
        }

        function updateButtons(name) {
          const c = cards.get(name);
          if (!c) return;
          for (const [a, b] of Object.entries(c.btns)) {
            b.disabled = !!busy[name];
            b.textContent = busy[name] === a ? BUSY[a] : LABEL[a];
          }
        }

        function stamp(instances) {
          const now = performance.now();
          for (const i of instances || []) i._at = now;
        }

        function render(s) {
          status = s;
          const title = "devhost — " + (s.project || "?");
          document.title = title;
          $("title").textContent = title;
          $("dir").textContent = s.directory || "";
          const px = s.proxy, started = s.started_at ? new Date(s.started_at) : null;
          $("info").textContent = ["pid " + (s.pid ?? "—"), px ? "proxy " + px.bind + ":" + px.port + " · *." + px.domain : "no proxy",
            started && !isNaN(started) ? "since " + started.toLocaleTimeString() : null].filter(Boolean).join(" · ");
          const list = $("services"), seen = new Set();
          let bad = 0, idx = 0;
          for (const svc of s.services || []) {
            seen.add(svc.name);
            const c = ensureCard(svc.name);
            if (list.children[idx] !== c.root) list.insertBefore(c.root, list.children[idx] || null);
            idx++;
            c.routes.replaceChildren(...(svc.routes || []).map(u => h("a", {href: u, target: "_blank", rel: "noopener", text: u})));
            c.port.textContent = svc.port == null ? "" : "port " + svc.port;
            c.remote.textContent = svc.remote ? "→ " + svc.remote : "";
            const inst = svc.instances || [];
            c.tbody.replaceChildren(...(inst.length ? inst.map(i => row(i, !!svc.remote))
              : [h("tr", null, h("td", {class: "none", colspan: "7", text: "no instances"}))]));
            bad += inst.filter(i => !i.ok).length;
            updateButtons(svc.name);
          }
          for (const [name, c] of cards) if (!seen.has(name)) { c.root.remove(); cards.delete(name); }
          $("empty").hidden = seen.size > 0;
          $("empty").textContent = "No services.";
          const o = $("overall");
          if (bad === 0 && s.ok) { o.className = "pill ok"; o.textContent = "all ok"; }
          else if (!s.ready) { o.className = "pill warn"; o.textContent = "starting…" + (bad ? " · " + bad + " not ok" : ""); }
          else { o.className = "pill bad"; o.textContent = bad ? bad + " not ok" : "not ok"; }
          renderFaults(s.faults);
          document.body.dataset.ready = "1";
        }

        // Injected faults (`devhost fault`): a banner while any is in force, with a button that ends them all.
        function renderFaults(list) {
          const f = list || [];
          $("faults").hidden = f.length === 0;
          $("faultlist").replaceChildren(...f.map(x => h("span", {"data-fault": x.id,
            text: "Fault " + x.id + " on " + x.service + (x.path || "") + ": " + x.summary + " (" + fmtDur(x.expires_in_seconds) + " left)"})));
        }
        function loadFaults() {
          return fetch("/v1/faults").then(r => r.ok ? r.json() : null).then(b => { if (b) renderFaults(b.faults); }).catch(() => {});
        }
        $("faultclear").onclick = async () => {
          $("faultclear").disabled = true;
          try { await fetch("/v1/faults", {method: "DELETE", headers: {"X-Devhost-Request": "1"}}); } catch (x) {}
          await loadFaults();
          $("faultclear").disabled = false;
        };
        setInterval(loadFaults, 2000);

        function onStatus(s) { for (const svc of s.services || []) stamp(svc.instances); render(s); }

        setInterval(() => {
          const now = performance.now();
          for (const td of document.querySelectorAll("td[data-uptime][data-base]"))
            td.textContent = fmtDur(Number(td.dataset.base) + (now - Number(td.dataset.at)) / 1000);
        }, 1000);

        async function act(name, action) {
          if (busy[name]) return;
          busy[name] = action;
          cards.get(name).err.textContent = "";
          updateButtons(name);
          let msg = "";
          try {
            const r = await fetch("/v1/services/" + encodeURIComponent(name) + "/" + action,
              {method: "POST", headers: {"X-Devhost-Request": "1"}});
            const text = await r.text();
            let body = null;
            try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
            if (!r.ok) msg = (body && (body.error || body.message)) || text.trim() || "HTTP " + r.status;
            if (body && Array.isArray(body.instances) && status) {
              const svc = (status.services || []).find(x => x.name === name);
              if (svc) { stamp(body.instances); svc.instances = body.instances; render(status); }
            }
          } catch (e) {
            msg = action + " failed: " + e.message;
          }
          delete busy[name];
          const c = cards.get(name);
          if (c) { c.err.textContent = msg; updateButtons(name); }
        }

        let flushTimer = 0;
        function scheduleFlush() { if (!flushTimer) flushTimer = setTimeout(flushLogs, 50); }
        function flushLogs() {
          flushTimer = 0;
          for (const c of cards.values()) {
            if (!c.queue.length) continue;
            const pre = c.pre, atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 24;
            const frag = document.createDocumentFragment();
            for (const ev of c.queue.splice(0).slice(-MAX_LINES)) {
              const t = String(ev.time || ""), line = String(ev.line ?? "")
                .replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]/g, "").replace(/[\r\n]+/g, " ");
              frag.append(h("span", null, h("span", {class: "src", text: (t.length > 11 ? t.slice(11) : t) + " " + (ev.label || "") + "  "}), line + "\n"));
              c.count++;
            }
            pre.append(frag);
            for (; c.count > MAX_LINES && pre.firstChild; c.count--) pre.firstChild.remove();
            if (atBottom) pre.scrollTop = pre.scrollHeight;
          }
        }
        function onLog(ev) {
          const c = cards.get(ev.service);
          if (c) { c.queue.push(ev); scheduleFlush(); return; }
          const q = pendingLogs.get(ev.service) || [];
          q.push(ev);
          if (q.length > MAX_LINES) q.shift();
          pendingLogs.set(ev.service, q);
        }

        function parse(e) { try { return JSON.parse(e.data); } catch (x) { return null; } }
        let es = null;
        function connect() {
          es = new EventSource("/v1/events");
          es.onopen = () => {
            $("conn").hidden = true;
            // The server replays recent lines on every (re)connect: start the panes afresh.
            pendingLogs.clear();
            for (const c of cards.values()) { c.pre.replaceChildren(); c.count = 0; c.queue = []; }
          };
          es.onerror = () => {
            $("conn").hidden = false;
            if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);   // browser gave up: retry ourselves
          };
          es.addEventListener("status", e => { const s = parse(e); if (s) onStatus(s); });
          es.addEventListener("log", e => { const l = parse(e); if (l) onLog(l); });
        }
        connect();
        fetch("/v1/status").then(r => r.ok ? r.json() : null).then(s => { if (s && !status) onStatus(s); }).catch(() => {});
        </script>
        \#(DashboardRequests.section)
        </body>
        </html>
        """#
}
