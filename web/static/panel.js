"use strict";
// The side panel (F3): a campaign's details form, stats, domains and history, opened from
// its name without leaving the list, and at /campaigns?open=<id>. Roles that may not edit
// read the details as text; the History tab is there only for roles that may audit (May).

const FINAL = ["Finished", "Aborted", "Rejected"];

function panelUrl(id) {
  const params = new URLSearchParams(location.search);
  if (id) params.set("open", id); else params.delete("open");
  const query = params.toString();
  return location.pathname + (query ? "?" + query : "");
}

const Panel = {
  root: document.getElementById("side-panel"),
  campaign: null,
  tab: "details",
  dirty: false, // the details form holds edits not yet saved

  async open(id, push) {
    if (push) history.pushState({ open: id }, "", panelUrl(id));
    this.root.hidden = false;
    this.root.dataset.campaign = id;
    document.getElementById("panel-title").textContent = "Loading…";
    try {
      this.show(await Api.get("/api/campaigns/" + encodeURIComponent(id)));
    } catch (error) {
      document.getElementById("panel-title").textContent = "Campaign not available";
      Notice.problem(error);
    }
  },

  show(campaign) {
    this.campaign = campaign;
    this.dirty = false;
    this.header();
    return this.select(this.tab);
  },

  close(push) {
    if (push) history.pushState({}, "", panelUrl(null));
    this.root.hidden = true;
    this.campaign = null;
  },

  header() {
    const c = this.campaign;
    document.getElementById("panel-title").textContent = c.name;
    const status = clear(document.getElementById("panel-status"));
    status.append(Rows.statusBadge(c), " ",
      el("small", { className: "muted" }, "version " + c.version + " · created " + utcTime(c.created_at)));
  },

  select(tab) {
    if (!document.getElementById("tab-" + tab)) tab = "details"; // a tab the role does not have
    this.tab = tab;
    for (const button of this.root.querySelectorAll("[role=tab]")) {
      button.setAttribute("aria-selected", String(button.dataset.tab === tab));
    }
    for (const panel of this.root.querySelectorAll("[role=tabpanel]")) {
      panel.hidden = panel.id !== "tab-" + tab;
    }
    // A tab renders off-page and replaces the shown one when ready; a render overtaken by a
    // newer one (another tab, fresh data) is dropped rather than shown twice.
    const token = (this.token = (this.token || 0) + 1);
    const body = document.getElementById("tab-" + tab);
    const target = el("div", { className: "tab-content" });
    const render = { details: detailsTab, stats: statsTab, domains: domainsTab, history: historyTab }[tab];
    if (!body.firstChild) body.append(el("p", { className: "muted" }, "Loading…"));
    return Promise.resolve(render(target, this.campaign)).then(() => {
      if (token === this.token) clear(body).append(target);
    });
  },
};

// Campaign Details: what section 1 of the product lets change in the current status.

function readOnlyDetails(body, c) {
  body.append(el("p", { className: "callout" },
    "This campaign is " + c.status + ", a final status: only Duplicate works now."),
  el("dl", { className: "facts" },
    el("dt", {}, "Description"), el("dd", {}, c.description || "–"),
    el("dt", {}, "Tags"), el("dd", {}, (c.tags || []).join(", ") || "–"),
    el("dt", {}, "Sender"), el("dd", {}, c.sender || "–"),
    el("dt", {}, "Reason"), el("dd", {}, c.status_reason || "–")));
}

function scheduleText(schedule) {
  if (!schedule) return "Any time";
  const days = WEEK_DAYS.filter(([day]) => schedule.days.includes(day)).map(([, label]) => label);
  return days.join(", ") + ", " + schedule.from + "–" + schedule.to + " " + (schedule.time_zone || "UTC");
}

function ruleText(rule) {
  const metric = (RULE_METRICS.find(([value]) => value === rule.metric) || [rule.metric, rule.metric])[1];
  const bound = rule.below !== undefined ? "below " + rule.below : "above " + rule.above;
  return "Suspend when " + metric + " is " + bound + " after " + (rule.after || 0) + " messages";
}

