// The seat map: clicking seats takes a hold at once, a countdown shows how long it lasts, and the
// map is polled so that other travellers' holds and bookings show up.
//
// The user's picks are one hold per flight (a booking names one hold). Clicks change the wanted
// set at once; one loop at a time brings the hold in line with it (reconcile below).

import {api, clockSkew} from "./api.js";
import {Countdown} from "./countdown.js";
import {element, joinSeats, money, seatOrder} from "./format.js";

const page = document.getElementById("seat-page");
const flightId = Number(page.dataset.flightId);
const currency = page.dataset.currency;
const maxSeats = Number(page.dataset.maxSeats);
const POLL_MS = 3000;
// Which hold is this flight's picks, across reloads of the page.
const STORAGE_KEY = `saga-air:hold:${flightId}`;
const LETTERS = ["A", "B", "C", "D", "E", "F"];
const CABIN_NAMES = {first: "First", business: "Business", economy: "Economy"};

const mapBox = document.getElementById("seat-map");
const picksList = document.getElementById("picks");
const picksEmpty = document.getElementById("picks-empty");
const picksTotal = document.getElementById("picks-total");
const errorBox = document.getElementById("seat-error");
const statusBox = document.getElementById("seat-status");
const checkoutLink = document.getElementById("checkout");
const releaseButton = document.getElementById("release");
const EMPTY_HINT = picksEmpty.textContent;

const state = {
  seats: new Map(), // number -> seat as GET /flights/<id>/seats last said
  hold: null, // the hold that is the picks: {id, seats, expires_at, amount, currency}
  wanted: new Set(), // the picks as the user last chose them
  busy: false,
};
const buttons = new Map(); // number -> its button
let focusable = null; // the seat that Tab reaches (roving tabindex)

const countdown = new Countdown({
  box: document.getElementById("countdown"),
  time: document.getElementById("countdown-time"),
  announce: say,
  onExpire: expire,
});

// Messages -------------------------------------------------------------------------------------

