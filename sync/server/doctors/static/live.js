// Relais doctors: while a session goes on, its measurements part (#measures, data-live="true") is fetched again
// from the server every 3 seconds (/sessions/{id}/live, the same HTML the page was drawn with) and swapped in
// without reloading the page. Without JavaScript the "Actualiser" link reloads the page instead.
// Served from 'self' under the page's Content-Security-Policy: no inline script, no other origin.
(function () {
  "use strict";
  var PERIOD_MS = 3000;

  function swap(box, html) {
    var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("measures");
    if (!fresh) { throw new Error("no measurements in the answer"); }
    box.innerHTML = fresh.innerHTML;
    box.setAttribute("data-live", fresh.getAttribute("data-live"));
  }

  function poll(box) {
    if (box.getAttribute("data-live") !== "true") { return; }
    // a redirect means the doctor was signed out: stop, rather than show the sign-in page inside this one
    fetch(box.getAttribute("data-live-url"), {credentials: "same-origin", cache: "no-store", redirect: "error"})
      .then(function (reply) {
        if (!reply.ok) { throw new Error("status " + reply.status); }
        return reply.text();
      })
      .then(function (html) {
        swap(box, html);
        box.classList.remove("live-failed");
        window.setTimeout(function () { poll(box); }, PERIOD_MS);
      })
      .catch(function () {
        box.classList.add("live-failed");
        window.setTimeout(function () { poll(box); }, PERIOD_MS * 3);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("measures");
    if (box) {
      box.classList.add("live-js");
      window.setTimeout(function () { poll(box); }, PERIOD_MS);
    }
  });
}());
