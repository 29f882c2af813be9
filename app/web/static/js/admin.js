// Operators' view of the sagas: filter by status, read each step, open its task in Flower, and
// re-drive a saga that needs attention. Uses GET /api/v1/admin/sagas?status= and
// POST /api/v1/admin/sagas/<id>/retry (API.md "Admin").

import {api} from "./api.js";
import {clockTime, element, money} from "./format.js";
import {renderSteps, statusBadge} from "./saga.js";

const page = document.getElementById("admin-page");
const {flowerTaskUrl, status} = page.dataset;
const list = document.getElementById("sagas");
const count = document.getElementById("admin-count");
const errorBox = document.getElementById("admin-error");
const statusBox = document.getElementById("admin-status");

function showError(text) {
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function sagaItem(saga) {
  const steps = element("ol", {className: "steps steps--compact", role: "list"});
  renderSteps(steps, saga, {flowerTaskUrl});
  const item = element("li", {className: "saga card", "data-saga-id": saga.id, "data-status": saga.status},
    element("div", {className: "saga__head"},
      element("h2", {className: "saga__title"}, statusBadge(saga.status), " ", element("code", {}, saga.id)),
      element("p", {className: "muted"},
        `Flight ${saga.flight_id} · seats ${(saga.seats || []).join(", ")} · ${money(saga.amount, saga.currency)}`
        + ` · started ${clockTime(saga.created_at)}`
        + (saga.ticket ? ` · ticket ${saga.ticket.reference}` : ""))),
  );
  if (saga.failure) {
    item.append(element("p", {className: "saga__failure"},
      `Failed at ${saga.failure.step}: ${saga.failure.reason}`, saga.failure.detail ? ` (${saga.failure.detail})` : ""));
  }
  item.append(steps);
  if (saga.status === "needs_attention") {
    item.append(element("div", {className: "saga__actions"},
      element("button", {type: "button", className: "button button--primary", "data-retry": saga.id},
        "Retry", element("span", {className: "visually-hidden"}, ` saga ${saga.id}`)),
      element("p", {className: "saga__result", role: "status"})));
  }
  return item;
}

async function load() {
  const query = status ? `?status=${encodeURIComponent(status)}` : "";
  let response;
  try {
    response = await api(`/api/v1/admin/sagas${query}`);
  } catch (error) {
    count.textContent = "";
    return showError(error.message);
  }
  if (!response.ok) {
    count.textContent = "";
    return showError(response.status === 404
      ? "This server has no saga admin endpoints yet (GET /api/v1/admin/sagas)."
      : response.body?.detail || `The server answered ${response.status}.`);
  }
  showError("");
  // A list of Booking, bare or as a page of {items, ...}.
  const sagas = Array.isArray(response.body) ? response.body : response.body.items || [];
  count.textContent = sagas.length === 1 ? "1 saga" : `${sagas.length} sagas`;
  list.replaceChildren(...sagas.map(sagaItem));
}

async function retry(button) {
  const result = button.parentElement.querySelector(".saga__result");
  button.disabled = true;
  result.textContent = "Retrying…";
  let response;
  try {
    response = await api(`/api/v1/admin/sagas/${button.dataset.retry}/retry`, {method: "POST"});
  } catch (error) {
    response = {status: 0, body: {detail: error.message}};
  }
  if (response.status === 202) {
    result.textContent = "Retry started; the list refreshes in a moment.";
    statusBox.textContent = result.textContent;
    setTimeout(load, 1500);
    return;
  }
  button.disabled = false;
  result.textContent = response.body?.detail || (response.status === 409
    ? "Nothing to retry: the saga is not waiting on anything."
    : `The server answered ${response.status}.`);
}

list.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-retry]");
  if (button) retry(button);
});

load();
