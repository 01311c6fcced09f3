"use strict";
// The Streams page (F17): the table is rebuilt from GET /api/streams every 2 seconds (the
// line above it says when it last was, and turns red when it could not be). Roles that may
// change streams also get a form to add one and a form to change one; the API's problems
// are listed next to the form that caused them. Secrets are never shown nor filled in: a
// secret field left empty keeps the secret as it is.

const REFRESH_MS = 2000;
const TABLE = document.getElementById("streams");
const CARRIER_NAMES = JSON.parse(TABLE.dataset.carrierNames);
let streams = JSON.parse(TABLE.dataset.streams); // as last read, for the change form
let refreshedAt = new Date();

function dash(value) {
  return value === null || value === undefined || value === "" ? "–" : value;
}

function linkCells(link) {
  if (!link) {
    return [el("td", { className: "link-state muted" }, "simulated"),
      el("td", { className: "num" }, "–"), el("td", { className: "num" }, "–"), el("td", {}, "–")];
  }
  return [
    el("td", { className: "link-state" },
      el("span", { className: "lstate lstate-" + link.state }, link.state),
      link.error && el("small", { className: "link-error" }, link.error)),
    el("td", { className: "num" }, link.in_flight + " / " + dash(link.window)),
    el("td", { className: "num" }, Number(link.per_second).toFixed(1)),
    el("td", {}, link.last_receipt_at ? link.last_receipt_at.slice(0, 19).replace("T", " ") : "–"),
  ];
}

function streamRow(s) {
  return el("tr", { id: "stream-" + s.name },
    el("td", { className: "stream-name" }, s.name),
    el("td", {}, CARRIER_NAMES[s.carrier] || s.carrier),
    el("td", { className: "num" }, s.rate ? String(s.rate) : "unlimited"),
    el("td", {}, s.enabled ? "Yes" : "No"),
    el("td", { className: "owner" }, s.owner ? s.owner.process : "–"),
    linkCells(s.link),
    May.manage && el("td", { className: "col-action" },
      el("button", { type: "button", dataset: { edit: s.name } }, "Edit")));
}

function showStreams(items) {
  streams = items;
  const body = clear(document.getElementById("stream-rows"));
  for (const s of items) body.append(streamRow(s));
  document.getElementById("total").textContent = String(items.length);
  const choice = document.getElementById("edit-name");
  if (choice) {
    const names = items.map((s) => s.name);
    const shown = [...choice.options].map((o) => o.value);
    if (names.join("\n") !== shown.join("\n")) {
      const chosen = choice.value;
      clear(choice);
      for (const name of names) choice.append(el("option", { value: name, selected: name === chosen }, name));
    }
  }
}

function clockTime(moment) {
  return moment.toISOString().slice(11, 19) + " UTC";
}

