/* The price calculator, live: as the number or the text changes, ask the
   dashboard's quote endpoint (session auth, JSON) and fill the result. The
   form still works without JavaScript: submitting it renders the same result. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("quote-form");
    if (!form) return;
    var url = form.getAttribute("data-quote-url");
    var to = form.elements.namedItem("to");
    var text = form.elements.namedItem("text");
    var result = document.getElementById("quote-result");
    var error = document.getElementById("quote-error");
    var empty = document.getElementById("quote-empty");
    var body = document.getElementById("quote-body");
    var rows = document.getElementById("quote-rows");
    var counter = document.getElementById("text-counter");
    var timer = null;
    var latest = 0;

    function show(element, visible) { element.hidden = !visible; }

    function cell(content, className, colspan) {
      var td = document.createElement("td");
      td.textContent = content;
      if (className) td.className = className;
      if (colspan) td.colSpan = colspan;
      return td;
    }

    function render(data) {
      document.getElementById("quote-operator").textContent = data.operator_label || "\u2014";
      document.getElementById("quote-tier").textContent = data.tier || "\u2014";
      document.getElementById("quote-characters").textContent = data.characters;
      rows.textContent = "";
      data.channels.forEach(function (q) {
        var tr = document.createElement("tr");
        tr.appendChild(cell(q.label));
        if (q.error) {
          tr.appendChild(cell(q.error, "muted", 4));
        } else {
          tr.appendChild(cell(q.encoding_label));
          tr.appendChild(cell(String(q.units), "num"));
          tr.appendChild(cell(q.unit_price_text, "num"));
          var price = cell("", "num");
          var strong = document.createElement("strong");
          strong.textContent = q.price_text;
          price.appendChild(strong);
          tr.appendChild(price);
        }
        rows.appendChild(tr);
      });
      show(error, false);
      show(empty, false);
      show(body, true);
    }

    function fail(message) {
      error.textContent = message;
      show(error, true);
      show(body, false);
      show(empty, false);
    }

    function countText() {
      if (counter && text) counter.textContent = text.value.length + " / " + (text.maxLength > 0 ? text.maxLength : "");
    }

    function ask() {
      var number = to.value.trim();
      if (!number) {
        show(error, false);
        show(body, false);
        show(empty, true);
        return;
      }
      var params = new URLSearchParams({ to: number, text: text ? text.value : "" });
      var ticket = ++latest;
      result.setAttribute("aria-busy", "true");
      fetch(url + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        })
        .then(function (answer) {
          if (ticket !== latest) return; // an older answer arriving late
          if (answer.ok) render(answer.data); else fail(answer.data.error.message);
        })
        .catch(function () {
          if (ticket === latest) fail(form.getAttribute("data-offline") || "\u2026");
        })
        .finally(function () {
          if (ticket === latest) result.removeAttribute("aria-busy");
        });
    }

    function schedule() {
      countText();
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 250);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      window.clearTimeout(timer);
      ask();
    });
    countText();
    if (to.value.trim()) ask();
  });
})();
