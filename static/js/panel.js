/* Small behaviours htmx does not cover. No framework, no build. */
(function () {
  "use strict";

  // Toasts: from htmx's HX-Trigger {"toast": {...}} and from Django messages on load.
  function toast(message, level) {
    var box = document.getElementById("toasts");
    if (!box || !message) return;
    var el = document.createElement("div");
    el.className = "toast " + (level || "info");
    el.setAttribute("role", level === "error" ? "alert" : "status");
    el.textContent = message;
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, level === "error" ? 9000 : 4500);
  }
  document.body.addEventListener("toast", function (e) { toast(e.detail.message, e.detail.level); });
  document.querySelectorAll("[data-message]").forEach(function (el) {
    toast(el.dataset.message, el.dataset.level);
  });
  // A failed htmx request (network down, 500) must not fail silently.
  document.body.addEventListener("htmx:responseError", function (e) {
    var status = e.detail.xhr.status;
    toast(status === 403 ? "Your role cannot do that." : "The panel answered " + status + ". Try again.", "error");
  });
  document.body.addEventListener("htmx:sendError", function () {
    toast("Cannot reach the panel. Check your connection.", "error");
  });

  // "12 s ago", kept current without asking the server.
  function ago(seconds) {
    if (seconds < 5) return "just now";
    if (seconds < 60) return Math.floor(seconds) + " s ago";
    if (seconds < 3600) return Math.floor(seconds / 60) + " min ago";
    if (seconds < 86400) return Math.floor(seconds / 3600) + " h ago";
    return Math.floor(seconds / 86400) + " d ago";
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-ts]").forEach(function (el) {
      var age = now - parseFloat(el.dataset.ts);
      el.textContent = ago(age);
      var stale = parseFloat(el.dataset.staleAfter || "0");
      if (stale) el.classList.toggle("stale", age > stale);
    });
  }
  setInterval(tick, 1000);
  document.body.addEventListener("htmx:afterSettle", tick);
  tick();

  // Copy buttons.
  document.body.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    navigator.clipboard.writeText(btn.dataset.copy).then(function () { toast("Copied.", "success"); });
  });

  // Dialogs: a button with data-dialog="id" opens it; [data-close] closes it.
  document.body.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-dialog]");
    if (opener) {
      var dlg = document.getElementById(opener.dataset.dialog);
      if (dlg) { e.preventDefault(); dlg.showModal(); }
      return;
    }
    var closer = e.target.closest("[data-close]");
    if (closer) { e.preventDefault(); closer.closest("dialog").close(); }
  });
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    var dlg = e.target.closest && e.target.closest("dialog");
    if (dlg && dlg.open) dlg.close();
  });

  // Repeated rows (Django formsets): clone the empty form, bump TOTAL_FORMS.
  document.body.addEventListener("click", function (e) {
    var add = e.target.closest("[data-add-row]");
    if (add) {
      e.preventDefault();
      var prefix = add.dataset.addRow;
      var total = document.getElementById("id_" + prefix + "-TOTAL_FORMS");
      var tpl = document.getElementById(prefix + "-empty");
      var rows = document.getElementById(prefix + "-rows");
      var index = parseInt(total.value, 10);
      var holder = document.createElement("div");
      holder.innerHTML = tpl.innerHTML.replace(/__prefix__/g, index);
      var row = holder.firstElementChild;
      rows.appendChild(row);
      total.value = index + 1;
      if (window.htmx) htmx.process(row);
      syncShowWhen(row);
      var first = row.querySelector("input, select");
      if (first) first.focus();
      return;
    }
    var remove = e.target.closest("[data-remove-row]");
    if (remove) {
      e.preventDefault();
      var r = remove.closest(".row-form");
      // Blank rows are ignored on the server, so removing = clearing and hiding.
      r.querySelectorAll("input").forEach(function (i) { i.value = ""; });
      r.hidden = true;
    }
  });

  // Fields shown only for some choices: data-show-when="<select name>=<v1>,<v2>"; a
  // checkbox reads as "on" when ticked and "" when not.
  function controlValue(control) {
    if (control && control.type === "checkbox") return control.checked ? "on" : "";
    return control ? control.value : null;
  }
  function syncShowWhen(scope) {
    (scope || document).querySelectorAll("[data-show-when]").forEach(function (el) {
      var parts = el.dataset.showWhen.split("=");
      var form = el.closest("form") || document;
      var name = parts[0];
      var row = el.closest(".row-form");
      if (row && name.indexOf("__row__") === 0) {
        var select = row.querySelector("[name$='-" + name.slice(7) + "']");
        el.hidden = !select || parts[1].split(",").indexOf(select.value) === -1;
        return;
      }
      var control = form.querySelector("[name='" + name + "']");
      el.hidden = !control || parts[1].split(",").indexOf(controlValue(control)) === -1;
    });
  }
  document.body.addEventListener("change", function (e) {
    if (e.target.matches("select, input[type=checkbox]")) syncShowWhen(e.target.closest("form"));
  });
  document.body.addEventListener("htmx:afterSettle", function (e) { syncShowWhen(e.target); });
  syncShowWhen(document);

  // Dashboard: remember selected rows across live re-renders, and flash rows whose
  // state changed since the last render.
  var selected = new Set();
  var lastStates = {};
  function rememberStates(scope) {
    lastStates = {};
    scope.querySelectorAll("tr[data-state]").forEach(function (tr) { lastStates[tr.id] = tr.dataset.state; });
  }
  function syncBulk() {
    var bar = document.querySelector("[data-bulk-bar]");
    if (!bar) return;
    var price = 0;
    document.querySelectorAll("input[name='ids'][form='bulk-form']").forEach(function (box) {
      box.checked = selected.has(box.value);
      if (box.checked) price += parseFloat(box.dataset.price || "0");
    });
    document.querySelectorAll("[data-bulk-count]").forEach(function (el) { el.textContent = selected.size; });
    document.querySelectorAll("[data-bulk-price]").forEach(function (el) { el.textContent = "$" + price.toFixed(2); });
    bar.hidden = selected.size === 0;
  }
  document.body.addEventListener("change", function (e) {
    if (e.target.matches("input[name='ids'][form='bulk-form']")) {
      if (e.target.checked) selected.add(e.target.value); else selected.delete(e.target.value);
      syncBulk();
    } else if (e.target.matches("[data-bulk-all]")) {
      document.querySelectorAll("input[name='ids'][form='bulk-form']").forEach(function (box) {
        if (e.target.checked) selected.add(box.value); else selected.delete(box.value);
      });
      syncBulk();
    }
  });
  document.body.addEventListener("click", function (e) {
    if (e.target.closest("[data-bulk-clear]")) { selected.clear(); syncBulk(); }
  });
  document.body.addEventListener("htmx:afterRequest", function (e) {
    if (e.target.id === "bulk-form" && e.detail.successful) { selected.clear(); syncBulk(); }
  });
  var live = document.getElementById("dashboard-live");
  if (live) rememberStates(live);
  document.body.addEventListener("htmx:afterSettle", function (e) {
    var table = document.getElementById("dashboard-live");
    if (!table || !(e.target === table || e.target.contains(table) || table.contains(e.target))) return;
    table.querySelectorAll("tr[data-state]").forEach(function (tr) {
      if (tr.id in lastStates && lastStates[tr.id] !== tr.dataset.state) tr.classList.add("flash");
    });
    rememberStates(table);
    syncBulk();
  });

  // A submit button with data-busy-label ("Confirm and create") is disabled and relabelled
  // while its form's request is in flight, so a double click sends one request. The form's
  // idempotency token covers whatever gets through anyway (a retry, a second tab).
  function busy(form) {
    form.querySelectorAll("button[data-busy-label]").forEach(function (btn) {
      if (btn.hasAttribute("aria-busy")) return;
      btn.dataset.idleLabel = btn.textContent;
      btn.textContent = btn.dataset.busyLabel;
      btn.disabled = true;
      btn.setAttribute("aria-busy", "true");
    });
  }
  function idle(form) {
    form.querySelectorAll("button[data-busy-label][aria-busy]").forEach(function (btn) {
      btn.textContent = btn.dataset.idleLabel;
      btn.disabled = false;
      btn.removeAttribute("aria-busy");
    });
  }
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.elt.tagName === "FORM") busy(e.detail.elt);
  });
  document.body.addEventListener("htmx:afterRequest", function (e) {
    // On its way to the new deployment's page: stay busy until the page changes.
    if (e.detail.elt.tagName === "FORM" && !(e.detail.successful && e.detail.xhr.getResponseHeader("HX-Redirect"))) {
      idle(e.detail.elt);
    }
  });
  document.body.addEventListener("submit", function (e) {
    // A plain (non-htmx) submit: disable once the browser has taken the form's values.
    var form = e.target;
    if (!e.defaultPrevented) setTimeout(function () { busy(form); }, 0);
  });

  // Keep a log view scrolled to the newest line while following.
  document.body.addEventListener("htmx:afterSettle", function (e) {
    var pre = e.target.querySelector ? e.target.querySelector(".logs[data-follow='1']") : null;
    if (pre) pre.scrollTop = pre.scrollHeight;
  });
})();
