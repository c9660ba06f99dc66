// The play page: everything it shows comes from the JSON API (/api/games, /api/position,
// /api/models/{game}, /api/move). The game lives here, in the page: each request sends the
// moves so far, so the server keeps nothing and any replica can answer.
"use strict";

const $ = (id) => document.getElementById(id);
const NAMES = ["X", "O"];
const state = { games: {}, game: null, actions: [], seat: 0, position: null, busy: false,
                analysis: null, movers: [], generation: 0 };

// Each new game bumps state.generation. An answer that arrives after a newer game began
// (the seat changed while the model was thinking, or while the first game was loading)
// belongs to the old game and is dropped, never applied to the new one.
const current = (generation) => generation === state.generation;

async function api(method, path, body) {
  const response = await fetch(path, {
    method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = typeof data.detail === "string" ? data.detail
      : (data.detail || []).map((d) => `${d.loc.slice(1).join(".")}: ${d.msg}`).join("; ");
    throw new Error(detail || `${response.status} ${response.statusText}`);
  }
  return data;
}

function say(text) { $("message").textContent = text || ""; }

function actionAt(row, col) {
  return state.game.click === "column" ? col : row * state.game.cols + col;
}

function render() {
  const { game, position } = state;
  const board = $("board");
  board.innerHTML = "";
  board.style.gridTemplateColumns = `repeat(${game.cols}, auto)`;
  const shares = state.analysis ? state.analysis.visits : null;
  const last = state.actions.length ? state.actions[state.actions.length - 1] : null;
  position.rows.forEach((line, row) => {
    [...line].forEach((mark, col) => {
      const cell = document.createElement("div");
      const action = actionAt(row, col);
      cell.className = `cell ${game.id}`;
      cell.dataset.action = action;
      cell.dataset.row = row;
      cell.dataset.col = col;
      cell.setAttribute("role", "button");
      cell.setAttribute("aria-label", `row ${row + 1} column ${col + 1}: ${mark === "." ? "empty" : mark}`);
      if (mark !== ".") {
        const piece = document.createElement("div");
        piece.className = `piece ${mark}`;
        cell.appendChild(piece);
      }
      const heatRow = game.click === "column" ? 0 : row;  // columns: shown on the top row
      if (shares && row === heatRow && shares[action] > 0) {
        cell.style.boxShadow = `inset 0 0 0 40px rgba(37, 99, 235, ${0.15 + 0.6 * shares[action]})`;
        const share = document.createElement("span");
        share.className = "share";
        share.textContent = `${Math.round(100 * shares[action])}%`;
        cell.appendChild(share);
      }
      if (game.click === "cell" && action === last) cell.classList.add("last");
      cell.addEventListener("click", () => clicked(action));
      board.appendChild(cell);
    });
  });
  const list = $("move-list");
  list.innerHTML = "";
  state.actions.forEach((action, i) => {
    const item = document.createElement("li");
    item.textContent = `${NAMES[state.movers[i]]}: ${describe(action)}`;
    if (state.movers[i] !== state.seat) item.className = "model";
    list.appendChild(item);
  });
  const status = $("status");
  status.classList.toggle("over", position.terminal);
  if (position.terminal) {
    const winner = position.result.winner;
    const verdict = winner === null ? "Draw." : winner === state.seat ? "You win!" : "The model wins.";
    status.textContent = `Game over: ${position.result.text}. ${verdict}`;
  } else if (state.busy) {
    status.textContent = "The model is thinking...";
  } else {
    status.textContent = position.to_play === state.seat
      ? `Your move (${NAMES[state.seat]})` : "The model's move";
  }
  $("pass").hidden = !(game.pass_action !== null && !position.terminal
    && position.to_play === state.seat && position.legal_actions.includes(game.pass_action));
  $("undo").disabled = state.busy || !state.movers.includes(state.seat);
  const a = state.analysis;
  $("analysis").textContent = a
    ? `Model ${a.model.name}, ${a.simulations} simulations: value ${a.value >= 0 ? "+" : ""}${a.value.toFixed(3)} for itself; shading shows its search policy.`
    : "";
}

function describe(action) {
  const g = state.game;
  if (action === g.pass_action) return "pass";
  if (g.click === "column") return `column ${action + 1}`;
  return `row ${Math.floor(action / g.cols) + 1}, column ${(action % g.cols) + 1}`;
}

async function clicked(action) {
  const p = state.position;
  if (!p) return say("The new game is still loading.");
  if (state.busy) return say("Wait for the model's move.");
  if (p.terminal) return say("The game is over: start a new game or undo.");
  if (p.to_play !== state.seat) return say("It is not your move.");
  if (!p.legal_actions.includes(action)) return say(`Illegal move: ${describe(action)} is not allowed here.`);
  say("");
  await play(action, state.seat);
}

async function play(action, mover) {
  const generation = state.generation;
  const actions = [...state.actions, action];
  let position;
  try {
    position = await api("POST", "/api/position", { game: state.game.id, actions });
  } catch (err) {
    if (current(generation)) say(err.message);
    return;
  }
  if (!current(generation)) return;
  state.actions = actions;
  state.movers.push(mover);
  state.position = position;
  state.analysis = null;
  render();
  await modelTurn();
}

async function modelTurn() {
  if (state.position.terminal || state.position.to_play === state.seat) return;
  const generation = state.generation;
  state.busy = true;
  render();
  let answer;
  try {
    answer = await api("POST", "/api/move", {
      game: state.game.id, actions: state.actions, model: $("model").value,
      simulations: Number($("simulations").value),
    });
  } catch (err) {
    if (!current(generation)) return;
    say(`The model could not move: ${err.message}`);
    state.busy = false;
    return render();
  }
  if (!current(generation)) return;  // a new game began meanwhile: this answer is stale
  state.actions.push(answer.action);
  state.movers.push(state.position.to_play);
  state.position = answer.position;
  state.analysis = answer;
  state.busy = false;
  render();
  await modelTurn();  // Othello: the opponent may have to pass, and the model moves again
}

async function undo() {
  if (state.busy || !state.position) return;
  while (state.movers.length && state.movers[state.movers.length - 1] !== state.seat) {
    state.actions.pop(); state.movers.pop();
  }
  state.actions.pop(); state.movers.pop();
  state.analysis = null;
  const generation = state.generation;
  const position = await api("POST", "/api/position", { game: state.game.id, actions: state.actions });
  if (!current(generation)) return;
  state.position = position;
  say("");
  render();
}

async function loadModels(generation) {
  const listing = await api("GET", `/api/models/${state.game.id}`);
  if (!current(generation)) return;
  const select = $("model");
  select.innerHTML = "";  // filled at once, after the answer: no second listing interleaves
  const options = [["latest", `latest${listing.latest ? ` (v${listing.latest})` : " (none yet: search only)"}`]];
  if (listing.best) options.push(["best", `best (v${listing.best})`]);
  for (const info of [...listing.versions].reverse()) {
    options.push([String(info.version), `v${info.version} (step ${info.step})`]);
  }
  for (const [value, label] of options) select.add(new Option(label, value));
}

async function newGame() {
  const generation = ++state.generation;
  state.game = state.games[$("game").value];
  state.seat = Number($("seat").value);
  state.actions = []; state.movers = []; state.analysis = null; state.busy = false;
  state.position = null;  // until the new game's position arrives: clicks wait for it
  say("");
  let position;
  try {
    await loadModels(generation);
    position = await api("POST", "/api/position", { game: state.game.id, actions: [] });
  } catch (err) {
    if (current(generation)) say(err.message);
    return;
  }
  if (!current(generation)) return;
  state.position = position;
  render();
  await modelTurn();
}

async function start() {
  const games = await api("GET", "/api/games");
  for (const game of games) {
    state.games[game.id] = game;
    $("game").add(new Option(game.id, game.id));
  }
  const wanted = new URLSearchParams(location.search).get("game")
    || (games.find((g) => g.default) || games[0]).id;
  if (state.games[wanted]) $("game").value = wanted;
  $("new-game").addEventListener("click", newGame);
  $("game").addEventListener("change", newGame);
  $("seat").addEventListener("change", newGame);
  $("undo").addEventListener("click", undo);
  $("pass").addEventListener("click", () => clicked(state.game.pass_action));
  await newGame();
}

start().catch((err) => say(err.message));
