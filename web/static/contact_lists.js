"use strict";
// The Contact lists page (F16): a multipart upload to POST /api/contact-lists, then the
// accepted count and every rejected line with its number and reason. Roles that may not
// upload have no form (May).

function listRow(c) {
  return el("tr", { id: "list-" + c.id },
    el("td", { className: "list-name" }, c.name),
    el("td", { className: "num" }, String(c.accepted)),
    el("td", { className: "num" }, String(c.rejected_total)),
    el("td", {}, (c.columns || []).map((col) => [el("code", { className: "tag" }, "{" + col + "}"), " "])),
    el("td", {}, utcTime(c.created_at)));
}

function showResult(title, summary, rejected) {
  document.getElementById("upload-result").hidden = false;
  document.getElementById("result-title").textContent = title;
  document.getElementById("result-summary").textContent = summary;
  const table = document.getElementById("rejected-lines");
  const body = clear(table.querySelector("tbody"));
  for (const line of rejected) {
    body.append(el("tr", {}, el("td", { className: "num" }, String(line.line)), el("td", {}, line.reason)));
  }
  table.hidden = rejected.length === 0;
}

function rejectedLines(details) {
  // A refused upload may list its bad lines as {line, reason} in the error's details.
  return Array.isArray(details) ? details.filter((d) => d && d.line !== undefined) : [];
}

document.getElementById("upload-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData();
  form.append("file", document.getElementById("csv-file").files[0]);
  const name = document.getElementById("list-name").value.trim();
  if (name) form.append("name", name);
  const button = document.getElementById("upload");
  button.disabled = true;
  try {
    const result = await Api.call("POST", "/api/contact-lists", form);
    showResult("Imported “" + result.name + "”",
      result.accepted + " contacts accepted, " + result.rejected_total + " lines rejected" +
      (result.duplicates ? " (" + result.duplicates + " duplicates)" : "") + "." +
      (result.rejected_total > result.rejected.length ? " The first " + result.rejected.length + " are listed." : ""),
    result.rejected);
    const listed = await Api.get("/api/contact-lists/" + result.id);
    for (const empty of document.querySelectorAll("#list-rows .empty-row")) empty.remove();
    document.getElementById("list-rows").prepend(listRow(listed));
    const total = document.getElementById("total");
    total.textContent = String(Number(total.textContent) + 1);
    event.target.reset();
  } catch (error) {
    showResult("Not imported", error.message, rejectedLines(error.details));
    Notice.problem(error);
  } finally {
    button.disabled = false;
  }
});
