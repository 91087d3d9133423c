// A background job's page (posters, frame imports): while the job runs, fetch the same page every
// 3 s and swap in its status block (progress, state, then the download link or the report).
// Without JavaScript the block has a plain "refresh" link instead; no <meta refresh>, which moves
// the page under a screen reader's feet.
(function () {
  "use strict";
  var box = document.getElementById("job-status");
  if (!box || !box.hasAttribute("data-poll") || !window.fetch || !window.DOMParser) return;
  var delay = 3000;
  function hideFallback() {
    box.querySelectorAll(".no-js").forEach(function (el) { el.hidden = true; });
  }
  function tick() {
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("job-status");
        if (!fresh) return;
        box.innerHTML = fresh.innerHTML;
        hideFallback();
        if (fresh.hasAttribute("data-poll")) setTimeout(tick, delay);
        else box.removeAttribute("data-poll");
      })
      .catch(function () { setTimeout(tick, delay * 3); });
  }
  hideFallback();
  setTimeout(tick, delay);
})();