function indicatorsText(indicators) {
  const parts = [];
  if (indicators && indicators.red_below !== null) parts.push("red below " + indicators.red_below + "%");
  if (indicators && indicators.green_from !== null) parts.push("green from " + indicators.green_from + "%");
  return parts.join(", ") || "–";
}

function detailsAsText(body, c) {
  // For roles that may not edit: what the form would hold, as text, with nothing to save.
  const role = document.body.dataset.role;
  body.append(el("p", { className: "callout", id: "details-read-only" },
    "Read only: the " + role + " role may not change campaigns."),
  el("dl", { className: "facts", id: "details-facts" },
    el("dt", {}, "Name"), el("dd", {}, c.name),
    el("dt", {}, "Description"), el("dd", {}, c.description || "–"),
    el("dt", {}, "Tags"), el("dd", {}, (c.tags || []).join(", ") || "–"),
    el("dt", {}, "Sender"), el("dd", {}, c.sender || "–"),
    el("dt", {}, "Variants"), el("dd", {}, (c.variants || []).length
      ? c.variants.map((v, i) => el("p", { className: "variant-text" },
        el("strong", {}, "Variant " + (i + 1) + " (weight " + v.weight + "): "), v.text))
      : "–"),
    el("dt", {}, "Sending schedule"), el("dd", {}, scheduleText(c.sending_schedule)),
    el("dt", {}, "Auto-pause rules"), el("dd", {}, (c.pause_rules || []).length
      ? c.pause_rules.map((rule) => el("p", {}, ruleText(rule)))
      : "None"),
    el("dt", {}, "CTR indicators"), el("dd", {}, indicatorsText(c.ctr_indicators)),
    el("dt", {}, "Reason"), el("dd", {}, c.status_reason || "–")));
}

function variantWeights(c) {
  // Only the ratio changes once launched; each variant keeps its id and text.
  const total = () => rows.reduce((sum, r) => sum + (Number(r.input.value) || 0), 0);
  const rows = (c.variants || []).map((v, i) => {
    const input = el("input", { type: "number", min: 1, step: 1, value: v.weight,
      id: "detail-weight-" + i, dataset: { variantId: v.id }, "aria-label": "Weight of variant " + (i + 1) });
    const share = el("span", { className: "share" });
    return { v, input, share, node: el("div", { className: "variant-weight" },
      el("p", { className: "variant-text" }, el("strong", {}, "Variant " + (i + 1) + ": "), v.text),
      el("label", { className: "inline" }, "Weight ", input, " ", share)) };
  });
  const update = () => rows.forEach((r) => {
    r.share.textContent = total() ? Math.round((Number(r.input.value) || 0) * 100 / total()) + "% of recipients not yet reached" : "";
  });
  rows.forEach((r) => r.input.addEventListener("input", update));
  update();
  return {
    node: el("fieldset", { className: "editor" }, el("legend", {}, "Variants ratio"),
      rows.length ? rows.map((r) => r.node) : el("p", { className: "muted" }, "No variants yet.")),
    value: () => rows.map((r) => ({ id: r.v.id, weight: Number(r.input.value) })),
  };
}

