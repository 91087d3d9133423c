// Progressive enhancement only: the form works without this file.
(function () {
  var form = document.getElementById('survey-form');
  if (!form) return;
  var dependants = form.querySelectorAll('[data-show-if]');
  var send = form.querySelector('.send');
  function chosen(name) {
    var out = [];
    form.querySelectorAll('input[name="' + name + '"]:checked').forEach(function (i) { out.push(i.value); });
    return out;
  }
  // Show exactly the follow-up questions the current answers call for. Also run when the
  // browser restores a page (Back, a discarded tab): restored answers fire no 'change'.
  function refresh() {
    dependants.forEach(function (el) {
      var codes = el.getAttribute('data-codes').split(',');
      var show = chosen(el.getAttribute('data-show-if')).some(function (v) { return codes.indexOf(v) >= 0; });
      el.hidden = !show;
      el.querySelectorAll('input,textarea').forEach(function (i) { i.disabled = !show; });
      var note = el.querySelector('.cond'); if (note) note.hidden = true;
    });
  }
  form.addEventListener('change', refresh);
  refresh();
  window.addEventListener('pageshow', function () {
    refresh();
    if (send) send.disabled = false;  // a page restored after sending keeps its disabled button
  });
  form.addEventListener('submit', function () {
    setTimeout(function () { if (send) send.disabled = true; }, 0);
  });
  // An error-summary link takes focus to the first answer of its question, not to its legend.
  var summary = document.getElementById('error-summary');
  if (summary) {
    summary.addEventListener('click', function (e) {
      var link = e.target.closest('a[href^="#"]');
      if (!link) return;
      var item = document.getElementById('item-' + link.getAttribute('href').slice(1));
      var input = item && item.querySelector('input:not([type=hidden]):not(:disabled),textarea,select');
      if (!input) return;
      e.preventDefault();
      item.scrollIntoView({block: 'start'});
      input.focus();
    });
    summary.focus();
  }
})();
