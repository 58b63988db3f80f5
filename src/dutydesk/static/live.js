// Live updates (see docs/web.md, "Live updates"): every element with data-live="/live…"
// opens one EventSource; on each "changed" event it fires "sse:changed" on that element, so an
// hx-trigger="sse:changed" re-fetches the page's own block. On "signedout" the stream stops and
// the page reloads (to the sign-in page). The browser reconnects by itself after a stream ends.
(function () {
  "use strict";

  function connect(el) {
    var source = new EventSource(el.getAttribute("data-live"));
    el.liveSource = source;
    source.addEventListener("changed", function (event) {
      el.setAttribute("data-live-last", event.data);
      el.dispatchEvent(new CustomEvent("sse:changed", { detail: { numbers: event.data.split(" ") } }));
    });
    source.addEventListener("signedout", function () {
      source.close();
      window.location.reload();
    });
  }

  function start() {
    var nodes = document.querySelectorAll("[data-live]");
    for (var i = 0; i < nodes.length; i += 1) {
      if (!nodes[i].liveSource) { connect(nodes[i]); }
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
  window.addEventListener("pagehide", function () {
    var nodes = document.querySelectorAll("[data-live]");
    for (var i = 0; i < nodes.length; i += 1) {
      if (nodes[i].liveSource) { nodes[i].liveSource.close(); }
    }
  });
})();
