"use strict";
// The Pools page (F11): create a pool, add and remove its domains. A changed pool's card is
// rebuilt in place from the API's answer. Roles that may not change pools read the cards
// without the form and buttons (May).

const POOLS = document.getElementById("pools");
const ALL_DOMAINS = JSON.parse(POOLS.dataset.domains);

function poolCard(pool) {
  const choices = ALL_DOMAINS.filter((name) => !pool.domains.includes(name));
  return el("section", { className: "card padded pool", id: "pool-" + pool.id, dataset: { id: pool.id, version: pool.version } },
    el("h2", { className: "pool-name" }, pool.name),
    el("p", { className: "pool-description" }, pool.description || ""),
    el("ul", { className: "chips" }, pool.domains.length
      ? pool.domains.map((name) => el("li", { className: "chip" }, name,
        May.manage && [" ", el("button", { type: "button", className: "link danger", dataset: { remove: name }, "aria-label": "Remove " + name }, "×")]))
      : el("li", { className: "muted" }, "No domains in this pool.")),
    May.manage && el("div", { className: "row" },
      el("select", { className: "add-choice", "aria-label": "Domain to add" }, choices.map((name) => el("option", {}, name))),
      el("button", { type: "button", className: "add-domain" }, "Add domain")));
}

async function editPool(card, change) {
  try {
    const pool = await Api.patch("/api/domain-pools/" + card.dataset.id, { ...change, expected_version: Number(card.dataset.version) });
    card.replaceWith(poolCard(pool));
  } catch (error) {
    Notice.problem(error);
  }
}

POOLS.addEventListener("click", (event) => {
  const card = event.target.closest(".pool");
  if (!card) return;
  const remove = event.target.closest("[data-remove]");
  if (remove) editPool(card, { remove_domains: [remove.dataset.remove] });
  if (event.target.closest(".add-domain")) {
    const choice = card.querySelector(".add-choice").value;
    if (choice) editPool(card, { add_domains: [choice] });
  }
});

document.getElementById("create-pool-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const domains = [...document.querySelectorAll("input[name=pool-domain]:checked")].map((box) => box.value);
  try {
    const pool = await Api.post("/api/domain-pools", {
      name: document.getElementById("pool-name").value,
      description: document.getElementById("pool-description").value,
      domains,
    });
    POOLS.prepend(poolCard(pool));
    const total = document.getElementById("total");
    total.textContent = String(Number(total.textContent) + 1);
    event.target.reset();
    Notice.info("Created the pool “" + pool.name + "”.");
  } catch (error) {
    Notice.problem(error);
  }
});