function say(text) {
  statusBox.textContent = text;
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function taken(seats) {
  return `${joinSeats(seats)} ${seats.length === 1 ? "was" : "were"} just taken by someone else.`;
}

function refusal(response, seats) {
  const problem = response.body || {};
  switch (response.status) {
    case 401:
      return "You have been logged out. Log in again to pick seats.";
    case 400:
      return problem.type === "/problems/csrf-failed"
        ? "This page is out of date. Reload it to pick seats."
        : problem.detail || "The request was refused.";
    case 409:
      return problem.type === "/problems/sales-closed"
        ? "Sales for this flight have closed: it departs too soon to book."
        : taken(problem.seats || seats);
    case 422:
      return (problem.errors?.seats || [problem.detail]).join(" ");
    case 429:
      return `${problem.detail || "Too many holds."} You may have seats held on other flights.`;
    case 503:
      return "Seat holds are unavailable for a moment. Try again shortly.";
    default:
      return problem.detail || `The server answered ${response.status}.`;
  }
}

// The API ----------------------------------------------------------------------------------------

async function takeHold(seats) {
  const response = await api(`/api/v1/flights/${flightId}/holds`, {method: "POST", body: {seats}});
  if (response.status === 201) return {hold: response.body, skew: clockSkew(response.headers)};
  return {refused: response};
}

async function release(hold) {
  // 404: already gone; 409: a booking adopted it, so it is no longer the picks either way.
  await api(`/api/v1/holds/${hold.id}`, {method: "DELETE"});
}

async function loadMap() {
  const response = await api(`/api/v1/flights/${flightId}/seats`);
  if (!response.ok) throw new Error(response.body?.detail || "The seat map could not be loaded.");
  state.seats = new Map(response.body.seats.map((seat) => [seat.number, seat]));
}

// The hold, brought in line with the wanted picks -------------------------------------------------

function setHold(hold, skew = 0) {
  state.hold = hold;
  if (hold) {
    localStorage.setItem(STORAGE_KEY, hold.id);
    countdown.start(hold.expires_at, skew);
  } else {
    localStorage.removeItem(STORAGE_KEY);
    countdown.stop();
  }
}

function holdSeats() {
  return state.hold ? state.hold.seats : [];
}

function sameSet(a, b) {
  return a.length === b.size && a.every((seat) => b.has(seat));
}

// The holds API counts a user's own hold against a new one, so a hold cannot be re-taken with a
// seat more or less in one call. Added seats are therefore taken first on their own: that is the
// all-or-none test against everyone else, and while it runs the old hold still keeps the other
// picks. Only when it succeeds are both holds given back and the whole set taken as one hold.
async function changeTo(target) {
  const old = state.hold;
  const added = target.filter((seat) => !holdSeats().includes(seat));
  let probe = null;
  if (added.length) {
    const result = await takeHold(added);
    if (result.refused) return refused(result.refused, added);
    if (!old) return setHold(result.hold, result.skew);
    probe = result.hold;
  }
  await Promise.all([old && release(old), probe && release(probe)]);
  setHold(null);
  if (!target.length) return;
  const result = await takeHold(target);
  if (result.refused) return refused(result.refused, target);
  setHold(result.hold, result.skew);
}

// A 409 drops the seats others took from the picks and keeps the rest; anything else leaves the
// picks as they are held.
function refused(response, seats) {
  showError(refusal(response, seats));
  if (response.status === 409) {
    for (const seat of response.body?.seats || seats) state.wanted.delete(seat);
  } else {
    state.wanted = new Set(holdSeats());
  }
}

const MAX_PASSES = 20;

async function reconcile() {
  if (state.busy) return;
  state.busy = true;
  mapBox.setAttribute("aria-busy", "true");
  try {
    // Each pass aims at the picks as they are when it starts; clicks meanwhile make another pass,
    // and a refusal narrows the picks to what can be had, so the loop ends.
    for (let pass = 0; pass < MAX_PASSES && !sameSet(holdSeats(), state.wanted); pass++) {
      await changeTo([...state.wanted].sort(seatOrder));
      render();
    }
    if (state.hold) say(`Held for you: ${joinSeats(state.hold.seats)}.`);
  } catch (error) {
    showError(error.message);
  } finally {
    state.wanted = new Set(holdSeats());
    state.busy = false;
    mapBox.setAttribute("aria-busy", "false");
  }
  await refresh();
}

function expire() {
  state.wanted = new Set();
  showError("");
  say("Your seat hold ran out and the seats were released.");
  showNotice("Your seat hold ran out and the seats were released. Pick them again to continue.");
  reconcile();
}

function showNotice(text) {
  picksEmpty.textContent = text;
}

// Clicks ---------------------------------------------------------------------------------------------

function toggle(number) {
  const seat = state.seats.get(number);
  if (!seat) return;
  showError("");
  if (state.wanted.has(number)) {
    state.wanted.delete(number);
    say(`${number} removed.`);
  } else if (!["available", "yours"].includes(kindOf(seat))) {
    say(`${number} is ${wordsFor(seat)}.`);
    return;
  } else if (state.wanted.size >= maxSeats) {
    showError(`At most ${maxSeats} seats per booking.`);
    return;
  } else {
    state.wanted.add(number);
    showNotice(EMPTY_HINT);
    say(`Holding ${number}…`);
  }
  render();
  reconcile();
}

// Rendering ------------------------------------------------------------------------------------------

function kindOf(seat) {
  if (seat.status === "blocked") return "blocked";
  if (seat.status === "booked") return "booked";
  if (holdSeats().includes(seat.number)) return "yours";
  if (seat.status === "held") return "held";
  return "available";
}

function wordsFor(seat) {
  return {
    blocked: "not for sale",
    booked: "booked",
    yours: "held by you",
    held: seat.held_by_you ? "held by you in another booking" : "held by someone else",
    available: "available",
  }[kindOf(seat)];
}

const GLYPHS = {available: null, yours: "✓", held: "•", booked: "×", blocked: "–"};

function paintSeat(seat) {
  const button = buttons.get(seat.number);
  const kind = kindOf(seat);
  const wanted = state.wanted.has(seat.number);
  const changing = wanted !== (kind === "yours");
  button.className = `seat seat--${seat.cabin} seat--${kind}${changing ? " seat--changing" : ""}`;
  button.textContent = GLYPHS[kind] || seat.letter;
  const words = changing ? (wanted ? "being held for you" : "being released") : wordsFor(seat);
  button.setAttribute("aria-label", `${seat.number} ${seat.cabin}, ${words}, ${money(seat.price, currency)}`);
  button.setAttribute("aria-pressed", String(wanted));
  button.setAttribute("aria-disabled", String(kind !== "available" && kind !== "yours" && !wanted));
}

function buildMap() {
  mapBox.replaceChildren();
  const byCabin = new Map();
  for (const seat of state.seats.values()) {
    if (!byCabin.has(seat.cabin)) byCabin.set(seat.cabin, new Map());
    const rows = byCabin.get(seat.cabin);
    if (!rows.has(seat.row)) rows.set(seat.row, []);
    rows.get(seat.row).push(seat);
  }
  for (const [cabin, rows] of byCabin) {
    const numbers = [...rows.keys()];
    const first = rows.get(numbers[0])[0];
    const span = `rows ${numbers[0]}–${numbers[numbers.length - 1]}`;
    const section = element("section", {className: `cabin cabin--${cabin}`, "aria-label": `${CABIN_NAMES[cabin]}, ${span}`},
      element("h3", {className: "cabin__name"}, CABIN_NAMES[cabin],
        element("span", {className: "cabin__fare"}, ` ${span} · ${money(first.price, currency)}`)),
      letterRow());
    for (const [row, seats] of rows) {
      const line = element("div", {className: "seat-row", role: "group", "aria-label": `Row ${row}`},
        element("span", {className: "seat-row__number", "aria-hidden": "true"}, row));
      seats.sort((a, b) => a.letter.localeCompare(b.letter));
      for (const seat of seats) {
        if (seat.letter === "D") line.append(element("span", {className: "aisle", "aria-hidden": "true"}));
        const button = element("button", {type: "button", tabindex: "-1", "data-seat": seat.number});
        buttons.set(seat.number, button);
        line.append(button);
      }
      section.append(line);
    }
    mapBox.append(section);
  }
}

function letterRow() {
  const row = element("div", {className: "seat-row seat-row--letters", "aria-hidden": "true"}, element("span"));
  for (const letter of LETTERS) {
    if (letter === "D") row.append(element("span", {className: "aisle"}));
    row.append(element("span", {className: "seat-letter"}, letter));
  }
  return row;
}

function renderPanel() {
  const wanted = [...state.wanted].sort(seatOrder);
  picksList.replaceChildren(...wanted.map((number) => {
    const seat = state.seats.get(number);
    const held = holdSeats().includes(number);
    return element("li", {className: `pick${held ? "" : " pick--changing"}`},
      element("span", {className: "pick__seat"}, number),
      element("span", {className: "pick__cabin"}, seat ? CABIN_NAMES[seat.cabin] : ""),
      element("span", {className: "pick__price"}, seat ? money(seat.price, currency) : ""),
      element("button", {type: "button", className: "pick__remove button button--quiet", "data-seat": number,
        "aria-label": `Remove ${number}`}, "×"));
  }));
  picksEmpty.hidden = wanted.length > 0;
  const settled = state.hold && sameSet(state.hold.seats, state.wanted);
  picksTotal.hidden = !settled;
  if (settled) picksTotal.textContent = `Total ${money(state.hold.amount, state.hold.currency)}`;
  checkoutLink.hidden = !settled;
  if (settled) checkoutLink.href = `/checkout/${state.hold.id}`;
  releaseButton.hidden = wanted.length === 0;
}

function render() {
  if (!buttons.size && state.seats.size) buildMap();
  for (const seat of state.seats.values()) paintSeat(seat);
  if (!focusable || !buttons.has(focusable)) {
    focusable = [...state.seats.values()].find((seat) => kindOf(seat) === "available")?.number
      || state.seats.keys().next().value;
  }
  for (const [number, button] of buttons) button.tabIndex = number === focusable ? 0 : -1;
  renderPanel();
}

// Keyboard: arrow keys move between seats, as in a grid ------------------------------------------------

function neighbour(number, key) {
  const seat = state.seats.get(number);
  const index = LETTERS.indexOf(seat.letter);
  const moves = {
    ArrowLeft: [0, -1], ArrowRight: [0, 1], ArrowUp: [-1, 0], ArrowDown: [1, 0],
    Home: [0, -index], End: [0, LETTERS.length - 1 - index],
  };
  if (!moves[key]) return null;
  const [dr, dl] = moves[key];
  const target = `${seat.row + dr}${LETTERS[index + dl] ?? ""}`;
  return buttons.has(target) ? target : number;
}

mapBox.addEventListener("keydown", (event) => {
  const number = event.target.dataset?.seat;
  if (!number) return;
  const next = neighbour(number, event.key);
  if (next === null) return;
  event.preventDefault();
  focusable = next;
  render();
  buttons.get(next).focus();
});

mapBox.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-seat]");
  if (!button) return;
  focusable = button.dataset.seat;
  toggle(button.dataset.seat);
});

