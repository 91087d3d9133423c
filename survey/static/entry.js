// Keyboard-only entry of paper forms and interviews. Progressive enhancement: without this
// file the form is an ordinary form (radio buttons, Tab, arrow keys, the "Lưu phiếu" button).
(function () {
  var form = document.getElementById('entry-form');
  if (!form) return;
  var send = form.querySelector('button[type=submit]');
  function visibleItems() {
    return Array.prototype.filter.call(form.querySelectorAll('.entry-item'), function (el) { return !el.hidden; });
  }
  function focusItem(el) {
    var input = el.querySelector('input:checked') || el.querySelector('input,textarea');
    if (input) input.focus();
  }
  function moveOn(item) {
    var items = visibleItems();
    var i = items.indexOf(item);
    if (i >= 0 && i + 1 < items.length) focusItem(items[i + 1]); else if (send) send.focus();
  }
  function chosen(name) {
    var out = [];
    form.querySelectorAll('input[name="' + name + '"]:checked').forEach(function (i) { out.push(i.value); });
    return out;
  }
  // Conditional questions: shown only when the answer they depend on calls for them (the
  // server decides the same way, so a hidden item is never stored).
  function refresh() {
    form.querySelectorAll('[data-show-if]').forEach(function (el) {
      var codes = el.getAttribute('data-codes').split(',');
      var show = chosen(el.getAttribute('data-show-if')).some(function (v) { return codes.indexOf(v) >= 0; });
      el.hidden = !show;
      el.querySelectorAll('input,textarea').forEach(function (i) { i.disabled = !show; });
    });
  }
  form.addEventListener('keydown', function (ev) {
    if (ev.ctrlKey || ev.altKey || ev.metaKey) return;
    var t = ev.target;
    if (t.id === 'respondent_code') {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        var items = visibleItems();
        if (items.length) focusItem(items[0]);
      }
      return;
    }
    var item = t.closest ? t.closest('.entry-item') : null;
    if (!item) return;
    if (ev.key === 'Enter' && t.tagName === 'INPUT') {  // Enter moves on; only the button sends
      ev.preventDefault();
      moveOn(item);
      return;
    }
    if (!/^[0-9]$/.test(ev.key) || (t.type !== 'radio' && t.type !== 'checkbox')) return;
    var option = item.querySelector('input[value="' + ev.key + '"]');
    if (!option) return;
    ev.preventDefault();
    if (option.type === 'radio') {
      option.checked = true;
      refresh();
      moveOn(item);
    } else {
      option.checked = !option.checked;  // several answers: toggle, stay; Enter moves on
      option.focus();
    }
  });
  form.addEventListener('change', refresh);
  refresh();
})();
