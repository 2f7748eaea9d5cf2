// phoneprov console: optional enhancements (every page works without them).
// 1. <time datetime> elements are shown in the browser's time zone.
// 2. An element with data-live="URL" is refreshed from URL every 2 s
//    (the device page's timeline and tasks), without reloading the page.
"use strict";
(function () {
  function localTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d.getTime()) && !t.dataset.local) {
        t.textContent = d.toLocaleString();
        t.title = t.getAttribute("datetime");
        t.dataset.local = "1";
      }
    });
  }
  function poll(el) {
    var url = el.getAttribute("data-live");
    var busy = false;
    // The part as the server last sent it (before times were localised):
    // it is replaced only when that changes, so keyboard focus, an open
    // <details> or a selection inside it survive the polls.
    var first = document.getElementById("live-inner");
    var last = first ? first.innerHTML : null;
    setInterval(function () {
      if (busy || document.hidden) return;
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (html !== null) {
            var doc = new DOMParser().parseFromString(html, "text/html");
            var inner = doc.getElementById("live-inner");
            var mine = document.getElementById("live-inner");
            if (inner && mine && inner.innerHTML !== last) {
              last = inner.innerHTML;
              mine.replaceWith(inner);
              localTimes(inner);
            }
          }
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, 2000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-live]").forEach(poll);
    localTimes(document);
  });
})();
