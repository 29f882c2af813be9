// Checkout: passenger names and a card, posted as a booking of the hold; then on to its progress.

import {api, clockSkew} from "./api.js";
import {Countdown} from "./countdown.js";

const page = document.getElementById("checkout-page");
const form = document.getElementById("checkout-form");
const formError = document.getElementById("form-error");
const payButton = document.getElementById("pay");
const {holdId, flightId, expiresAt, idempotencyKey, seatsUrl} = page.dataset;

function input(name) {
  return document.getElementById(`field-${name}`);
}

function setFieldError(name, messages) {
  const field = input(name);
  if (!field) return false;
  const box = document.getElementById(`field-${name}-error`);
  box.textContent = messages.join(" ");
  field.closest(".field").classList.toggle("field--invalid", messages.length > 0);
  if (messages.length) field.setAttribute("aria-invalid", "true");
  else field.removeAttribute("aria-invalid");
  return true;
}

function clearErrors() {
  for (const field of form.querySelectorAll("input[id^='field-']")) setFieldError(field.name, []);
  formError.hidden = true;
  formError.replaceChildren();
}

function showFormError(text, link) {
  formError.replaceChildren(text);
  if (link) {
    formError.append(" ");
    const anchor = document.createElement("a");
    anchor.href = link.href;
    anchor.textContent = link.text;
    formError.append(anchor);
  }
  formError.hidden = false;
  formError.focus?.();
}

// The API's field names ("payment.card_number", "passengers.0.name") are the inputs' names; an
// error about the card as a whole ("payment") belongs next to its number.
function showApiErrors(errors) {
  let first = null;
  const unplaced = [];
  for (const [name, messages] of Object.entries(errors || {})) {
    const target = name === "payment" ? "payment.card_number" : name;
    if (setFieldError(target, messages)) first = first || input(target);
    else unplaced.push(...messages);
  }
  if (unplaced.length) showFormError(unplaced.join(" "));
  first?.focus();
}

function body() {
  const passengers = [...form.querySelectorAll("input[data-passenger]")].map((field) => ({name: field.value.trim()}));
  const number = input("payment.card_number").value.replace(/[\s-]/g, "");
  return {
    hold_id: holdId,
    passengers,
    payment: {
      card_number: number,
      exp_month: Number(input("payment.exp_month").value),
      exp_year: Number(input("payment.exp_year").value),
      cvc: input("payment.cvc").value.trim(),
    },
  };
}

// Only what the browser can tell for sure; the API has the last word on everything else.
function missingFields() {
  const errors = {};
  for (const field of form.querySelectorAll("input[required]")) {
    if (!field.value.trim()) errors[field.name] = ["Required."];
  }
  return errors;
}

const SEATS_LINK = {href: seatsUrl, text: "Pick seats again"};

function refusal(response) {
  const problem = response.body || {};
  switch (response.status) {
    case 422:
      if (problem.type === "/problems/idempotency-key-reused") {
        return showFormError("This checkout was already sent with other details. Reload the page to start again.");
      }
      return showApiErrors(problem.errors || {_: [problem.detail]});
    case 404:
    case 409:
      return showFormError(`${problem.detail || "This hold cannot be booked."}`, SEATS_LINK);
    case 401:
      return showFormError("You have been logged out. Log in again, then come back to your seats.");
    case 400:
      return showFormError(problem.type === "/problems/csrf-failed"
        ? "This page is out of date. Reload it and try again." : problem.detail);
    case 503:
      return showFormError("The payment service is unavailable for a moment. Try again shortly.");
    default:
      return showFormError(problem.detail || `The server answered ${response.status}.`);
  }
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const missing = missingFields();
  if (Object.keys(missing).length) return showApiErrors(missing);
  payButton.disabled = true;
  payButton.setAttribute("aria-busy", "true");
  let response;
  try {
    // The same key for every try from this page: a retry after a lost answer is the same booking.
    response = await api("/api/v1/bookings", {method: "POST", body: body(), headers: {"Idempotency-Key": idempotencyKey}});
  } catch (error) {
    response = {status: 0, body: {detail: "The server could not be reached. Check the connection and try again."}};
  }
  if (response.status === 202 || response.status === 200) {
    // The booking owns the hold now; the seat map must not offer to change it.
    localStorage.removeItem(`saga-air:hold:${flightId}`);
    window.location.assign(`/bookings/${response.body.id}`);
    return;
  }
  payButton.disabled = false;
  payButton.removeAttribute("aria-busy");
  refusal(response);
}

function expired() {
  payButton.disabled = true;
  showFormError("Your hold on these seats has ended, so they may have gone to someone else.", SEATS_LINK);
}

form.addEventListener("submit", submit);
payButton.disabled = false;
form.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-card]");
  if (!button) return;
  input("payment.card_number").value = button.dataset.card;
  if (!input("payment.cvc").value) input("payment.cvc").value = "123";
  document.getElementById("checkout-status").textContent = `Card number set to ${button.dataset.card}.`;
});

const countdown = new Countdown({
  box: document.getElementById("countdown"),
  time: document.getElementById("countdown-time"),
  announce: (text) => { document.getElementById("checkout-status").textContent = text; },
  onExpire: expired,
});

// The hold as the server has it now, and its clock for the countdown.
api(`/api/v1/holds/${holdId}`).then((response) => {
  if (response.ok && response.body.status === "held") countdown.start(response.body.expires_at, clockSkew(response.headers));
  else if (response.ok) expired();
}).catch(() => countdown.start(expiresAt, 0));
