"use strict";
// Shared by every page: calls to the JSON API, a notice for its errors, and a small DOM
// builder. Data from the API only ever reaches the page as text nodes or attribute values,
// never as markup, so names full of <script> stay text.

class ApiProblem extends Error {
  // The API's error format: {"error": {"code", "message", "details"?}}.
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

// What the signed-in role may do (base.html's <body>, from the server's access rules): the
// scripts build only the controls it may use, as the templates do.
const May = {
  manage: document.body.dataset.mayManage === "true",
  audit: document.body.dataset.mayAudit === "true",
  replay: document.body.dataset.mayReplay === "true",
};

// Each link's kind, label and placeholder, in order (base.html's <body>, from the server's
// one list), and the same by kind.
const LINK_KINDS = JSON.parse(document.body.dataset.linkKinds || "[]");
const LINKS = Object.fromEntries(LINK_KINDS.map((link) => [link.kind, link]));

function cookie(name) {
  const found = document.cookie.split("; ").find((part) => part.startsWith(name + "="));
  return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
}

function signInAgain() {
  // The session ended (expired, revoked, signed out elsewhere): back here after signing in.
  const here = location.pathname + location.search;
  location.assign("/sign-in?" + new URLSearchParams({ next: here }));
}

const Api = {
  async call(method, path, body) {
    // The session's CSRF token, which the server compares with the one it keeps for the
    // session: a page of another site can make the browser send the cookie, not this header.
    const options = {
      method,
      headers: { Accept: "application/json", "X-CSRF-Token": cookie("campaigns_csrf") },
    };
    if (body instanceof FormData) {
      options.body = body; // the browser sets the multipart boundary
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      throw new ApiProblem(0, "network", "The server cannot be reached: " + error.message);
    }
    const data = await response.json().catch(() => null);
    if (response.status === 401) signInAgain();
    if (!response.ok) {
      const problem = (data && data.error) || {};
      throw new ApiProblem(
        response.status,
        problem.code || "http_" + response.status,
        problem.message || response.statusText || "The request failed",
        problem.details,
      );
    }
    return data;
  },
  get(path) { return this.call("GET", path); },
  post(path, body) { return this.call("POST", path, body === undefined ? {} : body); },
  patch(path, body) { return this.call("PATCH", path, body); },
  put(path, body) { return this.call("PUT", path, body); },
};

// el("a", {href: "/x", className: "y", onclick: fn}, "text", child, [more]) builds elements;
// strings become text nodes, null and false are skipped.
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "className") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "value" || key === "checked" || key === "selected") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  appendAll(node, children);
  return node;
}

function appendAll(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// The page-wide notice: errors and confirmations people must not miss.

function problemLines(details) {
  // Details worth listing: rejected fields, missing steps, what still blocks a resume.
  if (!details) return [];
  if (Array.isArray(details)) {
    return details.map((d) => (d && d.field ? d.field + ": " + d.message : JSON.stringify(d)));
  }
  return [...(details.missing || []), ...(details.still_blocking || [])];
}

const Notice = {
  show(message, lines, kind) {
    const box = document.getElementById("notice");
    box.className = "notice notice-" + (kind || "error");
    document.getElementById("notice-text").textContent = message;
    const list = clear(document.getElementById("notice-details"));
    for (const line of lines || []) list.append(el("li", {}, line));
    box.hidden = false;
    // Confirmations fade on their own; errors stay until closed.
    clearTimeout(this.timer);
    if (kind === "info") this.timer = setTimeout(() => { box.hidden = true; }, 8000);
  },
  problem(error) {
    if (error instanceof ApiProblem) this.show(error.message, problemLines(error.details));
    else this.show(String(error && error.message ? error.message : error));
  },
  info(message) { this.show(message, [], "info"); },
  hide() { document.getElementById("notice").hidden = true; },
};

document.getElementById("notice-close").addEventListener("click", () => Notice.hide());

// Formats shared by the list and the side panel.

const TYPE_LABELS = {
  outbound: "Outbound only",
  two_way: "Inbound & outbound",
  transactional: "Transactional",
};

function utcTime(iso) {
  // "2026-03-01T09:00:00.000000Z" -> "2026-03-01 09:00:00 UTC"
  return iso ? iso.slice(0, 19).replace("T", " ") + " UTC" : "";
}

function ctrClass(ctr, indicators) {
  if (ctr === null || ctr === undefined) return "ctr ctr-none";
  if (!indicators) return "ctr";
  if (ctr < indicators.red_below) return "ctr ctr-red";
  if (ctr >= indicators.green_from) return "ctr ctr-green";
  return "ctr ctr-amber";
}

function ctrText(ctr) {
  return ctr === null || ctr === undefined ? "–" : Number(ctr).toFixed(2) + "%";
}