function detailsTab(body, c) {
  if (!May.manage) return detailsAsText(body, c);
  if (FINAL.includes(c.status)) return readOnlyDetails(body, c);
  const name = el("input", { id: "detail-name", value: c.name, required: true, maxlength: 200 });
  const description = el("textarea", { id: "detail-description", rows: 2, maxlength: 2000 });
  description.value = c.description || "";
  const tags = el("input", { id: "detail-tags", value: (c.tags || []).join(", ") });
  const weights = variantWeights(c);
  const schedule = scheduleEditor(c.sending_schedule, "detail");
  const rules = rulesEditor(c.pause_rules, "detail");
  const indicators = indicatorsEditor(c.ctr_indicators, "detail");
  const conflict = el("div", { id: "details-conflict", className: "conflict", role: "alert", hidden: true });
  const saved = el("p", { id: "details-saved", className: "saved", role: "status" });
  const form = el("form", { id: "details-form", className: "details-form", dataset: { version: c.version } },
    c.status === "Draft"
      ? el("p", { className: "callout" }, "A Draft: recipients, messages and sending are set in the ",
        el("a", { href: "/campaigns/" + c.id + "/wizard", id: "continue-wizard" }, "wizard"), ".")
      : el("p", { className: "hint" }, "While " + c.status + ", these stay editable; message texts, audience and sender are fixed."),
    labelled("Name", name), labelled("Description", description),
    labelled("Tags", tags, "comma-separated"),
    weights.node, schedule.node, rules.node, indicators.node,
    conflict, saved,
    el("div", { className: "form-buttons" }, el("button", { type: "submit", className: "primary", id: "details-save" }, "Save changes")));
  form.addEventListener("input", () => { Panel.dirty = true; saved.textContent = ""; });
  const collect = () => ({
    name: name.value, description: description.value, tags: tagsFrom(tags.value),
    variants: weights.value(), sending_schedule: schedule.value(), pause_rules: rules.value(),
    ctr_indicators: indicators.value(),
  });
  // Only the fields the user changed are sent, so saving over someone else's newer version
  // keeps their changes to the other fields.
  const initial = Object.fromEntries(Object.entries(collect()).map(([k, v]) => [k, JSON.stringify(v)]));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = Object.fromEntries(Object.entries(collect()).filter(([k, v]) => JSON.stringify(v) !== initial[k]));
    if (!Object.keys(changes).length) { saved.textContent = "Nothing changed."; return; }
    saveDetails(form, changes);
  });
  body.append(form);
}

async function saveDetails(form, changes) {
  const id = Panel.campaign.id;
  const conflict = document.getElementById("details-conflict");
  const body = { ...changes, expected_version: Number(form.dataset.version) };
  try {
    const campaign = await Api.patch("/api/campaigns/" + id, body);
    await Panel.show(campaign);
    announce(campaign);
    document.getElementById("details-saved").textContent = "Saved: the campaign is now at version " + campaign.version + ".";
  } catch (error) {
    if (error.code === "version_conflict") showConflict(form, changes);
    else Notice.problem(error);
  }
}

function showConflict(form, changes) {
  // The user's input stays in the form; they choose whether to overwrite or reload.
  const conflict = clear(document.getElementById("details-conflict"));
  conflict.append(
    el("strong", {}, "Not saved: this campaign changed while you were editing it."),
    el("p", {}, "You started from version " + form.dataset.version + "; someone else (or the " +
      "sending engine) has saved a newer version since. Your changes are still in the form."),
    el("div", { className: "form-buttons" },
      el("button", { type: "button", id: "conflict-overwrite", className: "primary", onclick: async () => {
        try {
          const latest = await Api.get("/api/campaigns/" + Panel.campaign.id);
          form.dataset.version = latest.version;
          await saveDetails(form, changes);
        } catch (error) { Notice.problem(error); }
      } }, "Save my changes over it"),
      el("button", { type: "button", id: "conflict-reload", onclick: () => Panel.open(Panel.campaign.id, false) },
        "Reload (discard mine)")));
  conflict.hidden = false;
}

// Campaign Stats (F7).

const STAT_FIGURES = [["recipients", "Recipients"], ["queued", "Queued"], ["sent", "Sent"],
  ["delivered", "Delivered"], ["undelivered", "Undelivered"], ["failed", "Failed"],
  ["no_route", "No route"], ["rejected", "Rejected by carrier"], ["unknown", "Unknown (no answer)"],
  ["delivery_rate", "Delivery rate", "%"],
  ["clicks", "Clicks"], ["unique_clicks", "Unique clicks"], ["ctr", "CTR", "%"],
  ["opt_outs", "Opt-outs"], ["replies", "Replies"], ["cost", "Cost"], ["cost_per_message", "Cost per message"],
  ["suppressed", "Suppressed"], ["cancelled", "Cancelled"]];

function figureText(value, unit) {
  if (value === null || value === undefined) return "–";
  return unit === "%" ? Number(value).toFixed(2) + "%" : String(value);
}

