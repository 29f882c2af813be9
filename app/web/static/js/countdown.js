// A countdown to a hold's expires_at, on the server's clock (see clockSkew in api.js).

import {minutesSeconds} from "./format.js";

// Screen readers hear these moments once each instead of every tick.
const ANNOUNCE_AT = [60, 10];

export class Countdown {
  constructor({box, time, announce, onExpire}) {
    Object.assign(this, {box, time, announce, onExpire});
    this.timer = null;
  }

  start(expiresAt, skewMs) {
    this.stop();
    this.deadline = Date.parse(expiresAt) - skewMs;
    this.pending = ANNOUNCE_AT.filter((s) => s < this.left());
    this.box.hidden = false;
    this.tick();
    this.timer = setInterval(() => this.tick(), 250);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.box.hidden = true;
  }

  left() {
    return (this.deadline - Date.now()) / 1000;
  }

  tick() {
    const left = this.left();
    this.time.textContent = minutesSeconds(left);
    this.box.classList.toggle("countdown--low", left <= 60);
    while (this.pending.length && left <= this.pending[0]) {
      const mark = this.pending.shift();
      this.announce(mark >= 60 ? "One minute left on your seat hold." : `${mark} seconds left on your seat hold.`);
    }
    if (left <= 0) {
      this.stop();
      this.onExpire();
    }
  }
}
