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
    // Long enough to read: a base time, plus about 60 ms a character for long messages.
    var base = level === "error" ? 9000 : 4500;
    setTimeout(function () { el.remove(); }, Math.max(base, message.length * 60));
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
  // With ``bare``, an age for a column ("3 min"), as the server's |age filter writes it.
  function ago(seconds, bare) {
    if (seconds < 5 && !bare) return "just now";
    var text;
    if (seconds < 60) text = Math.floor(Math.max(seconds, 0)) + " s";
    else if (seconds < 3600) text = Math.floor(seconds / 60) + " min";
    else if (seconds < 86400) text = Math.floor(seconds / 3600) + " h";
    else text = Math.floor(seconds / 86400) + " d";
    return bare ? text : text + " ago";
  }
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-ts]").forEach(function (el) {
      var age = now - parseFloat(el.dataset.ts);
      // data-ts-bare: a column of ages ("3 min"), not a sentence ("3 min ago").
      el.textContent = ago(age, "tsBare" in el.dataset);
      var stale = parseFloat(el.dataset.staleAfter || "0");
      if (stale) el.classList.toggle("stale", age > stale);
    });
  }
  setInterval(tick, 1000);
  document.body.addEventListener("htmx:afterSettle", tick);
  tick();

  // A select that submits its form when changed (the team switcher): no inline handler,
  // which a Content-Security-Policy would refuse.
  document.body.addEventListener("change", function (e) {
    if (e.target.matches("select[data-autosubmit]")) e.target.form.submit();
  });

  // Copy buttons. The clipboard API needs a secure context (HTTPS or localhost); on a
  // plain-HTTP address the text is selected in its field (data-copy-from) and copied the
  // old way, or left selected for Ctrl+C.
  function copyByHand(btn) {
    var field = btn.dataset.copyFrom && document.querySelector(btn.dataset.copyFrom);
    if (!field) { toast("Copying is blocked here; select the text and press Ctrl+C.", "error"); return; }
    field.focus();
    field.select();
    var done = false;
    try { done = document.execCommand("copy"); } catch (err) { done = false; }
    toast(done ? "Copied." : "Selected: press Ctrl+C (⌘C) to copy.", done ? "success" : "info");
  }
  document.body.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-copy]");
    if (!btn) return;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(btn.dataset.copy).then(
        function () { toast("Copied.", "success"); },
        function () { copyByHand(btn); }
      );
    } else {
      copyByHand(btn);
    }
  });
  document.body.addEventListener("focusin", function (e) {
    if (e.target.matches("input[data-select-on-focus]")) e.target.select();
  });

  // A box that appears with something to act on (the invitation link) takes the focus.
  function focusBox(box) { if (box && !box.hidden) { box.focus(); } }
  focusBox(document.querySelector("#invite-link:not([hidden])"));
  document.body.addEventListener("htmx:afterSettle", function (e) {
    if (e.target.id === "invite-link") focusBox(e.target);
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
  // Live parts ([data-poll-visible]) poll only while the tab is visible. htmx would check a
  // trigger filter ("every 3s [document.visibilityState=='visible']") with Function(), which
  // the Content-Security-Policy refuses, so the check is made here: a poll due while the tab
  // is hidden is skipped, and the next one comes on the element's own timer.
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    var elt = e.detail && e.detail.elt;
    if (document.visibilityState !== "visible" && elt && elt.hasAttribute && elt.hasAttribute("data-poll-visible")) {
      e.preventDefault();
    }
  });
  // A request sent from a dialog (or from a form holding one, like the dashboard's bulk
  // form) closes it: what it asked is answered by the page behind it.
  document.body.addEventListener("htmx:beforeRequest", function (e) {
    var dlg = e.target.closest && e.target.closest("dialog");
    if (dlg && dlg.open) dlg.close();
    if (e.target.querySelectorAll) e.target.querySelectorAll("dialog[open]").forEach(function (d) { d.close(); });
  });
  // An outcome that stays on the page until dismissed ([data-dismiss="#id"] empties it).
  document.body.addEventListener("click", function (e) {
    var btn = e.target.closest("[data-dismiss]");
    if (!btn) return;
    var box = document.querySelector(btn.dataset.dismiss);
    if (box) { box.replaceChildren(); box.hidden = true; }  // the next answer replaces it whole
  });
  document.body.addEventListener("htmx:oobAfterSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "bulk-outcome") return;
    var box = document.getElementById("bulk-outcome");  // the target was replaced
    if (box && box.firstElementChild) box.focus();
  });

  // A member's role: choosing one in the select asks first, naming the person and what
  // the role means; only "Change" sends it (htmx's "confirmed" trigger). Cancel or Esc
  // puts the select back.
  var roleForm = null;
  document.body.addEventListener("change", function (e) {
    var form = e.target.closest && e.target.closest("form[data-confirm-role]");
    var dlg = document.getElementById("dlg-role");
    if (!form || !dlg || e.target.name !== "role") return;
    var select = e.target;
    var label = select.options[select.selectedIndex].text;
    var effect = dlg.querySelector("[data-role-effect-for='" + select.value + "']");
    roleForm = form;
    dlg.querySelector("[data-role-title]").textContent = "Make " + form.dataset.person + " " +
      (/^[AEIOU]/.test(label) ? "an " : "a ") + label + "?";
    dlg.querySelector("[data-role-effect]").textContent = effect ? effect.content.textContent.trim() : "";
    dlg.querySelector("[data-role-self]").hidden = !("isMe" in form.dataset);
    dlg.querySelector("[data-role-confirm]").textContent = "Make " + form.dataset.person + " " + label;
    dlg.showModal();
  });
  document.body.addEventListener("click", function (e) {
    if (!e.target.closest("[data-role-confirm]") || !roleForm) return;
    var form = roleForm;
    roleForm = null;
    document.getElementById("dlg-role").close();
    htmx.trigger(form, "confirmed");
  });
  var roleDialog = document.getElementById("dlg-role");
  if (roleDialog) roleDialog.addEventListener("close", function () {
    if (!roleForm) return;  // confirmed: the row is redrawn by the answer
    var select = roleForm.querySelector("select[name='role']");
    select.value = select.dataset.current;
    select.focus();
    roleForm = null;
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

  // Folded lists (<details data-remember="key">) stay as the person left them when
  // polling redraws them: closed by default, open once opened.
  var openDetails = {};
  document.addEventListener("toggle", function (e) {
    var el = e.target;
    if (el.matches && el.matches("details[data-remember]")) openDetails[el.dataset.remember] = el.open;
  }, true);
  document.body.addEventListener("htmx:afterSwap", function () {
    document.querySelectorAll("details[data-remember]").forEach(function (el) {
      if (openDetails[el.dataset.remember] && !el.open) el.open = true;
    });
  });

  // Keyboard shortcuts beyond Tab: "/" search, "n" new deployment, "?" the list of
  // them (a <dialog>, so Esc closes it). Nothing happens while typing in a field, with
  // a modifier held, or while a dialog is open.
  function typing(el) {
    return el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));
  }
  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
    if (document.querySelector("dialog[open]")) return;
    if (e.key === "/") {
      var search = document.querySelector("#dashboard-filters input[name='q']");
      if (!search) return;
      e.preventDefault();
      search.focus();
      search.select();
    } else if (e.key === "n") {
      var link = document.querySelector("a[data-shortcut-new]");
      if (link) { e.preventDefault(); window.location.assign(link.href); }
    } else if (e.key === "?") {
      var help = document.getElementById("dlg-shortcuts");
      if (help) { e.preventDefault(); help.showModal(); }
    }
  });

  // The Scale dialog's price follows the numbers typed: data-unit-price is one
  // replica/instance per hour; the first number input is the count (or the minimum),
  // the second, if any, the maximum.
  function dollars(value) {
    return "$" + value.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  }
  function syncScalePrice(form) {
    var out = form && form.querySelector("[data-scale-price][data-unit-price]");
    if (!out) return;
    var unit = parseFloat(out.dataset.unitPrice);
    var name = out.dataset.unitName || "replicas";
    var inputs = form.querySelectorAll("input[type=number]");
    var low = parseInt(inputs[0].value, 10);
    var high = inputs.length > 1 ? parseInt(inputs[1].value, 10) : low;
    if (isNaN(low) || low < 0 || (inputs.length > 1 && (isNaN(high) || high < 1))) {
      out.textContent = "Give whole numbers to see the price (" + dollars(unit) + "/h for each of the " + name + ").";
      return;
    }
    var text = "About " + dollars(unit * low) + "/h with " + low + " running";
    if (high > low) text += ", up to " + dollars(unit * high) + "/h at " + high;
    out.textContent = text + "; " + dollars(unit) + "/h for each of the " + name + " while it runs.";
  }
  document.body.addEventListener("input", function (e) {
    if (e.target.matches("input[type=number]")) syncScalePrice(e.target.closest("form"));
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
