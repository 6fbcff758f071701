// Switchboard console: the only script. Counts SLA clocks down every second and refreshes
// live regions ([data-refresh]) every few seconds. Pages work without it.
(function () {
  "use strict";

  function fmt(seconds) {
    var sign = seconds < 0 ? "\u2212" : "";
    var s = Math.floor(Math.abs(seconds));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    var clock = two(h) + ":" + two(m) + ":" + two(sec);
    return sign + (d ? d + "d " : "") + clock;
  }

  function state(left, total) {
    if (left <= 0) return "breached";
    if (left < 300 || (total && left < total / 5)) return "critical";
    if (total && left < total / 2) return "warning";
    return "ok";
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll(".sla[data-deadline]").forEach(function (el) {
      var left = (Date.parse(el.dataset.deadline) - now) / 1000;
      var total = parseFloat(el.dataset.total) || 0;
      el.textContent = fmt(left);
      el.className = "sla " + state(left, total);
    });
  }

  function refresh(el) {
    var every = (parseFloat(el.dataset.every) || 5) * 1000;
    function again() {
      if (document.hidden) { setTimeout(again, every); return; }
      fetch(el.dataset.refresh, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (r.redirected || !r.ok) { throw new Error("refresh " + r.status); }
          return r.text();
        })
        .then(function (html) { el.innerHTML = html; el.dataset.updated = String(Date.now()); })
        .catch(function () { /* keep the last view; try again */ })
        .then(function () { setTimeout(again, every); });
    }
    setTimeout(again, every);
  }

  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 1000);
    document.querySelectorAll("[data-refresh]").forEach(refresh);
  });
})();
