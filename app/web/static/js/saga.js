// A booking's saga in a traveller's words: its steps with their state, and how it ended.
// Step names are the saga's own (reserve_seat, cancel_payment, ...): one name per concept. Their
// labels and order come from the server (the Booking's steps, from the saga's own definition).

import {clockTime, element, joinSeats, money, seconds} from "./format.js";

export const TERMINAL = new Set(["confirmed", "failed", "needs_attention", "cancelled"]);

export const STATUS_WORDS = {
  pending: ["Starting", "busy"],
  running: ["In progress", "busy"],
  compensating: ["Undoing", "busy"],
  confirmed: ["Booked", "good"],
  failed: ["Not booked", "bad"],
  needs_attention: ["Needs attention", "warn"],
  cancelling: ["Cancelling", "busy"],
  cancelled: ["Cancelled", "muted"],
};

// [icon, words]; the icon is decoration, the words are what screen readers hear.
const STEP_STATES = {
  pending: ["○", "Waiting"],
  running: ["", "Running"],
  succeeded: ["✓", "Done"],
  failed: ["✕", "Failed"],
  skipped: ["–", "Skipped: nothing to do"],
  debt: ["!", "Could not finish: recorded for our team"],
};

const REASONS = {
  card_declined: ["payment declined", "Payment declined: nothing was charged and your seats were released."],
  insufficient_funds: ["payment declined", "Payment declined for insufficient funds: nothing was charged and your seats were released."],
  seat_unavailable: ["seat taken", "Seat no longer available: another traveller got it first. Nothing was charged and your other seats were released."],
  hold_expired: ["seat hold ran out", "Your seat hold ran out before the booking was finished. Nothing was charged; pick your seats again."],
  invalid_card: ["card refused", "The card was refused as invalid: nothing was charged and your seats were released."],
  payment_unavailable: ["payment service down", "The payment service did not answer, so the booking was stopped: nothing was charged and your seats were released. Try again in a few minutes."],
  loyalty_unavailable: ["miles service down", "The miles service did not answer, so the booking was stopped: nothing was charged and your seats were released. Try again in a few minutes."],
  internal_error: ["error on our side", "Something went wrong on our side, so the booking was stopped: nothing was charged and your seats were released."],
};

export function statusBadge(status) {
  const [label, tone] = STATUS_WORDS[status] || [status, "muted"];
  return element("span", {className: `badge badge--${tone}`, "data-status": status}, label);
}

const BRANDS = {visa: "Visa", mastercard: "Mastercard", amex: "American Express", discover: "Discover"};

function card(booking) {
  const {brand, last4} = booking.payment || {};
  return last4 ? `${BRANDS[brand] || "the card"} ending ${last4}` : "your card";
}

// {headline, detail, tone, again}: `again` when the traveller should pick seats anew.
export function outcome(booking) {
  const reason = booking.failure?.reason;
  const [reasonShort, reasonLong] = REASONS[reason] || REASONS.internal_error;
  const seats = joinSeats(booking.seats || []);
  const total = money(booking.amount, booking.currency);
  switch (booking.status) {
    case "confirmed":
      return {
        tone: "good",
        headline: `Booked: reference ${booking.ticket.reference}`,
        detail: `Seats ${seats}. ${total} charged to ${card(booking)}. ${booking.miles.toLocaleString("en-US")} miles added to your account.`,
      };
    case "failed":
      return {tone: "bad", headline: reasonLong, detail: "", again: true};
    case "cancelled":
      return {
        tone: "muted",
        headline: `Cancelled: refunded ${total} to ${card(booking)}`,
        detail: `The ${booking.miles.toLocaleString("en-US")} miles for this booking were reversed, and `
          + (booking.seats.length === 1 ? `seat ${seats} is` : `seats ${seats} are`) + " free for others.",
      };
    case "needs_attention":
      return {
        tone: "warn",
        headline: "We could not finish undoing everything; our team has been alerted.",
        detail: booking.ticket
          ? "Your booking is cancelled. Any refund or miles still owed will follow once this is resolved."
          : "Your booking did not go through. Anything still reserved on your card will be released once this is resolved.",
      };
    case "compensating":
      return {tone: "busy", headline: `Something went wrong (${reasonShort}): undoing the steps that ran…`, detail: ""};
    case "cancelling":
      return {tone: "busy", headline: "Cancelling: releasing the seats, refunding the payment and reversing the miles…", detail: ""};
    default: {
      const now = (booking.steps || []).find((step) => step.status === "running")
        || (booking.steps || []).find((step) => step.status === "pending");
      return {tone: "busy", headline: "Booking in progress…", detail: now ? `Now: ${now.label || now.name}.` : ""};
    }
  }
}

function stepMeta(step) {
  const parts = [STEP_STATES[step.status]?.[1] || step.status];
  if (step.attempts) parts.push(step.attempts === 1 ? "1 attempt" : `${step.attempts} attempts`);
  if (step.started_at) {
    const span = step.finished_at ? `${clockTime(step.started_at)} → ${clockTime(step.finished_at)}` : `since ${clockTime(step.started_at)}`;
    const took = seconds(step.started_at, step.finished_at);
    parts.push(took ? `${span} (${took})` : span);
  }
  return parts.join(" · ");
}

function stepItem(step, flowerTaskUrl) {
  const [icon] = STEP_STATES[step.status] || ["?"];
  const body = element("div", {className: "step__body"},
    element("p", {className: "step__title"}, step.label || step.name, " ",
      element("code", {className: "step__name"}, step.name)),
    element("p", {className: "step__meta"}, stepMeta(step)));
  if (step.error) {
    body.append(element("p", {className: "step__error"}, `${step.error.code}: ${step.error.message || ""}`));
  }
  if (flowerTaskUrl && step.task_id) {
    body.append(element("p", {className: "step__link"},
      element("a", {href: `${flowerTaskUrl}${encodeURIComponent(step.task_id)}`, target: "_blank", rel: "noopener"},
        "Task in Flower", element("span", {className: "visually-hidden"}, ` for ${step.name}`))));
  }
  const kind = step.follow_up ? `step--${step.kind} step--follow-up` : `step--${step.kind}`;
  return element("li", {className: `step step--${step.status} ${kind}`, "data-step": step.name, "data-status": step.status},
    element("span", {className: "step__icon", "aria-hidden": "true"}, icon), body);
}

// The actions in the saga's order (the follow-ups after the pivot under their own heading), then
// the compensations in the order they ran under theirs. `flowerTaskUrl` + a task id is its page.
export function renderSteps(list, booking, {flowerTaskUrl = ""} = {}) {
  const items = [];
  let undoing = false;
  let following = false;
  for (const step of booking.steps || []) {
    if (step.follow_up && step.kind === "action" && !following) {
      following = true;
      const title = booking.ticket ? "After the booking, retried until done" : "After the booking (not reached)";
      items.push(element("li", {className: "steps__divider"}, title));
    }
    if (step.kind === "compensation" && !undoing) {
      undoing = true;
      const title = booking.ticket ? "Cancellation, newest step first" : "Undoing, newest step first";
      items.push(element("li", {className: "steps__divider"}, title));
    }
    items.push(stepItem(step, flowerTaskUrl));
  }
  list.replaceChildren(...items);
}
