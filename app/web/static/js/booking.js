// A booking's page: follows the saga until it ends, polling as often as the API's Retry-After says.

import {api} from "./api.js";
import {element} from "./format.js";
import {outcome, renderSteps} from "./saga.js";

const page = document.getElementById("booking-page");
const {bookingId, seatsUrl} = page.dataset;
const url = `/api/v1/bookings/${bookingId}`;
const headline = document.getElementById("outcome-headline");
const detail = document.getElementById("outcome-detail");
const actions = document.getElementById("outcome-actions");
const outcomeBox = document.getElementById("outcome");
const steps = document.getElementById("steps");
const errorBox = document.getElementById("booking-error");
const note = document.getElementById("poll-note");

let etag = null;
let timer = null;
let failures = 0;

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function render(booking) {
  const said = outcome(booking);
  outcomeBox.className = `outcome card outcome--${said.tone}`;
  outcomeBox.dataset.status = booking.status;
  headline.textContent = said.headline;
  detail.textContent = said.detail;
  actions.replaceChildren();
  if (said.again) actions.append(element("a", {className: "button", href: seatsUrl}, "Pick seats again"));
  if (booking.status === "confirmed") {
    actions.append(element("button", {type: "button", className: "button button--danger", id: "cancel-booking"},
      "Cancel this booking"));
  }
  renderSteps(steps, booking);
}

// Seconds to wait before the next poll: the API's Retry-After while the saga runs, none once it ended.
function retryAfter(headers) {
  const value = headers.get("Retry-After");
  if (value === null) return null;
  const secondsToWait = Number(value);
  return Number.isFinite(secondsToWait) ? Math.max(0.25, secondsToWait) : 1;
}

async function poll() {
  timer = null;
  let response;
  try {
    response = await api(url, {headers: etag ? {"If-None-Match": etag} : {}});
  } catch (error) {
    failures += 1;
    note.textContent = "Lost the connection; trying again…";
    timer = setTimeout(poll, Math.min(30, 2 ** failures) * 1000);
    return;
  }
  failures = 0;
  if (response.status === 200) {
    etag = response.headers.get("ETag");
    render(response.body);
  } else if (response.status !== 304) {
    showError(response.body?.detail || `The server answered ${response.status}.`);
    if (response.status < 500) return;
  }
  const wait = retryAfter(response.headers);
  if (wait === null) {
    note.textContent = "";
    return;
  }
  note.textContent = "Updating live…";
  timer = setTimeout(poll, wait * 1000);
}

async function cancel(button) {
  if (!window.confirm("Cancel this booking? The payment is refunded and the miles are reversed.")) return;
  button.disabled = true;
  showError("");
  let response;
  try {
    response = await api(`${url}/cancel`, {method: "POST"});
  } catch (error) {
    response = {status: 0, body: {detail: "The server could not be reached; the booking was not cancelled."}};
  }
  if (response.status === 202) {
    etag = response.headers.get("ETag");
    render(response.body);
    if (!timer) timer = setTimeout(poll, 500);
    return;
  }
  button.disabled = false;
  showError(response.body?.detail || `The booking could not be cancelled (${response.status}).`);
}

actions.addEventListener("click", (event) => {
  if (event.target.id === "cancel-booking") cancel(event.target);
});

poll();
