// qgate operations console: plain JavaScript, data from the process layer's versioned APIs.
"use strict";

(function () {
  const API = "/process/v1";
  const OPS = API + "/ops";
  const CONSOLE = "/process/console";
  const TOKEN_KEY = "qgate.console.token";
  const STREAMS = ["quality", "containment"];
  const PENDING = ["PENDING_APPROVAL", "PENDING_ERP", "PENDING_QMS"];
  const WAITING_FOR = {
    PENDING_APPROVAL: "Pending approval",
    PENDING_ERP: "Pending ERP",
    PENDING_QMS: "Pending QMS",
  };
  const REFRESH_MS = 5000;

  let token = sessionStorage.getItem(TOKEN_KEY);
  let tokenFromDev = sessionStorage.getItem(TOKEN_KEY + ".source") === "dev";
  let timer = null;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
    }
    return node;
  }

  function say(text, isError) {
    const box = $("message");
    box.textContent = text;
    box.className = isError ? "error" : "";
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "";
    const s = Math.round(seconds);
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
    return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
  }

  function plural(count, noun) {
    return count + " " + noun + (count === 1 ? "" : "s");
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) return "console-" + crypto.randomUUID();
    return "console-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  // Tokens

  function useToken(value, fromDev) {
    token = value;
    tokenFromDev = fromDev;
    sessionStorage.setItem(TOKEN_KEY, value);
    sessionStorage.setItem(TOKEN_KEY + ".source", fromDev ? "dev" : "pasted");
    $("auth-state").textContent = fromDev
      ? "Dev mode: token of the operations demo client"
      : "Using the pasted token";
    $("token-form").hidden = fromDev;
  }

  async function devToken() {
    // Only the embedded default (dev mode with the development issuer) hands one out.
    const answer = await fetch(CONSOLE + "/dev-token", { cache: "no-store" });
    if (!answer.ok) return false;
    const body = await answer.json();
    useToken(body.accessToken, true);
    return true;
  }

  function askForToken(reason) {
    sessionStorage.removeItem(TOKEN_KEY);
    sessionStorage.removeItem(TOKEN_KEY + ".source");
    token = null;
    tokenFromDev = false;
    $("auth-state").textContent = reason;
    $("token-form").hidden = false;
  }

  async function call(method, path, options) {
    const headers = Object.assign({ Accept: "application/json" }, (options || {}).headers);
    if (token) headers.Authorization = "Bearer " + token;
    let answer = await fetch(path, { method, headers, cache: "no-store" });
    if (answer.status === 401 && (tokenFromDev || !token) && (await devToken())) {
      headers.Authorization = "Bearer " + token;  // the dev token expired: a fresh one, once
      answer = await fetch(path, { method, headers, cache: "no-store" });
    }
    if (answer.status === 401) {
      askForToken("The token was refused: paste a token with qgate.ops");
      throw new Error("401 Unauthorized");
    }
    const body = answer.status === 204 ? null : await answer.json();
    if (!answer.ok) {
      const detail = body && (body.detail || body.title);
      throw new Error(answer.status + " " + (detail || answer.statusText) + " (" + path + ")");
    }
    return body;
  }

  // Rendering

  function card(label, value, note, alert) {
    return el("div", { class: "card" + (alert ? " alert" : ""), "data-figure": label },
      el("div", { class: "label" }, label),
      el("div", { class: "value" }, value),
      el("div", { class: "note" }, note || ""));
  }

  function rows(tbody, items, render, emptyText, columns) {
    tbody.replaceChildren();
    if (!items.length) {
      tbody.append(el("tr", {}, el("td", { class: "empty", colSpan: columns }, emptyText)));
      return;
    }
    for (const item of items) tbody.append(render(item));
  }

  function renderFigures(summary) {
    const cards = [];
    for (const figure of summary.dispositions) {
      const note = figure.count ? "oldest " + age(figure.oldestAgeSeconds) : "none waiting";
      cards.push(card(WAITING_FOR[figure.status] || figure.status, figure.count, note,
        figure.status !== "PENDING_APPROVAL" && figure.count > 0));
    }
    for (const stream of summary.streams) {
      cards.push(card("Dead letters: " + stream.stream, stream.deadLetters,
        plural(stream.length, "event") + " on the stream", stream.deadLetters > 0));
    }
    const lag = summary.groups.reduce((sum, g) => sum + (g.lag || 0) + g.pending, 0);
    cards.push(card("Consumer lag", lag, plural(summary.groups.length, "consumer group"), false));
    for (const figure of summary.containments) {
      const label = "Containment: " + figure.status.toLowerCase();
      cards.push(card(label, figure.count, "", figure.status === "ATTENTION" && figure.count > 0));
    }
    $("figures").replaceChildren(...cards);
    rows($("groups"), summary.groups, (g) => el("tr", {},
      el("td", {}, g.stream), el("td", {}, g.group), el("td", {}, g.pending),
      el("td", {}, g.lag ?? "?"), el("td", {}, age(g.oldestPendingAgeSeconds)),
      el("td", {}, g.consumers.length)), "No consumer groups yet", 6);
    $("updated").textContent = new Date(summary.generatedAt).toLocaleTimeString();
  }

  function renderLetters(letters) {
    rows($("dead-letters"), letters, (letter) => {
      const button = el("button", { type: "button", "data-replay": letter.deadLetterId },
        "Replay");
      button.addEventListener("click", () => replay(letter, button));
      const event = letter.event || {};
      return el("tr", { "data-dead-letter": letter.deadLetterId },
        el("td", {}, letter.stream), el("td", {}, letter.group),
        el("td", {}, event.type || "(not a CloudEvent)"), el("td", {}, event.subject || ""),
        el("td", { class: "reason" }, letter.reason), el("td", {}, letter.deliveries),
        el("td", {}, when(letter.failedAt)), el("td", {}, button));
    }, "No dead letters", 8);
  }

  function renderDispositions(items) {
    rows($("dispositions"), items, (d) => el("tr", {},
      el("td", {}, d.dispositionId), el("td", {}, d.lotId), el("td", {}, d.decision),
      el("td", {}, d.status), el("td", {}, d.qms), el("td", {}, d.erp),
      el("td", {}, d.attempts), el("td", {}, age(d.ageSeconds)),
      el("td", { class: "reason" }, d.lastError || "")), "No disposition is pending", 9);
  }

  function renderContainments(items) {
    rows($("containments"), items, (c) => {
      const steps = el("div", { class: "steps" });
      for (const [name, status] of Object.entries(c.steps)) {
        steps.append(el("span", { class: "step " + status, title: status }, name + ": " + status));
      }
      return el("tr", { "data-containment": c.containmentId },
        el("td", {}, c.containmentId), el("td", {}, c.status), el("td", {}, c.supplierId),
        el("td", {}, c.itemId), el("td", {}, c.plantIds.join(", ")), el("td", {}, steps),
        el("td", {}, when(c.openedAt)), el("td", {}, age(c.timeToContainmentSeconds)));
    }, "No open containment case", 8);
  }

  // Loading and acting

  async function all(pages) {
    return (await Promise.all(pages)).flatMap((page) => page.items);
  }

  async function refresh() {
    if (!token) return;
    try {
      const [summary, letters, dispositions, containments] = await Promise.all([
        call("GET", OPS + "/summary"),
        all(STREAMS.map((s) => call("GET", OPS + "/dead-letters?stream=" + s + "&limit=100"))),
        all(PENDING.map((s) => call("GET", API + "/lot-dispositions?status=" + s + "&limit=100"))),
        call("GET", API + "/containments?limit=100"),
      ]);
      renderFigures(summary);
      renderLetters(letters);
      renderDispositions(dispositions);
      renderContainments(containments.items.filter((c) => c.status !== "CLOSED"));
      if ($("message").className === "error") say("");
    } catch (error) {
      say("Could not load: " + error.message, true);
    }
  }

  async function replay(letter, button) {
    button.disabled = true;
    try {
      const path = OPS + "/dead-letters/" + encodeURIComponent(letter.deadLetterId) +
        "/replay?stream=" + encodeURIComponent(letter.stream);
      const result = await call("POST", path, { headers: { "Idempotency-Key": newKey() } });
      say("Replayed " + result.replayed + " event to " + letter.group +
        "; it is being processed.", false);
      await refresh();
      // Its consumers process it asynchronously: look again shortly.
      setTimeout(refresh, 1000);
    } catch (error) {
      button.disabled = false;
      say("Replay failed: " + error.message, true);
    }
  }

  async function start() {
    $("token-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const value = $("token-input").value.trim().replace(/^Bearer\s+/i, "");
      if (!value) return;
      $("token-input").value = "";
      useToken(value, false);
      refresh();
    });
    $("refresh").addEventListener("click", refresh);
    if (token) {
      $("auth-state").textContent = tokenFromDev
        ? "Dev mode: token of the operations demo client"
        : "Using the pasted token";
    } else if (!(await devToken())) {
      askForToken("Paste a token with qgate.ops");
    }
    await refresh();
    timer = setInterval(refresh, REFRESH_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
  window.qgateConsole = { refresh, timer: () => timer };
})();
