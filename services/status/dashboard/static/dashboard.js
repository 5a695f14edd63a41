// SBT dashboard: apply a filter as soon as it is chosen, and refresh the page's live part when the status service
// has applied new events. No inline script anywhere: the pages are served under a CSP that forbids it.
// No framework: EventSource for the push, fetch for the fragment, and the server renders everything.
(function () {
  "use strict";
  // A filter applies as soon as it is chosen (without script, the form's Apply button does it).
  document.querySelectorAll("select[data-filter], input[data-filter]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // A decision's form shows the fields of the outcome chosen (a proven finding's category and level,
  // a lighter decree's reason); without script every field shows, and the service judges what is sent.
  document.querySelectorAll("[data-shown-when]").forEach(function (part) {
    var rule = part.getAttribute("data-shown-when").split("="), form = part.closest("form");
    function update() {
      var chosen = form.querySelector("[name='" + rule[0] + "']:checked");
      part.hidden = !chosen || chosen.value !== rule[1];
    }
    form.querySelectorAll("[name='" + rule[0] + "']").forEach(function (input) { input.addEventListener("change", update); });
    update();
  });

  var live = document.getElementById("live");
  var badge = document.getElementById("live-state");
  if (!live || !window.EventSource) { return; }
  // The badge's words come from the page (data-* attributes), in the page's language.
  function word(name) { return badge ? badge.getAttribute("data-" + name) : ""; }

  function positionOf(element) {
    var marked = element.querySelector("[data-position]");
    return marked ? Number(marked.getAttribute("data-position")) : -1;
  }

  function knownCases() {
    var seen = {};
    live.querySelectorAll("tr[data-case]").forEach(function (row) { seen[row.getAttribute("data-case")] = true; });
    return seen;
  }

  var pending = false, again = false;
  function refresh() {
    if (pending) { again = true; return; }
    pending = true;
    var before = knownCases();
    fetch(live.getAttribute("data-live-url"), { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (html) {
        live.innerHTML = html;
        live.querySelectorAll("tr[data-case]").forEach(function (row) {
          if (!before[row.getAttribute("data-case")]) { row.classList.add("fresh"); }
        });
        if (badge) { badge.textContent = word("updated") + " " + new Date().toLocaleTimeString(document.documentElement.lang); }
      })
      .catch(function (error) { if (badge) { badge.textContent = word("failed") + " (" + error.message + ")"; } })
      .finally(function () {
        pending = false;
        if (again) { again = false; refresh(); }
      });
  }

  var source = new EventSource("/dashboard/stream");
  source.addEventListener("open", function () {
    if (badge) { badge.classList.add("on"); badge.textContent = word("live"); }
  });
  source.addEventListener("position", function (message) {
    var position = JSON.parse(message.data).position;
    if (position !== positionOf(live)) { refresh(); }
  });
  source.addEventListener("error", function () {
    if (badge) { badge.classList.remove("on"); badge.textContent = word("reconnecting"); }
  });
})();
