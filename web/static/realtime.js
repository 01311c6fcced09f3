// The ops wall: follows WS /ws/realtime, draws one card per campaign and the totals.
// Data is only ever set as text (names may hold markup). Reconnects resume with `after=`.
"use strict";

(function () {
  const STALE_MS = 12000; // heartbeats come every 5 s: two missed ones mean stale
  const SPARK_POINTS = 60;
  const wall = document.getElementById("wall");
  const cards = document.getElementById("cards");
  const template = document.getElementById("card-template");
  const connection = document.getElementById("connection");
  const rows = new Map(); // campaign id -> its latest row
  const sparks = new Map(); // campaign id -> recent sent counts, for the sparkline
  let position = null; // the position the wall reflects
  let lastMessageAt = 0;
  let lastAsOf = "";
  let socket = null;
  let retryMs = 500;
  const pageQuery = new URLSearchParams(location.search);
  // A replay of a time range (F15): its own stream, marked on the page, never resumed.
  const replay = pageQuery.get("replay_from") && pageQuery.get("replay_to") ? {
    from: utc(pageQuery.get("replay_from")),
    to: utc(pageQuery.get("replay_to")),
    speed: pageQuery.get("speed") || "60",
  } : null;
  let replayEnded = false;

  function utc(local) {
    // datetime-local values carry no zone: the form says they are UTC.
    return local.length === 16 ? `${local}:00Z` : local.endsWith("Z") ? local : `${local}Z`;
  }

  function query() {
    const form = new FormData(document.getElementById("wall-filters"));
    const params = new URLSearchParams();
    for (const key of ["name", "tag"]) {
      const value = String(form.get(key) || "").trim();
      if (value) params.set(key, value);
    }
    for (const status of form.getAll("status")) params.append("status", String(status));
    return params;
  }

  function connect() {
    const params = query();
    let path = "/ws/realtime";
    if (replay) {
      path = "/ws/replay";
      params.set("from", replay.from);
      params.set("to", replay.to);
      params.set("speed", replay.speed);
    } else if (position !== null) {
      params.set("after", String(position));
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(`${scheme}//${location.host}${path}?${params}`);
    socket.onopen = () => { retryMs = 500; };
    socket.onmessage = (event) => receive(JSON.parse(event.data));
    socket.onclose = () => {
      socket = null;
      if (replay) {
        if (!replayEnded) show("disconnected", "Replay interrupted: reload to play it again");
        return;
      }
      show("disconnected", `Disconnected: reconnecting in ${Math.ceil(retryMs / 1000)} s`);
      setTimeout(connect, retryMs);
      retryMs = Math.min(Math.max(retryMs * 2, 500), 5000);
    };
  }

  function receive(message) {
    lastMessageAt = Date.now();
    if (message.type === "error") {
      if (message.error.code === "unauthorized") signInAgain();
      show("disconnected", message.error.message);
      return;
    }
    if (message.at) lastAsOf = message.at;
    if (message.type === "end") {
      replayEnded = true;
      show("ended", `Replay finished at ${clock(message.replay.at)}`);
      return;
    }
    if (message.type === "snapshot") {
      rows.clear();
      for (const row of message.rows) rows.set(row.id, row);
      redrawAll();
    } else if (message.type === "update") {
      for (const id of message.removed || []) { rows.delete(id); sparks.delete(id); }
      for (const row of message.rows || []) rows.set(row.id, row);
      redrawAll(new Set((message.rows || []).map((row) => row.id)));
    }
    position = message.position;
    wall.dataset.position = String(position);
    if (message.replay) {
      document.getElementById("replay-clock").textContent =
        `${clock(message.replay.at)} · ${Number(message.replay.speed).toLocaleString("en")}× speed`;
      show("replaying", `Replaying ${clock(message.replay.from)} to ${clock(message.replay.to)}`);
    } else {
      show("live", `Live · ${lastAsOf.slice(11, 19)} UTC`);
    }
  }

  function clock(time) {
    return `${time.slice(0, 10)} ${time.slice(11, 19)} UTC`;
  }

  function show(state, text) {
    wall.dataset.state = state;
    connection.textContent = text;
  }

  function redrawAll(changed) {
    const ordered = [...rows.values()].sort((a, b) =>
      (b.created_at + b.id).localeCompare(a.created_at + a.id));
    const keep = new Set(ordered.map((row) => `campaign-${row.id}`));
    for (const card of [...cards.children]) if (!keep.has(card.id)) card.remove();
    let previous = null;
    for (const row of ordered) {
      const card = cardFor(row);
      if (!changed || changed.has(row.id)) fill(card, row, Boolean(changed));
      const wanted = previous ? previous.nextSibling : cards.firstChild;
      if (card !== wanted) cards.insertBefore(card, wanted);
      previous = card;
    }
    document.getElementById("wall-empty").hidden = rows.size > 0;
    drawTotals(ordered);
  }

  function cardFor(row) {
    let card = document.getElementById(`campaign-${row.id}`);
    if (!card) {
      card = template.content.firstElementChild.cloneNode(true);
      card.id = `campaign-${row.id}`;
    }
    return card;
  }

  function fill(card, row, flash) {
    card.querySelector(".card-name").textContent = row.name;
    const status = card.querySelector(".status");
    status.textContent = row.status;
    status.className = `status status-${row.status.toLowerCase()}`;
    status.title = row.status_reason || "";
    card.querySelector(".card-reason").textContent =
      row.status === "Suspended" || row.status === "Rejected" ? row.status_reason : "";
    const share = row.recipients ? Math.min(100, (100 * row.sent) / row.recipients) : 0;
    card.querySelector(".progress-bar").style.width = `${share}%`;
    card.querySelector(".progress-text").textContent =
      `${number(row.sent)} of ${number(row.recipients)} sent (${share.toFixed(0)}%)`;
    const figures = {
      send_rate: row.send_rate.toFixed(1),
      delivered: number(row.delivered),
      failed: number(row.failed),
      clicks: number(row.clicks),
      ctr: row.ctr === null ? "–" : `${row.ctr.toFixed(2)}%`,
      cost: row.cost,
    };
    for (const [field, text] of Object.entries(figures)) {
      card.querySelector(`[data-field=${field}]`).textContent = text;
    }
    card.querySelector("[data-field=failed]").classList.toggle("bad", row.failed > 0);
    card.querySelector(".domains").textContent = row.active_domains.length
      ? `Domains: ${row.active_domains.join(", ")}` : "No active domain";
    card.querySelector(".updated").textContent = `updated ${row.updated_at.slice(11, 19)} UTC`;
    spark(card, row);
    if (flash) {
      card.classList.remove("changed");
      void card.offsetWidth; // restarts the animation
      card.classList.add("changed");
    }
  }

  function spark(card, row) {
    const points = sparks.get(row.id) || [];
    if (points.length === 0 || points[points.length - 1] !== row.sent) points.push(row.sent);
    if (points.length > SPARK_POINTS) points.shift();
    sparks.set(row.id, points);
    const low = points[0];
    const high = Math.max(points[points.length - 1], low + 1);
    const step = 120 / Math.max(points.length - 1, 1);
    card.querySelector(".spark polyline").setAttribute("points", points
      .map((value, i) => `${(i * step).toFixed(1)},${(24 - (22 * (value - low)) / (high - low)).toFixed(1)}`)
      .join(" "));
  }

  function drawTotals(ordered) {
    const sum = (field) => ordered.reduce((total, row) => total + row[field], 0);
    const delivered = sum("delivered");
    const uniqueClicks = sum("unique_clicks");
    const cost = ordered.reduce((total, row) => total + Number(row.cost), 0);
    const totals = {
      campaigns: number(ordered.length),
      sending: number(ordered.filter((row) => row.status === "Sending").length),
      rate: sum("send_rate").toFixed(1),
      sent: number(sum("sent")),
      delivered: number(delivered),
      failed: number(sum("failed")),
      clicks: number(sum("clicks")),
      ctr: delivered ? `${((100 * uniqueClicks) / delivered).toFixed(2)}%` : "–",
      cost: cost.toFixed(2),
    };
    for (const [name, text] of Object.entries(totals)) {
      document.getElementById(`total-${name}`).textContent = text;
    }
  }

  function number(value) {
    return Number(value).toLocaleString("en");
  }

  document.getElementById("wall-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    if (replay) {  // new filters for a replay: play it again from its start
      const again = query();
      for (const key of ["replay_from", "replay_to", "speed"]) again.set(key, pageQuery.get(key));
      location.search = again.toString();
      return;
    }
    history.replaceState(null, "", `/realtime?${query()}`);
    position = null; // other filters: a fresh snapshot
    retryMs = 0;
    if (socket) socket.close(); else connect();
  });

  setInterval(() => {
    if (wall.dataset.state === "live" && Date.now() - lastMessageAt > STALE_MS) {
      const seconds = Math.round((Date.now() - lastMessageAt) / 1000);
      show("stale", `Stale: nothing heard for ${seconds} s`);
    }
  }, 1000);

  connect();
})();
