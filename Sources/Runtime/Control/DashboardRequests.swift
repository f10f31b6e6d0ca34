/// The dashboard's request inspector: a live list of the proxy's recent exchanges (polling
/// `GET /v1/requests?since=ID`, with the service, status class, path and text filters), a detail
/// view (headers, JSON and form bodies pretty-printed, timings), Replay (as recorded or edited:
/// `POST /v1/requests/ID/replay`), Copy as curl, and the session's masking switch.
///
/// DOM contract relied on by Tests/Scripts/dashboard_check.py (`--requests`):
/// `#rq-list tr[data-request=ID]` per exchange with `td[data-status]` and `td[data-target]`;
/// `#rq-detail[data-id]` once a detail is shown; `button[data-rq-action=replay]`;
/// `[data-replay-result]` (the last replay's outcome); `pre[data-curl]` (the curl command);
/// `pre[data-body=request]` and `pre[data-body=response]`.
enum DashboardRequests {
    static let section: String = #"""
        <style>
        #rq .head input,#rq .head select{font:inherit;font-size:12.5px;padding:2px 6px;color:var(--fg);background:var(--btn);border:1px solid var(--line);border-radius:6px}
        #rq-list tr{cursor:pointer}#rq-list tr:hover,#rq-list tr.sel{background:var(--btnh)}
        #rq-list td{font-size:12.5px}.s2{color:var(--ok)}.s3{color:var(--link)}.s4{color:var(--warn)}.s5,.s0{color:var(--bad)}
        #rq-wrap{max-height:320px;overflow:auto}
        #rq-detail{padding:10px 14px;border-top:1px solid var(--line)}#rq-detail[hidden]{display:none}
        #rq-detail h3{margin:10px 0 4px;font-size:13px}
        #rq-detail pre{margin:0;padding:6px 10px;max-height:260px;overflow:auto;background:var(--log);white-space:pre-wrap;word-break:break-all}
        #rq-detail textarea,#rq-detail input{width:100%;font-family:ui-monospace,monospace;font-size:12px;color:var(--fg);background:var(--btn);border:1px solid var(--line);border-radius:6px}
        #rq-edit[hidden]{display:none}
        </style>
        <main><section class="card" id="rq">
          <div class="head"><h2>Requests</h2>
            <select id="rq-service"><option value="">all services</option></select>
            <select id="rq-status"><option value="">any status</option><option>2xx</option><option>3xx</option><option>4xx</option><option>5xx</option></select>
            <input id="rq-path" placeholder="path prefix" size="12"><input id="rq-text" placeholder="search" size="14">
            <span id="rq-note" class="port"></span>
            <div class="actions"><button id="rq-mask" type="button">Show secrets</button></div>
          </div>
          <div id="rq-wrap"><table><thead><tr><th>#</th><th>time</th><th>method</th><th>host and target</th><th>status</th><th>total</th><th>instance</th></tr></thead>
            <tbody id="rq-list"></tbody></table></div>
          <div id="rq-detail" hidden></div>
        </section></main>
        <script>
        (() => {
        const $ = id => document.getElementById(id);
        const rows = new Map();
        let last = 0, gen = 0, masked = true, open = null, epoch = null;
        function el(tag, attrs, ...kids) {
          const e = document.createElement(tag);
          for (const [k, v] of Object.entries(attrs || {})) { if (k === "class") e.className = v; else if (k.startsWith("data-")) e.setAttribute(k, v); else e[k] = v; }
          for (const k of kids) e.append(k);
          return e;
        }
        function query(since) {
          const q = new URLSearchParams({since: String(since)});
          for (const [k, id] of [["service", "rq-service"], ["status", "rq-status"], ["path", "rq-path"], ["text", "rq-text"]]) if ($(id).value) q.set(k, $(id).value);
          return "/v1/requests?" + q;
        }
        function ms(v) { return v == null ? "…" : v < 10 ? v.toFixed(2) + " ms" : v.toFixed(0) + " ms"; }
        function row(r) {
          const tr = el("tr", {"data-request": String(r.id)},
            el("td", {class: "num"}, String(r.id)), el("td", {class: "mono"}, (r.time || "").slice(11, 23)), el("td", {}, r.method),
            el("td", {class: "mono", "data-target": r.target}, r.host + r.target),
            el("td", {class: "s" + String(r.status).charAt(0), "data-status": String(r.status)}, r.status ? String(r.status) : r.state.replace("_", " ")),
            el("td", {class: "num"}, ms(r.timings.total_ms)), el("td", {}, r.instance || (r.answered_by_devhost ? "devhost" : "")));
          tr.onclick = () => show(r.id);
          if (open === r.id) tr.classList.add("sel");
          return tr;
        }
        async function poll() {
          const mine = gen;
          // In-flight rows are asked for again until they end.
          let since = last;
          for (const [id, r] of rows) if (r.state === "in_flight" && id - 1 < since) since = id - 1;
          try {
            const res = await fetch(query(since));
            const body = await res.json();
            if (mine !== gen) return;
            if (!res.ok) { $("rq-note").textContent = body.error || ("HTTP " + res.status); return; }
            // Another inspector (the shared edge started again, its ids from 1): the list starts over.
            if (epoch !== null && body.epoch && body.epoch !== epoch) { epoch = body.epoch; reset(); return; }
            epoch = body.epoch || epoch;
            masked = body.masked;
            $("rq-mask").textContent = masked ? "Show secrets" : "Mask secrets";
            $("rq-note").textContent = "";
            for (const r of body.requests) {
              const old = rows.get(r.id);
              const tr = row(r);
              if (old) old.tr.replaceWith(tr); else $("rq-list").prepend(tr);
              rows.set(r.id, {state: r.state, tr});
              const sel = $("rq-service");
              if (![...sel.options].some(o => o.value === r.service)) sel.append(el("option", {value: r.service}, r.service));
            }
            last = Math.max(last, body.last_id || 0);
            while (rows.size > 500) { const first = rows.keys().next().value; rows.get(first).tr.remove(); rows.delete(first); }
          } catch (e) { $("rq-note").textContent = "not reachable"; }
        }
        function reset() { gen++; rows.clear(); last = 0; $("rq-list").replaceChildren(); poll(); }
        for (const id of ["rq-service", "rq-status"]) $(id).onchange = reset;
        for (const id of ["rq-path", "rq-text"]) $(id).oninput = reset;
        $("rq-mask").onclick = async () => {
          await fetch("/v1/requests/masking?masked=" + (masked ? "0" : "1"), {method: "POST", headers: {"X-Devhost-Request": "1"}});
          await poll();
          if (open != null) show(open);
        };
        function header(fields, name) { const f = fields.find(([k]) => k.toLowerCase() === name); return f ? f[1] : ""; }
        function pretty(part) {
          if (part.body_encoding === "base64") return "(" + part.body_size + " bytes, binary)";
          const type = header(part.headers, "content-type");
          let text = part.body;
          try {
            if (/json/.test(type) || /^\s*[\[{]/.test(text)) text = JSON.stringify(JSON.parse(text), null, 2);
            else if (/x-www-form-urlencoded/.test(type)) text = [...new URLSearchParams(text)].map(([k, v]) => k + " = " + v).join("\n");
          } catch (e) {}
          if (part.body_truncated) text += "\n… (" + part.body_size + " bytes in all; the first " + part.body.length + " kept)";
          return text;
        }
        function quote(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }
        function curl(d) {
          // The way the exchange came: an HTTPS one seen from the plain page goes to the HTTPS port (and back).
          const px = typeof status !== "undefined" && status ? status.proxy : null;
          const scheme = d.scheme || location.protocol.slice(0, -1);
          let port = location.port;
          if (px && scheme + ":" !== location.protocol) port = String((scheme === "https" ? px.https_port : px.port) || port);
          const url = scheme + "://" + d.host + (port ? ":" + port : "") + d.target;
          const skip = new Set(["host", "content-length", "connection", "transfer-encoding"]);
          let text = "curl" + (d.method === "GET" ? "" : " -X " + d.method) + " " + quote(url);
          for (const [k, v] of d.request.headers) if (!skip.has(k.toLowerCase())) text += " \\\n  -H " + quote(k + ": " + v);
          if (d.request.body_size > 0 && d.request.body_encoding === "utf8") text += " \\\n  --data-binary " + quote(d.request.body);
          return text;
        }
        function headers(fields) { return el("pre", {class: "mono"}, fields.map(([k, v]) => k + ": " + v).join("\n") || "(none)"); }
        async function show(id) {
          open = id;
          for (const [rid, r] of rows) r.tr.classList.toggle("sel", rid === id);
          const res = await fetch("/v1/requests/" + id);
          const d = await res.json();
          const box = $("rq-detail");
          box.hidden = false;
          if (!res.ok) { box.replaceChildren(el("div", {class: "err"}, d.error)); return; }
          box.setAttribute("data-id", String(id));
          const t = d.timings;
          const command = curl(d);
          const replay = el("button", {type: "button", "data-rq-action": "replay"}, "Replay");
          const edit = el("button", {type: "button", "data-rq-action": "edit"}, "Edit and replay");
          const copy = el("button", {type: "button", "data-rq-action": "curl"}, "Copy as curl");
          const result = el("span", {class: "port", "data-replay-result": ""});
          const form = el("div", {id: "rq-edit", hidden: true},
            el("h3", {}, "Method and target"), el("input", {id: "rq-e-line", value: d.method + " " + d.target}),
            el("h3", {}, "Headers"), el("textarea", {id: "rq-e-headers", rows: 6, value: d.request.headers.map(([k, v]) => k + ": " + v).join("\n")}),
            el("h3", {}, "Body"), el("textarea", {id: "rq-e-body", rows: 5, value: d.request.body_encoding === "utf8" ? d.request.body : ""}),
            el("button", {type: "button", "data-rq-action": "send"}, "Send"));
          async function send(edits) {
            result.textContent = "replaying…";
            const r = await fetch("/v1/requests/" + id + "/replay", {method: "POST", headers: {"X-Devhost-Request": "1", "Content-Type": "application/json"}, body: edits ? JSON.stringify(edits) : ""});
            const a = await r.json();
            result.textContent = r.ok ? "replayed as #" + (a.id ?? "?") + ": " + a.status : "replay failed: " + a.error;
            poll();
          }
          replay.onclick = () => send(null);
          edit.onclick = () => { form.hidden = !form.hidden; };
          form.querySelector("[data-rq-action=send]").onclick = () => {
            const [method, ...rest] = $("rq-e-line").value.trim().split(" ");
            const hs = $("rq-e-headers").value.split("\n").filter(l => l.includes(":")).map(l => [l.slice(0, l.indexOf(":")).trim(), l.slice(l.indexOf(":") + 1).trim()]);
            send({method, target: rest.join(" "), headers: hs, body: $("rq-e-body").value});
          };
          copy.onclick = async () => { try { await navigator.clipboard.writeText(command); result.textContent = "copied"; } catch (e) { result.textContent = "select the command below to copy it"; } };
          box.replaceChildren(
            el("div", {class: "head"}, el("h2", {}, "#" + d.id + " " + d.method + " " + d.host + d.target),
              el("span", {class: "pill " + (d.status >= 500 || !d.status ? "bad" : d.status >= 400 ? "warn" : "ok")}, d.status ? String(d.status) : d.state),
              el("span", {class: "port"}, "wait for upstream " + ms(t.upstream_wait_ms) + " · first byte " + ms(t.first_byte_ms) + " · total " + ms(t.total_ms) + (d.instance ? " · " + d.instance : "") + " · " + d.request_id),
              el("div", {class: "actions"}, replay, edit, copy)),
            result, form,
            el("h3", {}, "Request headers"), headers(d.request.headers),
            el("h3", {}, "Request body"), el("pre", {"data-body": "request"}, pretty(d.request)),
            el("h3", {}, "Response headers"), headers(d.response.headers),
            el("h3", {}, "Response body"), el("pre", {"data-body": "response"}, pretty(d.response)),
            ...((d.response.trailers || []).length ? [el("h3", {}, "Response trailers"), headers(d.response.trailers)] : []),
            el("h3", {}, "curl"), el("pre", {"data-curl": ""}, command));
        }
        poll();
        setInterval(poll, 1000);
        })();
        </script>
        """#
}
