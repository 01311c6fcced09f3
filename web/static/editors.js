"use strict";
// Editors for the campaign settings that both the side panel and the wizard edit: the
// sending schedule, the auto-pause rules and the CTR indicators. Each returns its node and a
// value() in the API's shape (the OpenAPI document's campaign fields).

const WEEK_DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"],
  ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"]];
const RULE_METRICS = [["ctr", "CTR (%)"], ["failure_rate", "Failure rate (%)"],
  ["optout_rate", "Opt-out rate (%)"], ["cost", "Cost"]];
const TIME_ZONES = ["UTC", "Europe/London", "Europe/Berlin", "Europe/Paris", "Europe/Madrid",
  "Europe/Kyiv", "America/New_York", "America/Chicago", "America/Los_Angeles",
  "America/Sao_Paulo", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo",
  "Australia/Sydney"];

function labelled(text, input, hint) {
  return el("label", { className: "field" }, el("span", { className: "label" }, text), input,
    hint ? el("small", { className: "hint" }, hint) : null);
}

function numberOrNull(input) {
  return input.value.trim() === "" ? null : Number(input.value);
}

function scheduleEditor(schedule, prefix) {
  const on = el("input", { type: "checkbox", id: prefix + "-schedule-on", checked: Boolean(schedule) });
  const current = schedule || { days: ["mon", "tue", "wed", "thu", "fri"], from: "09:00", to: "20:00", time_zone: "UTC" };
  const days = WEEK_DAYS.map(([day, label]) => {
    const box = el("input", { type: "checkbox", value: day, id: prefix + "-day-" + day, checked: current.days.includes(day) });
    return { day, box, node: el("label", { className: "check" }, box, " " + label) };
  });
  const from = el("input", { type: "time", value: current.from, id: prefix + "-schedule-from" });
  const to = el("input", { type: "time", value: current.to, id: prefix + "-schedule-to" });
  const zoneList = el("datalist", { id: prefix + "-zones" }, TIME_ZONES.map((z) => el("option", { value: z })));
  const zone = el("input", { value: current.time_zone, list: prefix + "-zones", id: prefix + "-schedule-zone" });
  const details = el("div", { className: "schedule-details" },
    el("div", { className: "checks days" }, days.map((d) => d.node)),
    el("div", { className: "row" }, labelled("From", from), labelled("To", to),
      labelled("Time zone", zone), zoneList));
  const sync = () => { details.hidden = !on.checked; };
  on.addEventListener("change", sync);
  sync();
  const node = el("fieldset", { className: "editor schedule" },
    el("legend", {}, "Sending schedule"),
    el("label", { className: "check" }, on, " Send only on these days, within this daily window"),
    details);
  return {
    node,
    value() {
      if (!on.checked) return null; // any time
      return { days: days.filter((d) => d.box.checked).map((d) => d.day),
        from: from.value, to: to.value, time_zone: zone.value.trim() || "UTC" };
    },
  };
}

function ruleRow(rule, onRemove) {
  const metric = el("select", { "aria-label": "Metric" },
    RULE_METRICS.map(([value, label]) => el("option", { value, selected: rule.metric === value }, label)));
  const direction = el("select", { "aria-label": "Direction" },
    el("option", { value: "below", selected: "below" in rule }, "below"),
    el("option", { value: "above", selected: "above" in rule }, "above"));
  const bound = el("input", { type: "number", min: 0, step: "any", "aria-label": "Value",
    value: rule.below !== undefined ? rule.below : (rule.above !== undefined ? rule.above : "") });
  const after = el("input", { type: "number", min: 0, step: 1, "aria-label": "After messages", value: rule.after || 0 });
  const node = el("div", { className: "rule-row" }, "Suspend when ", metric, " is ", direction, " ", bound,
    " after ", after, " messages ",
    el("button", { type: "button", className: "link danger", onclick: () => onRemove(row) }, "Remove"));
  const row = {
    node,
    value() {
      return { metric: metric.value, [direction.value]: Number(bound.value || 0), after: Number(after.value || 0) };
    },
  };
  return row;
}

function rulesEditor(rules, prefix) {
  const list = el("div", { className: "rules", id: prefix + "-rules" });
  let rows = [];
  const remove = (row) => { rows = rows.filter((r) => r !== row); row.node.remove(); };
  const add = (rule) => { const row = ruleRow(rule, remove); rows.push(row); list.append(row.node); };
  (rules || []).forEach(add);
  const node = el("fieldset", { className: "editor rules-editor" },
    el("legend", {}, "Auto-pause rules"),
    list,
    el("button", { type: "button", className: "link", id: prefix + "-add-rule",
      onclick: () => add({ metric: "ctr", below: 1, after: 500 }) }, "+ Add a rule"));
  return { node, value: () => rows.map((r) => r.value()) };
}

function indicatorsEditor(indicators, prefix) {
  const red = el("input", { type: "number", min: 0, max: 100, step: "any", id: prefix + "-red-below",
    value: indicators ? indicators.red_below : "" });
  const green = el("input", { type: "number", min: 0, max: 100, step: "any", id: prefix + "-green-from",
    value: indicators ? indicators.green_from : "" });
  const node = el("fieldset", { className: "editor indicators" },
    el("legend", {}, "CTR indicators"),
    el("div", { className: "row" },
      labelled("Red below (%)", red), labelled("Green from (%)", green)),
    el("small", { className: "hint" }, "Amber between the two; leave both empty for no colours."));
  return {
    node,
    value() {
      const low = numberOrNull(red);
      const high = numberOrNull(green);
      return low === null && high === null ? null : { red_below: low, green_from: high };
    },
  };
}

function tagsFrom(text) {
  return [...new Set(text.split(",").map((t) => t.trim()).filter(Boolean))];
}