function asOfForm(c, asOf) {
  // Time travel (F14): the figures as they stood at a past moment (UTC).
  const moment = el("input", { type: "datetime-local", id: "stats-as-of", value: asOf ? asOf.slice(0, 16) : "" });
  const form = el("form", { className: "row as-of" }, labelled("As of (UTC)", moment),
    el("button", { type: "submit" }, "Show"),
    asOf ? el("button", { type: "button", onclick: () => Panel.select("stats") }, "Now") : null);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = document.getElementById("tab-stats");
    const target = el("div", { className: "tab-content" });
    statsTab(target, c, moment.value ? moment.value + ":00Z" : null).then(() => clear(body).append(target));
  });
  return form;
}

async function statsTab(body, c, asOf) {
  let stats;
  try {
    stats = await Api.get("/api/campaigns/" + c.id + "/stats" + (asOf ? "?as_of=" + encodeURIComponent(asOf) : ""));
  } catch (error) {
    body.append(asOfForm(c, asOf), el("p", { className: "error" }, error.message));
    return;
  }
  body.dataset.asOf = asOf || "";
  body.append(asOfForm(c, asOf),
    el("div", { className: "figures", id: "stats-figures" }, STAT_FIGURES.map(([key, label, unit]) =>
      el("div", { className: "figure", dataset: { figure: key } },
        el("span", { className: "figure-value" }, figureText(stats[key], unit)),
        el("span", { className: "figure-label" }, label)))),
    el("p", { className: "muted" }, "Started " + (utcTime(stats.started_at) || "–") +
      " · finished " + (utcTime(stats.finished_at) || "–")),
    stats.series.length
      ? lineChart(stats.series, [{ key: "sent", label: "Sent", cls: "m1" },
        { key: "delivered", label: "Delivered", cls: "m2" }, { key: "clicks", label: "Clicks", cls: "m3" }],
      "Per minute")
      : el("p", { className: "muted" }, "No messages sent yet."),
    (stats.by_variant || []).length
      ? barChart(stats.by_variant.map((v, i) => ({ label: "Variant " + (i + 1) + " (weight " + (v.weight || "–") + ")", values: v })),
        [{ key: "sent", label: "Sent", cls: "m1" }, { key: "delivered", label: "Delivered", cls: "m2" },
          { key: "unique_clicks", label: "Unique clicks", cls: "m3" }], "By variant")
      : "",  // append() would show null as text
    (stats.by_domain || []).length
      ? barChart(stats.by_domain.map((d) => ({ label: d.domain, values: d })),
        [{ key: "sent", label: "Sent", cls: "m1" }, { key: "unique_clicks", label: "Unique clicks", cls: "m3" }], "By domain")
      : "",
    el("button", { type: "button", id: "stats-refresh", onclick: () => Panel.select("stats") }, "Refresh"));
}

// Domains: the campaign's link domains with their usage, and a quick add.

function linkDomainNames(link, pools) {
  const names = [...(link.domains || [])];
  const pool = pools.find((p) => p.id === link.pool);
  for (const name of pool ? pool.domains : []) if (!names.includes(name)) names.push(name);
  return { names, pool };
}

function usageBar(domain) {
  return el("span", { className: "usage" },
    el("progress", { max: domain.limit, value: Math.min(domain.usage, domain.limit) }),
    " " + domain.usage + " / " + domain.limit);
}

function domainTable(names, byName) {
  return el("table", { className: "compact" },
    el("thead", {}, el("tr", {}, el("th", {}, "Domain"), el("th", {}, "Status"), el("th", {}, "Usage"))),
    el("tbody", {}, names.map((name) => {
      const d = byName[name];
      return el("tr", { id: "panel-domain-" + name },
        el("td", {}, name),
        el("td", {}, d ? el("span", { className: "dstatus dstatus-" + d.status.toLowerCase().replace(" ", "-") }, d.status) : "unknown"),
        el("td", {}, d ? usageBar(d) : ""));
    })));
}

