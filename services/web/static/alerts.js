// Port security's alerts page: new alerts from both services as they happen (the front
// end merges their server-sent event streams); the browser reconnects by itself.
"use strict";
(function () {
  const live = document.getElementById("live");
  if (!live || !window.EventSource) return;
  const feed = new EventSource("/security/alerts/stream");
  feed.addEventListener("alert.raised", function (message) {
    const change = JSON.parse(message.data);
    live.querySelector("span").textContent =
      live.dataset.label + ": " + change.alert.summary;
    live.hidden = false;
  });
})();
