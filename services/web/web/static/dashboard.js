// The dashboard: every number and chart comes from GET /api/dashboard/{game}, polled
// every POLL_MS and redrawn in place (Plotly.react), without reloading the page.
"use strict";

const POLL_MS = 5000;
const $ = (id) => document.getElementById(id);
const LAYOUT = { margin: { l: 55, r: 55, t: 10, b: 40 }, legend: { orientation: "h", y: -0.2 },
                 paper_bgcolor: "white", plot_bgcolor: "white", font: { size: 11 } };
const CONFIG = { displayModeBar: false, responsive: true };
let game = null;

async function getJson(path) {
  const response = await fetch(path);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
  return body;
}

function plot(id, traces, layout, empty) {
  const element = $(id);
  if (!traces.some((t) => (t.x || []).length)) {
    Plotly.purge(element);
    element.innerHTML = `<div class="empty">${empty}</div>`;
    return;
  }
  if (element.querySelector(".empty")) element.innerHTML = "";
  Plotly.react(element, traces, { ...LAYOUT, ...layout }, CONFIG);
}

function tile(label, value) {
  return `<div class="tile"><div class="label">${label}</div><div class="value">${value}</div></div>`;
}

const fmt = (x, digits = 0) => (x === null || x === undefined ? "-" : Number(x).toFixed(digits));
const when = (seconds) => new Date(seconds * 1000).toLocaleTimeString();