async function domainsTab(body, c) {
  let domains, pools;
  try {
    [domains, pools] = await Promise.all([Api.get("/api/domains"), Api.get("/api/domain-pools")]);
  } catch (error) {
    body.append(el("p", { className: "error" }, error.message));
    return;
  }
  const byName = Object.fromEntries(domains.items.map((d) => [d.name, d]));
  if (c.status === "Suspended") body.append(suspensionBox(c));
  body.append(el("p", { className: "muted" }, "Global limit: " + domains.limit + " messages per domain. ",
    el("a", { href: "/domains" }, May.manage ? "Manage domains" : "All domains")));
  const links = c.links || {};
  for (const kind of ["short", "optout"]) {
    if (!links[kind]) continue;
    const { names, pool } = linkDomainNames(links[kind], pools.items);
    body.append(el("h3", {}, LINKS[kind].label + (pool ? " · pool " : ""), pool ? el("em", {}, pool.name) : null),
      names.length ? domainTable(names, byName) : el("p", { className: "muted" }, "No domains."));
  }
  if (!Object.keys(links).length) body.append(el("p", { className: "muted" }, "This campaign has no links yet."));
  if (May.manage && !FINAL.includes(c.status)) body.append(quickAddForm(c));
}

function suspensionBox(c) {
  return el("div", { className: "callout warning", id: "suspension" },
    el("strong", {}, "Suspended: "), c.status_reason || "",
    May.manage && el("div", { className: "form-buttons" },
      el("button", { type: "button", className: "primary", id: "panel-resume", onclick: async () => {
        try {
          const campaign = await Api.post("/api/campaigns/" + c.id + "/resume", { command_id: commandId() });
          Panel.show(campaign);
          announce(campaign);
          Notice.info("Resumed “" + campaign.name + "”.");
        } catch (error) { Notice.problem(error); }
      } }, "Resume")));
}

function quickAddForm(c) {
  const names = el("input", { id: "quick-domain", placeholder: "go3.example.com, out3.example.com", required: true });
  const kinds = Object.keys(c.links || {}).length ? Object.keys(c.links) : ["short", "optout"];
  const boxes = kinds.map((kind) => ({ kind, box: el("input", { type: "checkbox", checked: true, id: "quick-" + kind }) }));
  const form = el("form", { className: "quick-add card", id: "quick-add-form" },
    el("h3", {}, "Quick add"),
    labelled("Domains", names, "added, configured, and given to the links ticked below"),
    el("div", { className: "checks" }, boxes.map((b) => el("label", { className: "check" }, b.box, " " + LINKS[b.kind].label))),
    el("button", { type: "submit", className: "primary", id: "quick-add" }, "Add and configure"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const wanted = names.value.split(/[\s,]+/).map((n) => n.trim().toLowerCase()).filter(Boolean);
    quickAdd(c, wanted, boxes.filter((b) => b.box.checked).map((b) => b.kind));
  });
  return form;
}

async function quickAdd(c, names, kinds) {
  try {
    const answer = await Api.post("/api/domains", { names });
    for (const domain of [...answer.added, ...answer.existing]) {
      if (domain.status === "Pending") await Api.post("/api/domains/" + encodeURIComponent(domain.name) + "/configure");
    }
    const links = JSON.parse(JSON.stringify(c.links || {}));
    for (const kind of kinds) {
      const link = links[kind] || (links[kind] = { domains: [] });
      link.domains = [...(link.domains || []), ...names.filter((n) => !(link.domains || []).includes(n))];
    }
    const campaign = await Api.patch("/api/campaigns/" + c.id, { links, expected_version: c.version });
    Panel.show(campaign);
    announce(campaign);
    Notice.info("Added " + names.join(", ") + (campaign.status === "Suspended" ? ": Resume is now possible." : "."));
  } catch (error) {
    Notice.problem(error);
  }
}

// History (F13).

function historyQuery(filters) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value) params.set(key, value);
  const query = params.toString();
  return query ? "?" + query : "";
}

