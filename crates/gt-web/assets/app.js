// gt dashboard: keeps the page's live part current.
// Listens to /events (Server-Sent Events) and, on each new event, fetches the
// live part of this same page again (at most every 500 ms); pages that show
// something without events (an agent's screen) also refresh on a timer.
// Text only ever arrives as server-rendered, escaped HTML.
"use strict";
(function () {
  var main = document.getElementById("live");
  if (!main) return;
  var dot = document.getElementById("live-state");
  var after = main.getAttribute("data-after") || "0";
  var pending = false;
  var last = 0;
  var seen = 0;

  function refresh() {
    pending = false;
    last = Date.now();
    fetch(location.href, { headers: { "X-GT-Fragment": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html !== null) {
          main.innerHTML = html;
          document.body.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () { /* the next event or tick tries again */ });
  }

  function schedule() {
    if (pending) return;
    pending = true;
    setTimeout(refresh, Math.max(0, 500 - (Date.now() - last)));
  }

  var es = new EventSource("/events?after=" + encodeURIComponent(after));
  es.addEventListener("gt", function (m) {
    seen += 1;
    document.body.setAttribute("data-events", String(seen));
    schedule();
  });
  es.addEventListener("lagged", schedule);
  es.onopen = function () { if (dot) dot.className = "on"; };
  es.onerror = function () { if (dot) dot.className = "off"; };

  var every = Number(main.getAttribute("data-refresh") || "0");
  if (every > 0) setInterval(schedule, every);
})();
