"use strict";
// The Domains page (F10): add several at once, change a domain's status, set the global
// messaging limit. After each change the table is rebuilt from GET /api/domains. Roles that
// may not change domains get the table without its forms and buttons (May).

// Which command leaves which stored status (domain/link_domain.py's DOMAIN_TRANSITIONS).
const DOMAIN_COMMANDS = {
  configure: ["Pending", "Archived", "Blocked", "Declined"],
  block: ["Pending", "Configured", "Reached Limit"],
  decline: ["Pending"],
  archive: ["Pending", "Configured", "Blocked", "Declined", "Reached Limit"],
};

function domainRow(d) {
  const commands = Object.keys(DOMAIN_COMMANDS).filter((c) => DOMAIN_COMMANDS[c].includes(d.status));
  return el("tr", { id: "domain-" + d.name },
    el("td", { className: "domain-name" }, d.name),
    el("td", {}, el("span", { className: "dstatus dstatus-" + d.status.toLowerCase().replace(" ", "-") }, d.status)),
    el("td", { className: "usage" }, el("progress", { max: d.limit, value: Math.min(d.usage, d.limit) }), " " + d.usage + " / " + d.limit),
    el("td", {}, d.last_used_at ? d.last_used_at.slice(0, 19).replace("T", " ") : "–"),
    el("td", {}, d.created_at.slice(0, 10)),
    May.manage && el("td", { className: "col-action" }, commands.map((c) => [el("button", {
      type: "button", dataset: { domain: d.name, command: c },
      className: c === "block" || c === "decline" ? "danger" : null,
    }, c[0].toUpperCase() + c.slice(1)), " "])));
}

async function refreshDomains() {
  const answer = await Api.get("/api/domains");
  const body = clear(document.getElementById("domain-rows"));
  for (const d of answer.items) body.append(domainRow(d));
  if (!answer.items.length) body.append(el("tr", { className: "empty-row" }, el("td", { colspan: 6, className: "empty" }, "No domains yet.")));
  document.getElementById("total").textContent = String(answer.items.length);
  const limit = document.getElementById("domain-limit");
  if (limit) limit.value = answer.limit;
}

function namesFrom(text) {
  return text.split(/[\s,;]+/).map((n) => n.trim()).filter(Boolean);
}

document.getElementById("add-domains-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const names = namesFrom(document.getElementById("domain-names").value);
  try {
    const answer = await Api.post("/api/domains", { names });
    if (document.getElementById("configure-added").checked) {
      for (const d of answer.added) await Api.post("/api/domains/" + encodeURIComponent(d.name) + "/configure");
    }
    await refreshDomains();
    document.getElementById("domain-names").value = "";
    const known = answer.existing.map((d) => d.name);
    Notice.info("Added " + answer.added.length + " domain(s)" + (known.length ? "; already known: " + known.join(", ") : "") + ".");
  } catch (error) {
    Notice.problem(error);
  }
});

document.getElementById("limit-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    const answer = await Api.put("/api/settings/domain-limit", { limit: Number(document.getElementById("domain-limit").value) });
    await refreshDomains();
    Notice.info("The limit is now " + answer.limit + " messages per domain.");
  } catch (error) {
    Notice.problem(error);
  }
});

document.getElementById("domain-rows").addEventListener("click", async (event) => {
  const button = event.target.closest("[data-command]");
  if (!button) return;
  try {
    await Api.post("/api/domains/" + encodeURIComponent(button.dataset.domain) + "/" + button.dataset.command);
    await refreshDomains();
  } catch (error) {
    Notice.problem(error);
  }
});
