"use strict";
// The create wizard (F4): five steps, each saved as the Draft it builds (POST on the first
// save, then PATCH with the version it was read at); Summary asks for the estimate and
// launches. Leaving early leaves a Draft that /campaigns/<id>/wizard continues.

const DATA = JSON.parse(document.getElementById("wizard-data").textContent);
const FORM = document.getElementById("wizard");
const CODE_LENGTH = 10; // domain/dispatch.py: short link codes are this long
const Wizard = { campaign: DATA.campaign, step: Number(FORM.dataset.step) };
const $ = (id) => document.getElementById(id);

// Step 3: variants, with their live length, encoding, parts and a cost estimate.

function sampleUrl(kind) {
  // As long as a real link: https://<domain>/s/<code>, on the first chosen domain.
  const link = Links.value()[kind === "s" ? "short" : "optout"];
  const pool = link && DATA.pools.find((p) => p.id === link.pool);
  const domain = (link && link.domains && link.domains[0]) || (pool && pool.domains[0]) || "example.com";
  return "https://" + domain + "/" + kind + "/" + "x".repeat(CODE_LENGTH);
}

function renderedForCount(text) {
  // Links at their real length; contact placeholders are counted as written.
  return text.replaceAll("{short_url}", sampleUrl("s")).replaceAll("{optout_url}", sampleUrl("o"));
}

const Variants = {
  rows: [],
  box: $("variants"),

  add(variant) {
    const index = this.rows.length;
    const text = el("textarea", { rows: 3, maxlength: 1600, className: "variant-input", "aria-label": "Message text" });
    text.value = variant.text || "";
    const weight = el("input", { type: "number", min: 1, step: 1, value: variant.weight || 1, className: "weight-input", "aria-label": "Weight" });
    const count = el("small", { className: "counter" });
    const row = { id: variant.id || null, text, weight, count };
    row.node = el("div", { className: "variant card" },
      el("div", { className: "variant-head" }, el("strong", { className: "variant-title" }),
        el("label", { className: "inline" }, "Weight ", weight),
        el("button", { type: "button", className: "link danger", onclick: () => this.remove(row) }, "Remove")),
      text, el("div", { className: "placeholders" }, this.placeholderButtons(text)), count);
    text.addEventListener("input", () => this.update());
    weight.addEventListener("input", () => this.update());
    this.rows.push(row);
    this.box.append(row.node);
    this.update();
    return index;
  },

  remove(row) {
    this.rows = this.rows.filter((r) => r !== row);
    row.node.remove();
    this.update();
  },

  placeholderButtons(text) {
    const insert = (name) => {
      const at = text.selectionStart ?? text.value.length;
      text.value = text.value.slice(0, at) + "{" + name + "}" + text.value.slice(text.selectionEnd ?? at);
      text.dispatchEvent(new Event("input"));
      text.focus();
    };
    const names = ["short_url", "optout_url", ...chosenColumns()];
    return ["Insert: ", ...names.map((name) => el("button", { type: "button", className: "chip-button", onclick: () => insert(name) }, "{" + name + "}"))];
  },

  update() {
    const totalWeight = this.rows.reduce((sum, r) => sum + (Number(r.weight.value) || 0), 0);
    this.rows.forEach((row, i) => {
      row.node.querySelector(".variant-title").textContent = "Variant " + (i + 1);
      const seg = smsSegments(renderedForCount(row.text.value));
      const share = totalWeight ? Math.round((Number(row.weight.value) || 0) * 100 / totalWeight) : 0;
      row.count.textContent = `${seg.characters} characters as sent · ${seg.encoding} · ${seg.parts} SMS part${seg.parts === 1 ? "" : "s"} · ${share}% of recipients`;
      row.count.dataset.parts = seg.parts;
      row.count.dataset.encoding = seg.encoding;
    });
    liveEstimate(totalWeight);
  },

  refreshPlaceholders() {
    // The lists chosen in step 2 decide which contact placeholders there are.
    for (const row of this.rows) {
      const box = row.node.querySelector(".placeholders");
      clear(box);
      appendAll(box, this.placeholderButtons(row.text));
    }
    this.update();
  },

  value() {
    return this.rows.map((r) => ({ ...(r.id ? { id: r.id } : {}), text: r.text.value, weight: Number(r.weight.value) || 1 }));
  },
};

