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
    // no heading left standing over questions that all do not apply
    form.querySelectorAll('section.sec').forEach(function (sec) {
      sec.hidden = !sec.querySelector('.item:not([hidden])');
    });
    progress();
  }
  // "Đã trả lời 12/41 câu", counting only the questions that apply
  var bar = document.getElementById('progress');
  function progress() {
    if (!bar) return;
    var shown = form.querySelectorAll('section.sec:not([hidden]) .item:not([hidden])');
    var done = 0;
    shown.forEach(function (item) {
      var answered = item.querySelector('input:checked') ||
        Array.prototype.some.call(item.querySelectorAll('input[type=text],input[type=number],textarea'),
          function (i) { return i.value.trim() !== ''; });
      if (answered) done += 1;
    });
    bar.textContent = bar.getAttribute('data-template').replace('{a}', done).replace('{t}', shown.length);
    bar.hidden = false;
  }
  form.addEventListener('change', refresh);
  form.addEventListener('input', progress);
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
      history.replaceState(null, '', link.getAttribute('href'));
      item.scrollIntoView({block: 'start'});
      input.focus();
    });
    summary.focus();
  }
})();
