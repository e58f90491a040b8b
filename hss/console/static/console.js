// imscore console: the little the pages need beyond HTML. No framework, no build step.
"use strict";

// Forms with data-confirm ask before they submit.
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) { ev.preventDefault(); }
});

// An element with data-refresh="N" reloads the page every N seconds, but never while a control has the
// focus: someone moving through the page with the keyboard, or typing, is not thrown back to the top
// (WCAG 2.2.2, pause moving content).
(function () {
  var el = document.querySelector("[data-refresh]");
  if (!el) { return; }
  var secs = parseInt(el.getAttribute("data-refresh"), 10) || 5;
  setInterval(function () {
    var a = document.activeElement;
    if (a && a !== document.body && a !== document.documentElement) { return; }
    window.location.reload();
  }, secs * 1000);
})();

// The iFC form: REGISTER kinds only apply to a REGISTER trigger.
(function () {
  var method = document.getElementById("method"), box = document.getElementById("regtypes");
  if (!method || !box) { return; }
  function sync() {
    var on = method.value === "REGISTER";
    box.disabled = !on;
    box.hidden = !on;
  }
  method.addEventListener("change", sync);
  sync();
})();

// The import's progress bar follows the import until it has finished.
(function () {
  var bar = document.getElementById("progress");
  if (!bar || bar.getAttribute("data-finished") === "true") { return; }
  var text = document.getElementById("progress-text");
  var id = bar.getAttribute("data-import");
  function poll() {
    fetch("/import/" + encodeURIComponent(id) + "?format=json", { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (d) {
        var j = d.Job;
        bar.max = j.lines; bar.value = j.done;
        text.textContent = j.done + " of " + j.lines + " lines · " + j.imported + " imported · " + j.failed + " failed";
        if (j.finished) { window.location.reload(); } else { setTimeout(poll, 500); }
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
