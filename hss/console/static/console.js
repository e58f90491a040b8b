// imscore console: the little the pages need beyond HTML. No framework, no build step.
"use strict";

// Forms with data-confirm ask before they submit.
document.addEventListener("submit", function (ev) {
  var msg = ev.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) { ev.preventDefault(); }
});

// An element with data-refresh="N" reloads the page every N seconds, but not while someone types in a
// field, nor within 15 s of a key press: someone moving through the page with the keyboard, or typing, is
// not thrown back to the top (WCAG 2.2.2, pause moving content). A button or link that merely kept the
// focus after a click does not stop it, or a pending operation's page would never show its outcome.
(function () {
  var el = document.querySelector("[data-refresh]");
  if (!el) { return; }
  var secs = parseInt(el.getAttribute("data-refresh"), 10) || 5;
  var lastKey = 0;
  document.addEventListener("keydown", function () { lastKey = Date.now(); });
  function typing() {
    var a = document.activeElement;
    if (!a) { return false; }
    var tag = a.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || a.isContentEditable) { return true; }
    if (tag !== "INPUT") { return false; }
    var t = (a.getAttribute("type") || "text").toLowerCase();
    return ["button", "submit", "reset", "checkbox", "radio", "hidden", "image"].indexOf(t) < 0;
  }
  setInterval(function () {
    if (typing() || Date.now() - lastKey < 15000) { return; }
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
