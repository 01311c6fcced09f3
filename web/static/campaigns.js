"use strict";
// The campaigns list: row actions through the JSON API. A changed campaign is announced with
// a "campaign-changed" event; its row is then rebuilt in place from the API's answer, with
// the same markup as web/templates/_campaign_row.html (no action cell for roles that may not
// command campaigns).

const Rows = {
  body: document.getElementById("campaign-rows"),

  find(id) { return document.getElementById("campaign-" + id); },

  statusBadge(c) {
    const name = "status status-" + c.status.toLowerCase();
    if (c.status_reason && (c.status === "Suspended" || c.status === "Rejected")) {
      // The reason on hover: a title for assistive tools, a tooltip people can see.
      return el("span", { className: name + " has-reason", title: c.status_reason, tabindex: 0 },
        c.status, el("span", { className: "tooltip", role: "tooltip" }, c.status_reason));
    }
    return el("span", { className: name, title: c.status_reason || null }, c.status);
  },

  actionCell(c) {
    if (!May.manage) return null;
    const allowed = c.allowed_commands || [];
    let main = null;
    if (allowed.includes("pause")) {
      main = el("button", { type: "button", className: "action", dataset: { command: "pause" } }, "Pause");
    } else if (allowed.includes("resume")) {
      main = el("button", { type: "button", className: "action primary", dataset: { command: "resume" } }, "Resume");
    } else if (c.status === "Draft") {
      main = el("a", { className: "button action", href: "/campaigns/" + c.id + "/wizard" }, "Continue");
    }
    const menu = el("details", { className: "row-menu" },
      el("summary", { "aria-label": "More actions" }, "⋯"),
      el("div", { className: "menu-items" },
        el("button", { type: "button", dataset: { command: "duplicate" } }, "Duplicate"),
        allowed.includes("unschedule")
          ? el("button", { type: "button", dataset: { command: "unschedule" } }, "Unschedule")
          : null,
        allowed.includes("abort")
          ? el("button", { type: "button", className: "danger", dataset: { command: "abort" } }, "Abort")
          : null));
    return el("td", { className: "col-action" }, main, " ", menu);
  },

  render(c) {
    const recipients = c.recipients || { total: 0, sent: 0 };
    return el("tr", { id: "campaign-" + c.id, dataset: { id: c.id, version: c.version, status: c.status } },
      el("td", { className: "col-name" },
        el("a", { className: "campaign-name", href: "/campaigns?open=" + c.id, dataset: { open: c.id } }, c.name),
        el("small", { className: "created" }, utcTime(c.created_at))),
      el("td", { className: "col-status" }, this.statusBadge(c)),
      el("td", {}, c.stream || ""),
      el("td", {}, (c.tags || []).map((tag) => [el("span", { className: "tag" }, tag), " "])),
      el("td", {}, TYPE_LABELS[c.type] || c.type || ""),
      el("td", { className: "col-recipients" },
        el("progress", { max: recipients.total || 1, value: recipients.sent }),
        el("small", {}, recipients.sent + " / " + recipients.total)),
      el("td", { className: "col-ctr" },
        el("span", { className: ctrClass(c.ctr, c.ctr_indicators) }, ctrText(c.ctr))),
      el("td", {}, c.sender || ""),
      el("td", { className: "num" }, c.cost),
      this.actionCell(c));
  },

  replace(c) {
    const old = this.find(c.id);
    if (old) old.replaceWith(this.render(c));
  },

  prepend(c) {
    // The list is newest first: a duplicate goes on top.
    for (const empty of this.body.querySelectorAll(".empty-row")) empty.remove();
    this.body.prepend(this.render(c));
    const total = document.getElementById("total");
    total.textContent = String(Number(total.textContent) + 1);
  },
};

function commandId() {
  // Makes a retried click harmless: the API applies a command id once.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function announce(campaign) {
  document.dispatchEvent(new CustomEvent("campaign-changed", { detail: campaign }));
}

function confirmAbort(name) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent =
    "Abort “" + name + "”? No more messages will be sent; this cannot be undone.";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

async function runCommand(id, command, name) {
  if (command === "abort" && !(await confirmAbort(name))) return;
  try {
    if (command === "duplicate") {
      const copy = await Api.post("/api/campaigns/" + id + "/duplicate", { command_id: commandId() });
      Rows.prepend(copy);
      Notice.info("Duplicated as the Draft “" + copy.name + "”.");
      return;
    }
    const campaign = await Api.post("/api/campaigns/" + id + "/" + command, { command_id: commandId() });
    announce(campaign);
  } catch (error) {
    Notice.problem(error);
  }
}

document.addEventListener("campaign-changed", (event) => Rows.replace(event.detail));

// An open menu (a row's, the status filter's) closes when the user clicks elsewhere.
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.row-menu[open], .status-filter details[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});

Rows.body.addEventListener("click", (event) => {
  const button = event.target.closest("[data-command]");
  if (button) {
    const row = button.closest("tr");
    const menu = button.closest("details");
    if (menu) menu.open = false;
    const name = row.querySelector(".campaign-name").textContent;
    runCommand(row.dataset.id, button.dataset.command, name);
    return;
  }
  const link = event.target.closest("[data-open]");
  if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
    event.preventDefault(); // open the panel without leaving the list
    Panel.open(link.dataset.open, true);
  }
});

// Rows of campaigns on the move are refreshed every few seconds, so progress, status and
// cost stay current without a reload (the realtime page is the place for a live view).
const MOVING = ["Processing", "Ready", "Scheduled", "Started", "Sending"];
const REFRESH_MS = 3000;

async function refreshMovingRows() {
  const rows = [...Rows.body.querySelectorAll("tr[data-status]")].filter((r) => MOVING.includes(r.dataset.status));
  for (const row of rows) {
    try {
      const campaign = await Api.get("/api/campaigns/" + row.dataset.id);
      if (String(campaign.version) !== row.dataset.version) announce(campaign); // status or settings changed
      else if (!row.querySelector(".row-menu[open]")) Rows.replace(campaign); // progress only
    } catch (error) {
      // A failed refresh is retried on the next tick; actions report their own errors.
    }
  }
  setTimeout(refreshMovingRows, REFRESH_MS);
}
setTimeout(refreshMovingRows, REFRESH_MS);