function chosenListIds() {
  return [...document.querySelectorAll("input[name=contact_list]:checked")].map((box) => box.value);
}

function chosenColumns() {
  const ids = chosenListIds();
  const columns = DATA.lists.filter((l) => ids.includes(l.id)).flatMap((l) => l.columns);
  return [...new Set(columns)].filter((c) => c !== "phone");
}

function liveEstimate(totalWeight) {
  // Before suppression and at the default price; the Summary asks the server for the real one.
  const contacts = DATA.lists.filter((l) => chosenListIds().includes(l.id)).reduce((sum, l) => sum + l.accepted, 0);
  const price = Number(DATA.prices[""] || 0);
  let parts = 0;
  for (const row of Variants.rows) {
    const share = totalWeight ? (Number(row.weight.value) || 0) / totalWeight : 0;
    parts += share * contacts * smsSegments(renderedForCount(row.text.value)).parts;
  }
  $("live-estimate").textContent = `About ${Math.round(parts)} SMS parts to ${contacts} contacts: ≈ ${(parts * price).toFixed(2)} ` +
    `at the default price of ${price} per part (the Summary gives the exact estimate).`;
}

// Step 3: the Short URL target and the Opt-out URL, each with a pool or chosen domains.

const Links = {
  editors: {},

  build(links) {
    const box = $("links");
    for (const { kind, label, placeholder } of LINK_KINDS) {
      const link = links[kind] || {};
      const target = kind === "short" ? el("input", { type: "url", id: "short-target", value: link.target || "", placeholder: "https://shop.example.com/spring" }) : null;
      const pool = el("select", { id: kind + "-pool" }, el("option", { value: "" }, "no pool"),
        DATA.pools.map((p) => el("option", { value: p.id, selected: p.id === link.pool }, p.name + " (" + p.domains.length + " domains)")));
      const domains = DATA.domains.map((d) => ({ name: d.name, box: el("input", { type: "checkbox", value: d.name, checked: (link.domains || []).includes(d.name) }), d }));
      this.editors[kind] = { target, pool, domains };
      box.append(el("fieldset", { className: "editor", id: kind + "-link" },
        el("legend", {}, label + " ({" + placeholder + "})"),
        target ? labelled("Target address", target) : null,
        el("div", { className: "row" }, labelled("Domain pool", pool)),
        el("div", { className: "field" }, el("span", { className: "label" }, "Or / and chosen domains"),
          domains.length
            ? el("div", { className: "checks" }, domains.map((x) => el("label", { className: "check" }, x.box, " " + x.name + " ",
              el("small", { className: "muted" }, "(" + x.d.status + ")"))))
            : el("p", { className: "muted" }, "No domains yet: ", el("a", { href: "/domains" }, "add some"), "."))));
    }
    box.addEventListener("change", () => Variants.update()); // link lengths count in the parts
  },

  value() {
    const links = {};
    for (const [kind, editor] of Object.entries(this.editors)) {
      const chosen = editor.domains.filter((x) => x.box.checked).map((x) => x.name);
      const link = { pool: editor.pool.value || null, domains: chosen };
      if (editor.target) link.target = editor.target.value.trim() || null;
      if (link.pool || chosen.length || link.target) links[kind] = link;
    }
    return links;
  },
};

// Step 4: start time, schedule, pause rules, CTR indicators.

