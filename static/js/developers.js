/* The developer pages' little JavaScript (no build step, no CDN):
   - copy buttons: <button data-copy="#id"> copies that element's text;
   - the sandbox inbox asks the server for new messages every few seconds and
     adds them to the table, so a code appears without a reload;
   - "try it": sends a test verification and checks a code through the
     dashboard's JSON endpoints (session and CSRF token, like the forms).
   Every page works without it: the forms then post and reload. */
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function postForm(url, form) {
    return fetch(url, {
      method: "POST",
      body: new FormData(form),
      credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrfToken(form) },
    }).then(function (response) {
      if (response.redirected) throw new Error("signed out");
      return response.json().then(function (body) {
        return { ok: response.ok, body: body };
      });
    });
  }

  function show(element, text, kind) {
    element.textContent = text;
    element.className = "notice" + (kind ? " " + kind : "");
    element.hidden = false;
  }

  /* --- Copy buttons ---------------------------------------------------------- */

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return copyBySelection(text); });
    }
    return copyBySelection(text);
  }

  function copyBySelection(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var done = document.execCommand("copy");
    document.body.removeChild(area);
    return done ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }

  function setupCopyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      var label = button.textContent;
      button.hidden = false;
      button.addEventListener("click", function () {
        var source = document.querySelector(button.getAttribute("data-copy"));
        copyText(source ? source.textContent.trim() : "").then(function () {
          button.textContent = button.getAttribute("data-copied") || label;
          window.setTimeout(function () { button.textContent = label; }, 2500);
        }, function () {
          var range = document.createRange();  // copying refused: select it for Ctrl+C
          range.selectNodeContents(source);
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
        });
      });
    });
  }

  /* --- The sandbox inbox ----------------------------------------------------- */

  function inboxRow(message) {
    var row = document.createElement("tr");
    row.setAttribute("data-id", message.id);
    [message.received, message.to, message.channel, message.sender_id || "\u2014"].forEach(function (text) {
      var cell = document.createElement("td");
      cell.textContent = text;
      row.appendChild(cell);
    });
    var body = document.createElement("td");
    body.className = "sandbox-text";
    body.style.whiteSpace = "pre-wrap";
    body.textContent = message.text;
    row.appendChild(body);
    var link = document.createElement("td");
    var anchor = document.createElement("a");
    var code = document.createElement("code");
    anchor.href = message.url;
    code.textContent = message.message_id;
    anchor.appendChild(code);
    link.appendChild(anchor);
    row.appendChild(link);
    row.classList.add("fresh");
    return row;
  }

  function setupInbox() {
    var rows = document.getElementById("sandbox-rows");
    if (!rows) return;
    var table = document.getElementById("sandbox-inbox");
    var empty = document.getElementById("sandbox-empty");
    var stopped = document.getElementById("inbox-stopped");
    var after = rows.getAttribute("data-after") || "0";
    var every = 1000 * (parseInt(rows.getAttribute("data-seconds"), 10) || 3);
    var timer = null;
    var busy = false;

    function schedule() {
      window.clearTimeout(timer);
      timer = window.setTimeout(poll, every);
    }

    function stop() {
      window.clearTimeout(timer);
      timer = null;
      if (stopped) stopped.hidden = false;
    }

    function poll() {
      if (busy) return;
      if (document.hidden) { schedule(); return; }
      busy = true;
      var query = new URLSearchParams({ after: after, to: rows.getAttribute("data-to") || "" });
      fetch(rows.getAttribute("data-url") + "?" + query.toString(), {
        credentials: "same-origin",
        headers: { "Accept": "application/json" },
      }).then(function (response) {
        if (response.redirected || response.status === 401 || response.status === 403) return null;
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      }).then(function (data) {
        busy = false;
        if (data === null) { stop(); return; }
        data.messages.slice().reverse().forEach(function (message) {
          rows.insertBefore(inboxRow(message), rows.firstChild);
        });
        if (data.messages.length) {
          after = String(data.last);
          table.hidden = false;
          if (empty) empty.hidden = true;
        }
        schedule();
      }).catch(function () {
        busy = false;
        schedule();  // a network hiccup: try again later
      });
    }

    document.addEventListener("sandbox:sent", function () { window.setTimeout(poll, 300); });
    document.addEventListener("visibilitychange", function () { if (!document.hidden && timer !== null) poll(); });
    schedule();
  }

  /* --- Try it: send a test verification, check its code ------------------------ */

  function errorText(body) {
    if (body && body.error) {
      var details = body.error.details || {};
      var first = Object.keys(details).map(function (key) { return details[key]; })
        .filter(function (value) { return Array.isArray(value) && value.length; })[0];
      return first ? first[0] : body.error.message;
    }
    return "";
  }

  function setupTry() {
    var send = document.getElementById("try-send");
    if (!send) return;
    var result = document.getElementById("try-result");
    var check = document.getElementById("try-check");
    var checked = document.getElementById("try-check-result");
    var failed = send.getAttribute("data-failed");

    function busy(form, on) {
      form.querySelectorAll("button").forEach(function (button) { button.disabled = on; });
      form.setAttribute("aria-busy", on ? "true" : "false");
    }

    send.addEventListener("submit", function (event) {
      event.preventDefault();
      busy(send, true);
      checked.hidden = true;
      postForm(send.getAttribute("data-json-url"), send).then(function (response) {
        if (!response.ok) { show(result, errorText(response.body) || failed, "bad"); return; }
        show(result, response.body.message, "ok");
        check.querySelector("[name=verification]").value = response.body.verification.id;
        check.hidden = false;
        check.querySelector("[name=code]").value = "";
        document.dispatchEvent(new CustomEvent("sandbox:sent"));
      }).catch(function () {
        show(result, failed, "bad");
      }).then(function () { busy(send, false); });
    });

    check.addEventListener("submit", function (event) {
      event.preventDefault();
      busy(check, true);
      postForm(check.getAttribute("action"), check).then(function (response) {
        if (!response.ok) { show(checked, errorText(response.body) || failed, "bad"); return; }
        show(checked, response.body.message, response.body.valid ? "ok" : "warn");
      }).catch(function () {
        show(checked, failed, "bad");
      }).then(function () { busy(check, false); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    setupCopyButtons();
    setupInbox();
    setupTry();
  });
})();
