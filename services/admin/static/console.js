// The Starshop admin console's only script (ours, no library). Pages are
// rendered by the server; this sends the changes to the JSON API with the
// session's CSRF token, shows a live preview of a message, and follows a
// running campaign's progress over server-sent events.
"use strict";

(function () {
  const meta = document.querySelector('meta[name="csrf-token"]');
  const csrf = meta ? meta.content : "";
  const API = "/admin/api/v1";

  async function api(method, path, body, contentType) {
    const headers = { "x-csrf-token": csrf };
    let payload = body;
    if (body !== undefined && contentType === undefined) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body);
    } else if (contentType) {
      headers["content-type"] = contentType;
    }
    const resp = await fetch(API + path, { method, headers, body: payload, credentials: "same-origin" });
    let data = null;
    const text = await resp.text();
    try { data = text ? JSON.parse(text) : null; } catch (_) { data = { error: text }; }
    return { ok: resp.ok, status: resp.status, data };
  }

  function problem(message) {
    const p = document.getElementById("problem");
    if (!p) { if (message) alert(message); return; }
    p.hidden = !message;
    p.textContent = message || "";
  }

  function failed(r) {
    if (r.status === 401) { location.href = "/admin/login"; return; }
    problem((r.data && r.data.error) || ("HTTP " + r.status));
  }

  // ---- sign out ----
  const signOut = document.getElementById("sign-out");
  if (signOut) {
    signOut.addEventListener("click", async () => {
      await fetch("/admin/logout", { method: "POST", headers: { "x-csrf-token": csrf }, credentials: "same-origin" });
      location.href = "/admin/login";
    });
  }

  // ---- message preview: Telegram's HTML subset, built as DOM nodes ----
  const ALLOWED = { B: "b", STRONG: "b", I: "i", EM: "i", U: "u", INS: "u", S: "s", STRIKE: "s", DEL: "s",
    CODE: "code", PRE: "pre", BLOCKQUOTE: "blockquote", "TG-SPOILER": "span", A: "a" };
  const SAMPLE = { first_name: "Ann", username: "@ann", language: "en", balance: "250" };

  function safeCopy(node, into) {
    for (const child of node.childNodes) {
      if (child.nodeType === Node.TEXT_NODE) {
        into.appendChild(document.createTextNode(child.textContent));
      } else if (child.nodeType === Node.ELEMENT_NODE) {
        const tag = ALLOWED[child.tagName];
        if (!tag) { safeCopy(child, into); continue; }
        const el = document.createElement(tag);
        if (tag === "a") {
          const href = child.getAttribute("href") || "";
          if (/^(https?|tg):\/\//i.test(href)) { el.href = href; el.rel = "noopener"; el.target = "_blank"; }
        }
        if (child.tagName === "TG-SPOILER") { el.className = "spoiler"; }
        safeCopy(child, el);
        into.appendChild(el);
      }
    }
  }

  function renderPreview(form) {
    const out = document.getElementById("preview");
    if (!out) return;
    const text = (form.elements.text.value || "").replace(/\{(\w+)\}/g, (m, v) => (v in SAMPLE ? SAMPLE[v] : m));
    const parsed = new DOMParser().parseFromString("<body>" + text.replace(/\n/g, "<br>") + "</body>", "text/html");
    out.replaceChildren();
    for (const br of parsed.body.querySelectorAll("br")) { br.replaceWith("\n"); }
    safeCopy(parsed.body, out);
    const buttons = parseButtons(form.elements.buttons.value);
    if (buttons.error === undefined) {
      for (const b of buttons) {
        const a = document.createElement("span");
        a.className = "tg-button";
        a.textContent = b.text;
        out.appendChild(a);
      }
    }
  }

  function parseButtons(text) {
    const out = [];
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].trim();
      if (!line) continue;
      const at = Math.max(line.lastIndexOf(" - "), line.lastIndexOf(" – "), line.lastIndexOf(" — "));
      if (at < 1) { out.error = "button line " + (i + 1) + ": write it as Text - https://…"; return out; }
      out.push({ text: line.slice(0, at).trim(), url: line.slice(at + 3).trim() });
    }
    return out;
  }

  let uploadedIds = null;

  function audience(form) {
    const segment = form.elements.segment.value;
    const a = { segment };
    if (segment === "language") a.language = form.elements.language.value.trim();
    if (segment === "active_within" || segment === "inactive_for") a.days = Number(form.elements.days.value);
    if (segment === "user_ids") a.user_ids = uploadedIds || [];
    return a;
  }

  const compose = document.getElementById("compose");
  if (compose) {
    compose.addEventListener("input", () => renderPreview(compose));
    compose.elements.list.addEventListener("change", async () => {
      const file = compose.elements.list.files[0];
      if (!file) return;
      const r = await api("POST", "/audiences/ids", await file.arrayBuffer(), "text/plain");
      const out = document.getElementById("recipients");
      if (!r.ok) { uploadedIds = null; out.textContent = ""; failed(r); return; }
      uploadedIds = r.data.user_ids;
      compose.elements.segment.value = "user_ids";
      problem("");
      out.textContent = r.data.recipients + " recipients (" + r.data.ignored_ids + " ids are not subscribers)";
    });
    compose.elements.media_file.addEventListener("change", async () => {
      const f = compose.elements;
      const file = f.media_file.files[0];
      if (!file) return;
      const status = document.getElementById("media-status");
      if (!f.media_chat.value) { problem("Give your Telegram id: the file is sent to you to get its file_id."); return; }
      status.textContent = "uploading…";
      const q = "?kind=" + encodeURIComponent(f.media_kind.value) + "&chat_id=" + encodeURIComponent(f.media_chat.value) +
        "&name=" + encodeURIComponent(file.name);
      const r = await api("POST", "/media" + q, await file.arrayBuffer(), "application/octet-stream");
      if (!r.ok) { status.textContent = ""; failed(r); return; }
      problem("");
      f.file_id.value = r.data.file_id;
      status.textContent = "uploaded";
    });
    document.getElementById("count").addEventListener("click", async () => {
      const r = await api("POST", "/audiences/count", audience(compose));
      if (!r.ok) { failed(r); return; }
      problem("");
      document.getElementById("recipients").textContent = r.data.recipients + " recipients";
    });
    compose.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = compose.elements;
      const buttons = parseButtons(f.buttons.value);
      if (buttons.error !== undefined) { problem(buttons.error); return; }
      const content = { buttons, unsubscribe_button: f.unsubscribe_button.checked };
      if (f.file_id.value.trim()) {
        content.media = { kind: f.media_kind.value, file_id: f.file_id.value.trim(), caption: f.text.value };
      } else {
        content.text = f.text.value;
      }
      const schedule = { kind: f.schedule.value };
      if (schedule.kind === "at") { schedule.at = f.at.value.trim(); schedule.timezone = f.timezone.value.trim(); }
      if (schedule.kind === "recurring") { schedule.cron = f.cron.value.trim(); schedule.timezone = f.timezone.value.trim(); }
      const body = { title: f.title.value, content, audience: audience(compose), schedule, paid: f.paid.checked };
      const r = await api("POST", "/campaigns", body);
      if (!r.ok) { failed(r); return; }
      location.href = "/admin/campaigns/" + r.data.id;
    });
    renderPreview(compose);
  }

  // ---- one campaign: controls and live progress ----
  const campaign = document.getElementById("campaign");
  if (campaign) {
    const id = campaign.dataset.id;
    let source = null;

    function show(c) {
      const p = c.progress || {};
      campaign.dataset.status = c.status;
      for (const el of campaign.querySelectorAll("[data-field]")) {
        const f = el.dataset.field;
        if (f === "status") el.textContent = c.status;
        else if (f === "bar") {
          el.max = Math.max(1, p.recipients || 0);
          el.value = (p.sent || 0) + (p.failed || 0) + (p.blocked || 0) + (p.unknown || 0);
        } else if (f in p) el.textContent = f === "rate" ? Number(p[f]).toFixed(1) : p[f];
      }
    }

    function follow() {
      const st = campaign.dataset.status;
      if (source || st === "draft" || st === "done" || st === "cancelled") return;
      source = new EventSource(API + "/campaigns/" + id + "/events");
      source.addEventListener("progress", (ev) => {
        const c = JSON.parse(ev.data);
        show(c);
        if (c.status === "done" || c.status === "cancelled") { source.close(); source = null; }
      });
    }

    for (const b of campaign.querySelectorAll("[data-action]")) {
      b.addEventListener("click", async () => {
        const r = await api("POST", "/campaigns/" + id + "/" + b.dataset.action);
        if (!r.ok) { failed(r); return; }
        problem("");
        show(r.data);
        follow();
      });
    }
    const pf = document.getElementById("preview-form");
    if (pf) {
      pf.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const r = await api("POST", "/campaigns/" + id + "/preview", { chat_id: Number(pf.elements.chat_id.value) });
        if (!r.ok) { failed(r); return; }
        problem("Preview sent.");
      });
    }
    follow();
  }

  // ---- a customer: notes, payment links ----
  const noteForm = document.getElementById("note-form");
  if (noteForm) {
    noteForm.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const r = await api("POST", "/users/" + noteForm.dataset.user + "/notes", { text: noteForm.elements.text.value });
      if (!r.ok) { failed(r); return; }
      location.reload();
    });
  }
  for (const b of document.querySelectorAll("[data-resend]")) {
    b.addEventListener("click", async () => {
      const r = await api("POST", "/orders/" + b.dataset.resend + "/resend-link");
      if (!r.ok) { failed(r); return; }
      problem("The payment link was sent to the customer.");
    });
  }

  // ---- admins ----
  for (const b of document.querySelectorAll("[data-admin-action]")) {
    b.addEventListener("click", async () => {
      const row = b.closest("[data-admin]");
      const id = row.dataset.admin;
      let r;
      if (b.dataset.adminAction === "save") {
        r = await api("PATCH", "/admins/" + id, { role: row.querySelector("select").value });
      } else {
        if (!confirm("Remove this admin? Their sessions end at once.")) return;
        r = await api("DELETE", "/admins/" + id);
      }
      if (!r.ok) { failed(r); return; }
      location.reload();
    });
  }
  const invite = document.getElementById("invite");
  if (invite) {
    invite.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = invite.elements;
      const r = await api("POST", "/admins", { login: f.login.value, password: f.password.value, role: f.role.value });
      if (!r.ok) { failed(r); return; }
      location.reload();
    });
  }
})();
