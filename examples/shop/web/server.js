// The front end: a page, and /api/* relayed to the API through its stable address (${api.url}).
const http = require("node:http");

const apiUrl = new URL(process.env.API_URL || "http://127.0.0.1:8000");
const page = `<!doctype html><meta charset="utf-8"><title>shop</title>
<h1>shop</h1><ul id="items"></ul>
<script>fetch("/api/items").then(r => r.json()).then(items => {
  document.getElementById("items").innerHTML = items.map(i => "<li>" + i.name + "</li>").join("");
});</script>`;

const server = http.createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end('{"status":"ok"}');
  }
  if (req.url.startsWith("/api/")) {
    const upstream = http.request(
      { host: apiUrl.hostname, port: apiUrl.port, path: req.url.slice(4), method: req.method, headers: req.headers },
      (up) => { res.writeHead(up.statusCode, up.headers); up.pipe(res); });
    upstream.on("error", (err) => { res.writeHead(502); res.end(String(err)); });
    return req.pipe(upstream);
  }
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(page);
});

server.listen(Number(process.env.PORT || 3000), process.env.HOST || "127.0.0.1", () => {
  console.log(`web listening on ${server.address().address}:${server.address().port}`);
});
