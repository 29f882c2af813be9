// Words and numbers as the pages show them.

// "1350.00" -> "1,350.00 USD", without turning money into a float.
export function money(amount, currency) {
  const [whole, cents = "00"] = String(amount).split(".");
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${cents.padEnd(2, "0")} ${currency}`;
}

// ["12A"] -> "12A"; ["12A", "12B", "12C"] -> "12A, 12B and 12C"
export function joinSeats(seats) {
  if (seats.length <= 1) return seats.join("");
  return `${seats.slice(0, -1).join(", ")} and ${seats[seats.length - 1]}`;
}

export function seatOrder(a, b) {
  return parseInt(a, 10) - parseInt(b, 10) || a.localeCompare(b);
}

// 125 -> "2:05"
export function minutesSeconds(totalSeconds) {
  const s = Math.max(0, Math.ceil(totalSeconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// ISO 8601 -> "09:00:01 UTC"
export function clockTime(iso) {
  if (!iso) return "";
  return `${new Date(iso).toISOString().slice(11, 19)} UTC`;
}

export function seconds(fromIso, toIso) {
  if (!fromIso || !toIso) return "";
  const ms = Date.parse(toIso) - Date.parse(fromIso);
  return ms < 1000 ? `${Math.max(0, ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "className") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}
