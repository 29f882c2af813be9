// My bookings: cancelling a confirmed booking, then following the cancellation on its page.

import {api} from "./api.js";

async function cancel(button) {
  if (!window.confirm(`Cancel ${button.dataset.what}? The payment is refunded and the miles are reversed.`)) return;
  const errorBox = button.closest(".booking-row").querySelector(".booking-row__error");
  button.disabled = true;
  errorBox.hidden = true;
  let response;
  try {
    response = await api(`/api/v1/bookings/${button.dataset.cancel}/cancel`, {method: "POST"});
  } catch (error) {
    response = {status: 0, body: {detail: "The server could not be reached; the booking was not cancelled."}};
  }
  if (response.status === 202) {
    window.location.assign(`/bookings/${button.dataset.cancel}`);
    return;
  }
  button.disabled = false;
  errorBox.textContent = response.body?.detail || `The booking could not be cancelled (${response.status}).`;
  errorBox.hidden = false;
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-cancel]");
  if (button) cancel(button);
});
for (const button of document.querySelectorAll("button[data-cancel]")) button.disabled = false;