const Sending = {
  build(c) {
    this.schedule = scheduleEditor(c ? c.sending_schedule : null, "wizard");
    this.rules = rulesEditor(c ? c.pause_rules : [], "wizard");
    this.indicators = indicatorsEditor(c ? c.ctr_indicators : { red_below: 1.5, green_from: 4 }, "wizard");
    $("sending-editors").append(this.schedule.node, this.rules.node, this.indicators.node);
  },

  startAt() {
    if (!$("start-later").checked || !$("start-at").value) return null;
    return $("start-at").value + ":00Z"; // the field is read as UTC
  },
};

// Each step's fields, as the API takes them.

function stepFields(step) {
  if (step === 1) {
    return {
      name: $("name").value, description: $("description").value, tags: tagsFrom($("tags").value),
      type: FORM.querySelector("input[name=type]:checked").value, stream: $("stream").value || null,
      sender: $("sender").value.trim() || null,
    };
  }
  if (step === 2) return { contact_lists: chosenListIds() };
  if (step === 3) return { variants: Variants.value(), links: Links.value() };
  if (step === 4) {
    return { start_at: Sending.startAt(), sending_schedule: Sending.schedule.value(),
      pause_rules: Sending.rules.value(), ctr_indicators: Sending.indicators.value() };
  }
  return {};
}

async function saveStep(step) {
  const fields = stepFields(step);
  if (!Wizard.campaign) {
    Wizard.campaign = await Api.post("/api/campaigns", fields);
  } else if (Object.keys(fields).length) {
    Wizard.campaign = await Api.patch("/api/campaigns/" + Wizard.campaign.id,
      { ...fields, expected_version: Wizard.campaign.version });
  }
  syncVariantIds();
  $("wizard-saved").textContent = "Draft saved (version " + Wizard.campaign.version + ").";
}

function syncVariantIds() {
  // The server gives new variants ids; later saves name them so the Draft keeps them.
  const saved = Wizard.campaign.variants || [];
  Variants.rows.forEach((row, i) => { if (saved[i]) row.id = saved[i].id; });
}

function goTo(step) {
  Wizard.step = step;
  for (const section of FORM.querySelectorAll(".step")) section.hidden = Number(section.dataset.step) !== step;
  for (const button of document.querySelectorAll("#steps [data-step]")) {
    const n = Number(button.dataset.step);
    button.disabled = !Wizard.campaign && n > 1;
    if (n === step) button.setAttribute("aria-current", "step"); else button.removeAttribute("aria-current");
  }
  $("wizard-back").hidden = step === 1;
  $("wizard-next").hidden = step === 5;
  $("launch").hidden = step !== 5;
  if (Wizard.campaign) history.replaceState({}, "", "/campaigns/" + Wizard.campaign.id + "/wizard?step=" + step);
  if (step === 3) Variants.refreshPlaceholders();
  if (step === 5) loadSummary();
}

async function saveAndGo(target) {
  try {
    await saveStep(Wizard.step);
    goTo(target);
  } catch (error) {
    if (error.code === "version_conflict") {
      Notice.show("This Draft changed elsewhere since this page read it; nothing was saved. " +
        "Your input is still here: reload the page to see the other changes.");
    } else {
      Notice.problem(error);
    }
  }
}

// Step 5: the Summary and Launch.

function summaryFacts(c, estimate) {
  const list = (items) => items.length ? el("ul", {}, items.map((x) => el("li", {}, x))) : "none";
  return el("dl", { className: "facts", id: "summary-facts" },
    el("dt", {}, "Campaign"), el("dd", {}, c.name),
    el("dt", {}, "Type · stream"), el("dd", {}, (TYPE_LABELS[c.type] || c.type) + " · " + (c.stream || "–")),
    el("dt", {}, "Sender ID"), el("dd", {}, c.sender || "–"),
    el("dt", {}, "Recipients"), el("dd", { id: "summary-recipients" }, String(estimate.recipients) + " after removing duplicates and opted-out numbers"),
    el("dt", {}, "SMS parts"), el("dd", { id: "summary-parts" }, String(estimate.parts)),
    el("dt", {}, "Estimated cost"), el("dd", { id: "summary-cost" }, estimate.cost +
      (estimate.cost_per_message ? " (" + estimate.cost_per_message + " per message)" : "")),
    el("dt", {}, "Start"), el("dd", {}, c.start_at ? utcTime(c.start_at) : "now"),
    el("dt", {}, "Problems"), el("dd", {}, list(estimate.problems)),
    el("dt", {}, "Missing steps"), el("dd", { id: "summary-missing" }, list(c.missing_steps || [])));
}