async function refresh() {
  const line = document.getElementById("refreshed");
  try {
    const answer = await Api.get("/api/streams");
    showStreams(answer.items);
    refreshedAt = new Date();
    line.classList.remove("stale");
    line.textContent = "Refreshed at " + clockTime(refreshedAt) + ", every 2 seconds.";
  } catch (error) {
    line.classList.add("stale");
    line.textContent = "Not refreshed since " + clockTime(refreshedAt) + ": " + error.message;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}

// The forms.

function showCarrier(form, carrier) {
  // Only the carrier's own settings are shown and sent.
  for (const fieldset of form.querySelectorAll(".carrier-settings")) {
    const mine = fieldset.dataset.carrier === carrier;
    fieldset.hidden = !mine;
    fieldset.disabled = !mine;
  }
}

function settingsOf(form, creating) {
  // Creating: what is filled in (the defaults take the rest). Changing: every field shown,
  // but secrets only when given.
  const settings = {};
  const fieldset = form.querySelector(".carrier-settings:not([disabled])");
  for (const input of fieldset.querySelectorAll("[data-setting]")) {
    const key = input.dataset.setting;
    if (input.type === "checkbox") settings[key] = input.checked;
    else if (input.type === "password") { if (input.value) settings[key] = input.value; }
    else if (input.type === "number") { if (input.value.trim() !== "") settings[key] = Number(input.value); }
    else if (input.value !== "" || !creating) settings[key] = input.value;
  }
  return settings;
}

function showProblems(box, error) {
  box.querySelector(".problem-text").textContent = error.message;
  const lines = clear(box.querySelector(".problem-lines"));
  for (const line of error instanceof ApiProblem ? problemLines(error.details) : []) lines.append(el("li", {}, line));
  box.hidden = false;
}

function fillChange(name) {
  const form = document.getElementById("edit-stream-form");
  const s = streams.find((each) => each.name === name);
  if (!form || !s) return;
  document.getElementById("edit-name").value = s.name;
  document.getElementById("edit-rate").value = s.rate;
  document.getElementById("edit-enabled").checked = s.enabled;
  form.dataset.version = s.version;
  showCarrier(form, s.carrier);
  const fieldset = form.querySelector(".carrier-settings:not([disabled])");
  for (const input of fieldset.querySelectorAll("[data-setting]")) {
    const key = input.dataset.setting;
    const value = s.settings[key];
    if (input.type === "password") {
      input.value = "";
      input.placeholder = s.secrets.includes(key) ? "set; leave empty to keep it" : "not set; leave empty to keep it so";
    } else if (input.type === "checkbox") {
      input.checked = Boolean(value);
    } else {
      input.value = value === null || value === undefined ? "" : String(value);
    }
  }
  document.getElementById("edit-stream-problems").hidden = true;
}

const addForm = document.getElementById("add-stream-form");
if (addForm) {
  const carrier = document.getElementById("add-carrier");
  showCarrier(addForm, carrier.value);
  carrier.addEventListener("change", () => showCarrier(addForm, carrier.value));
  addForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = document.getElementById("add-stream-problems");
    const rate = document.getElementById("add-rate").value.trim();
    const body = {
      name: document.getElementById("add-name").value.trim(),
      carrier: carrier.value,
      settings: settingsOf(addForm, true),
    };
    if (rate !== "") body.rate = Number(rate);
    try {
      const stream = await Api.post("/api/streams", body);
      problems.hidden = true;
      addForm.reset();
      showCarrier(addForm, carrier.value);
      showStreams([...streams.filter((s) => s.name !== stream.name), stream].sort((a, b) => a.name.localeCompare(b.name)));
      Notice.info("Added the stream " + stream.name + ".");
    } catch (error) {
      showProblems(problems, error);
    }
  });
}

const changeForm = document.getElementById("edit-stream-form");
if (changeForm) {
  const choice = document.getElementById("edit-name");
  if (choice.value) fillChange(choice.value);
  choice.addEventListener("change", () => fillChange(choice.value));
  document.getElementById("stream-rows").addEventListener("click", (event) => {
    const button = event.target.closest("[data-edit]");
    if (!button) return;
    fillChange(button.dataset.edit);
    changeForm.scrollIntoView({ behavior: "smooth", block: "nearest" });
    document.getElementById("edit-rate").focus();
  });
  changeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = document.getElementById("edit-stream-problems");
    const rate = document.getElementById("edit-rate").value.trim();
    const body = {
      enabled: document.getElementById("edit-enabled").checked,
      settings: settingsOf(changeForm, false),
      expected_version: Number(changeForm.dataset.version),
    };
    if (rate !== "") body.rate = Number(rate);
    try {
      const stream = await Api.patch("/api/streams/" + encodeURIComponent(choice.value), body);
      problems.hidden = true;
      showStreams(streams.map((s) => (s.name === stream.name ? stream : s)));
      fillChange(stream.name);
      Notice.info("Saved the stream " + stream.name + ".");
    } catch (error) {
      showProblems(problems, error);
    }
  });
}

setTimeout(refresh, REFRESH_MS);
