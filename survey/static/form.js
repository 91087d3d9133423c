// Progressive enhancement only: the form works without this file.
(function () {
  var form = document.getElementById('survey-form');
  if (!form) return;
  var dependants = form.querySelectorAll('[data-show-if]');
  function chosen(name) {
    var out = [];
    form.querySelectorAll('input[name="' + name + '"]:checked').forEach(function (i) { out.push(i.value); });
    return out;
  }
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
  form.addEventListener('submit', function () {
    var b = form.querySelector('.send');
    setTimeout(function () { b.disabled = true; }, 0);
  });
  var summary = document.getElementById('error-summary');
  if (summary) summary.focus();
})();