picksList.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-seat]");
  if (button) toggle(button.dataset.seat);
});

releaseButton.addEventListener("click", () => {
  state.wanted = new Set();
  showError("");
  say("Releasing your seats…");
  render();
  reconcile();
});

// Polling and start-up -----------------------------------------------------------------------------

async function refresh() {
  try {
    await loadMap();
  } catch (error) {
    return; // the next poll tries again; the map keeps its last state meanwhile
  }
  if (!state.busy && state.hold) await checkHoldStillOurs();
  render();
}

// The hold can end without this page knowing (another tab booked or released it, the sweep):
// the map no longer shows its seats as held by us, so ask what became of it.
async function checkHoldStillOurs() {
  const lost = state.hold.seats.some((number) => !state.seats.get(number)?.held_by_you);
  if (!lost) return;
  const response = await api(`/api/v1/holds/${state.hold.id}`);
  if (response.ok && response.body.status === "held") return;
  setHold(null);
  state.wanted = new Set();
  showNotice("Your seat hold has ended. Pick seats again to continue.");
}

async function restoreHold() {
  const id = localStorage.getItem(STORAGE_KEY);
  if (!id) return;
  const response = await api(`/api/v1/holds/${id}`);
  if (response.ok && response.body.status === "held" && response.body.flight_id === flightId) {
    setHold(response.body, clockSkew(response.headers));
    state.wanted = new Set(response.body.seats);
  } else {
    localStorage.removeItem(STORAGE_KEY);
  }
}

async function start() {
  try {
    await Promise.all([loadMap(), restoreHold()]);
  } catch (error) {
    mapBox.replaceChildren(element("p", {className: "alert alert--error", role: "alert"}, error.message));
    return;
  }
  render();
  mapBox.setAttribute("aria-busy", "false");
  setInterval(() => {
    if (!document.hidden && !state.busy) refresh();
  }, POLL_MS);
}

start();