function variantTable(estimate) {
  return el("table", { className: "compact", id: "summary-variants" },
    el("thead", {}, el("tr", {}, ["Variant", "Weight", "As a contact gets it", "Encoding", "Parts", "Recipients", "Cost"].map((h) => el("th", {}, h)))),
    el("tbody", {}, estimate.variants.map((v, i) => el("tr", {},
      el("td", {}, String(i + 1)), el("td", {}, String(v.weight)),
      el("td", { className: "variant-text" }, v.sample), el("td", {}, v.encoding),
      el("td", { className: "num" }, String(v.parts)), el("td", { className: "num" }, String(v.recipients)),
      el("td", { className: "num" }, v.cost)))));
}

async function loadSummary() {
  const box = clear($("summary"));
  box.append(el("p", { className: "muted" }, "Loading the estimate…"));
  try {
    const [campaign, estimate] = await Promise.all([
      Api.get("/api/campaigns/" + Wizard.campaign.id), Api.get("/api/campaigns/" + Wizard.campaign.id + "/estimate")]);
    Wizard.campaign = campaign;
    clear(box).append(summaryFacts(campaign, estimate), variantTable(estimate));
  } catch (error) {
    clear(box).append(el("p", { className: "error" }, error.message));
  }
}

async function launch() {
  const problems = $("launch-problems");
  try {
    const campaign = await Api.post("/api/campaigns/" + Wizard.campaign.id + "/launch",
      { expected_version: Wizard.campaign.version, command_id: crypto.getRandomValues(new Uint32Array(4)).join("-") });
    location.assign("/campaigns?open=" + campaign.id);
  } catch (error) {
    const lines = problemLines(error.details);
    clear(problems).append(el("strong", {}, "Not launched: " + error.message),
      lines.length ? el("ul", {}, lines.map((line) => el("li", {}, line))) : null);
    problems.hidden = false;
  }
}

// Wiring.

const initial = Wizard.campaign || {};
Links.build(initial.links || {});
(initial.variants && initial.variants.length ? initial.variants : [{ text: "", weight: 1 }]).forEach((v) => Variants.add(v));
Sending.build(Wizard.campaign);
function showChosenContacts() {
  const chosen = DATA.lists.filter((l) => chosenListIds().includes(l.id));
  const contacts = chosen.reduce((sum, l) => sum + l.accepted, 0);
  $("chosen-contacts").textContent = chosen.length
    ? `${chosen.length} list${chosen.length === 1 ? "" : "s"} chosen: ${contacts} contacts before duplicates and opt-outs are removed.`
    : "No list chosen yet.";
}
showChosenContacts();
$("step-2").addEventListener("change", showChosenContacts);
$("add-variant").addEventListener("click", () => Variants.add({ text: "", weight: 1 }));
FORM.addEventListener("submit", (event) => { event.preventDefault(); saveAndGo(Wizard.step + 1); });
$("wizard-back").addEventListener("click", () => saveAndGo(Wizard.step - 1));
$("launch").addEventListener("click", launch);
$("start-at").addEventListener("input", () => { $("start-later").checked = true; });
$("steps").addEventListener("click", (event) => {
  const button = event.target.closest("[data-step]");
  if (button && !button.disabled) saveAndGo(Number(button.dataset.step));
});
goTo(Wizard.step);