function render(data) {
  const training = data.training;
  const last = training[training.length - 1];
  const models = data.models;
  const modelRatings = data.strength.ratings.filter((r) => r.version !== null);
  const newestRating = modelRatings.sort((a, b) => a.version - b.version)[modelRatings.length - 1];
  $("tiles").innerHTML = [
    tile("training step", last ? last.step : "-"),
    tile("loss", last ? fmt(last.total_loss, 3) : "-"),
    tile("samples/s", last ? fmt(last.samples_per_s) : "-"),
    tile("self-play positions/s", fmt(data.selfplay.positions_per_s)),
    tile("live actors", `${data.selfplay.live_actors} / ${data.selfplay.actors.length}`),
    tile("replay positions", data.replay ? data.replay.positions : "-"),
    tile("ingest positions/s", data.replay ? fmt(data.replay.ingest_positions_per_s) : "-"),
    tile("latest / best", `v${models.latest ?? "-"} / v${models.best ?? "-"}`),
    tile("newest rating", newestRating ? `${fmt(newestRating.elo)} ± ${fmt(newestRating.interval)}` : "-"),
  ].join("");

  const steps = training.map((r) => r.step);
  plot("chart-loss", ["total_loss", "policy_loss", "value_loss"].map((key) => ({
    x: steps, y: training.map((r) => r[key]), name: key.replace("_loss", ""), mode: "lines",
  })), { xaxis: { title: "step" }, yaxis: { title: "loss" } }, "no training yet");
  plot("chart-throughput", [
    { x: steps, y: training.map((r) => r.samples_per_s), name: "samples/s", mode: "lines" },
    { x: steps, y: training.map((r) => r.learning_rate), name: "learning rate", mode: "lines",
      yaxis: "y2" },
  ], { xaxis: { title: "step" }, yaxis: { title: "samples/s" },
       yaxis2: { title: "learning rate", overlaying: "y", side: "right", exponentformat: "e" } },
  "no training yet");

  const actors = data.selfplay.actors;
  const colours = { live: "#15803d", stale: "#d97706", gone: "#9ca3af" };
  plot("chart-actors", [{
    type: "bar", x: actors.map((a) => a.actor_id), y: actors.map((a) => a.positions_per_s),
    marker: { color: actors.map((a) => colours[a.state]) },
    text: actors.map((a) => `v${a.model_version}, ${a.state}`), textposition: "auto",
  }], { yaxis: { title: "positions/s" } }, "no actor has reported yet");

  const promoted = new Set(data.strength.promotions.map((p) => p.version));
  const rated = modelRatings.filter((r) => r.step !== null).sort((a, b) => a.step - b.step);
  const anchors = data.strength.ratings.filter((r) => r.version === null);
  plot("chart-ratings", [
    { x: rated.map((r) => r.step), y: rated.map((r) => r.elo), name: "model versions",
      mode: "lines+markers", error_y: { type: "data", array: rated.map((r) => r.interval), visible: true },
      text: rated.map((r) => `v${r.version}`) },
    { x: rated.filter((r) => promoted.has(r.version)).map((r) => r.step),
      y: rated.filter((r) => promoted.has(r.version)).map((r) => r.elo), name: "promoted to best",
      mode: "markers", marker: { symbol: "star", size: 14, color: "#16a34a" } },
    ...anchors.map((a) => ({ x: rated.length ? [rated[0].step, rated[rated.length - 1].step] : [],
                             y: [a.elo, a.elo], name: a.player, mode: "lines",
                             line: { dash: "dot", width: 1 } })),
  ], { xaxis: { title: "step" }, yaxis: { title: "Elo (random = 0)" } },
  "no ratings yet: the arena records them as models are published");

  const byMode = {};
  for (const b of data.strength.benchmarks) (byMode[`${b.benchmark} (${b.mode})`] ||= []).push(b);
  plot("chart-benchmark", Object.entries(byMode).map(([name, rows]) => {
    rows.sort((a, b) => a.version - b.version);
    return { x: rows.map((b) => b.version), y: rows.map((b) => b.score), name, mode: "lines+markers" };
  }), { xaxis: { title: "version" }, yaxis: { title: "share of positions kept", range: [0, 1] } },
  "no benchmark figures yet");

  const times = training.map((r) => new Date(r.recorded_at * 1000));
  plot("chart-replay", [
    { x: times, y: training.map((r) => r.replay_positions), name: "positions held",
      mode: "lines" },
    { x: times, y: training.map((r) => r.ratio_wait_share), name: "trainer waiting for data",
      mode: "lines", yaxis: "y2" },
  ], { yaxis: { title: "positions" },
       yaxis2: { title: "share of time waiting", range: [0, 1], side: "right", overlaying: "y" } },
  "no training yet");

  $("actors").innerHTML = "<tr><th>actor</th><th class=num>model</th><th class=num>games</th>"
    + "<th class=num>positions/s</th><th>last heartbeat</th></tr>"
    + actors.map((a) => `<tr><td>${a.actor_id}</td><td class=num>v${a.model_version}</td>`
      + `<td class=num>${a.games}</td><td class=num>${fmt(a.positions_per_s)}</td>`
      + `<td class="state-${a.state}">${a.state} (${fmt(a.seconds_since)} s ago)</td></tr>`).join("");
  $("models").innerHTML = "<tr><th>version</th><th class=num>step</th><th>published</th>"
    + "<th class=num>size</th><th>sha256</th></tr>"
    + [...models.versions].reverse().map((m) => `<tr><td>v${m.version}`
      + (m.version === models.latest ? '<span class="badge">latest</span>' : "")
      + (m.version === models.best ? '<span class="badge best">best</span>' : "")
      + `</td><td class=num>${m.step}</td><td>${when(m.created_at)}</td>`
      + `<td class=num>${fmt((m.onnx_bytes + m.checkpoint_bytes) / 1e6, 2)} MB</td>`
      + `<td><code>${m.sha256.slice(0, 12)}</code></td></tr>`).join("");
  $("updated").textContent = `updated ${when(data.now)}`;
}

async function refresh() {
  try {
    render(await getJson(`/api/dashboard/${game}`));
    $("message").textContent = "";
  } catch (err) {
    $("message").textContent = `Could not update: ${err.message}`;
  }
}

async function start() {
  if (typeof Plotly === "undefined") {
    $("message").textContent = "The charting library did not load (/vendor/plotly.min.js).";
    return;
  }
  const games = await getJson("/api/games");
  for (const g of games) $("game").add(new Option(g.id, g.id));
  game = new URLSearchParams(location.search).get("game")
    || (games.find((g) => g.default) || games[0]).id;
  $("game").value = game;
  $("game").addEventListener("change", () => {
    game = $("game").value;
    history.replaceState(null, "", `?game=${game}`);
    refresh();
  });
  await refresh();
  setInterval(refresh, POLL_MS);
}

start().catch((err) => { $("message").textContent = err.message; });