function historyFilters(c, filters, body) {
  const actor = el("input", { id: "history-actor", value: filters.actor || "", placeholder: "alice, system" });
  const type = el("input", { id: "history-type", value: filters.type || "", placeholder: "Paused, Edited" });
  const from = el("input", { type: "date", id: "history-from", value: filters.from || "" });
  const to = el("input", { type: "date", id: "history-to", value: filters.to || "" });
  const form = el("form", { className: "row history-filters" },
    labelled("Actor", actor), labelled("Event", type), labelled("From", from), labelled("To", to),
    el("button", { type: "submit" }, "Filter"),
    el("a", { className: "button", id: "history-export", download: "history-" + c.id + ".json",
      href: "/api/campaigns/" + c.id + "/history" + historyQuery(filters) }, "Export"),
    el("a", { className: "button", id: "history-csv", download: "history-" + c.id + ".csv",
      href: "/api/campaigns/" + c.id + "/history" + historyQuery({ ...filters, format: "csv" }) }, "CSV"),
    el("a", { className: "button", id: "history-audit",
      href: "/campaigns/" + c.id + "/audit" + historyQuery(filters) }, "Audit page"),
    el("a", { className: "button", id: "history-time-travel",
      href: "/campaigns/" + c.id + "/at" }, "Time travel"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = { actor: actor.value.trim(), type: type.value.trim(), from: from.value, to: to.value };
    historyTab(clear(body), c, chosen);
  });
  return form;
}

async function historyTab(body, c, filters) {
  filters = filters || {};
  let rows;
  try {
    rows = await Api.get("/api/campaigns/" + c.id + "/history" + historyQuery(filters));
  } catch (error) {
    body.append(el("p", { className: "error" }, error.message));
    return;
  }
  body.append(historyFilters(c, filters, body), el("table", { className: "compact history", id: "history" },
    el("thead", {}, el("tr", {}, ["Time (UTC)", "Event", "Actor", "Status", "Reason", "Version"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((row) => el("tr", {},
      el("td", {}, utcTime(row.at).replace(" UTC", "")),
      el("td", {}, row.type.split(".").pop()),
      el("td", {}, row.actor),
      el("td", {}, row.from_status && row.from_status !== row.to_status
        ? row.from_status + " → " + row.to_status : row.to_status || ""),
      el("td", {}, row.reason || "", row.details ? el("small", { className: "muted history-details" }, " (" + row.details + ")") : null),
      el("td", { className: "num" }, String(row.version))))),
    rows.length ? null : el("caption", {}, "No events match.")));
}

// Wiring.

Panel.root.querySelector(".tabs").addEventListener("click", (event) => {
  const button = event.target.closest("[role=tab]");
  if (button && Panel.campaign) Panel.select(button.dataset.tab);
  else if (button) Panel.tab = button.dataset.tab; // still loading: it opens on this tab
});
Panel.root.querySelector(".tabs").addEventListener("keydown", (event) => {
  // Arrow keys move between the tabs, as in any tab list.
  const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
  if (!step || !Panel.campaign) return;
  const tabs = [...Panel.root.querySelectorAll("[role=tab]")];
  const next = tabs[(tabs.findIndex((t) => t.dataset.tab === Panel.tab) + step + tabs.length) % tabs.length];
  Panel.select(next.dataset.tab);
  next.focus();
});
document.getElementById("panel-close").addEventListener("click", () => Panel.close(true));
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape" && !Panel.root.hidden && !document.querySelector("dialog[open]")) Panel.close(true);
});
document.addEventListener("campaign-changed", (event) => {
  const c = event.detail;
  if (!Panel.campaign || Panel.campaign.id !== c.id || Panel.campaign === c) return;
  // Fresh data replaces the panel unless the user has unsaved edits in the details form.
  if (Panel.dirty && Panel.tab === "details") { Panel.campaign = { ...Panel.campaign, status: c.status }; return; }
  Panel.show(c);
});
window.addEventListener("popstate", () => {
  const id = new URLSearchParams(location.search).get("open");
  if (id) Panel.open(id, false); else Panel.close(false);
});
if (Panel.root.dataset.open) Panel.open(Panel.root.dataset.open, false);

// The stats of a campaign on the move refresh every few seconds while the tab is shown
// (not when looking at a past moment).
setInterval(() => {
  const shown = document.querySelector("#tab-stats .tab-content");
  if (Panel.root.hidden || Panel.tab !== "stats" || !Panel.campaign || !shown || shown.dataset.asOf) return;
  if (document.activeElement && document.activeElement.id === "stats-as-of") return; // being typed in
  if (MOVING.includes(Panel.campaign.status)) Panel.select("stats");
}, 5000);
