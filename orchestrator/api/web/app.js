// laino's web dashboard: plain JavaScript over the HTTP API (docs/http.md), no build step.
// Everything a job wrote is shown as text, never as markup.
"use strict";

const STATES = ["QUEUED", "PROVISIONING", "ASSIGNED", "RUNNING", "RETRYING", "SUCCEEDED",
  "FAILED", "CANCELLED", "TIMED_OUT"];
const ENDED = ["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"];
const PALETTE = ["#4b5563", "#dc2626", "#16a34a", "#ca8a04", "#2563eb", "#c026d3", "#0891b2", "#9ca3af"];
const BRIGHT = ["#6b7280", "#f87171", "#4ade80", "#facc15", "#60a5fa", "#e879f9", "#22d3ee", "#f3f4f6"];

let me = null;
let timer = null;
let source = null;

const $ = (selector) => document.querySelector(selector);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== false && value !== undefined) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function csrf() {
  const found = document.cookie.match(/(?:^|; )laino_csrf=([^;]*)/);
  return found ? decodeURIComponent(found[1]) : "";
}

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: "same-origin" };
  if (method !== "GET") options.headers["X-CSRF-Token"] = csrf();
  if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const reply = await fetch(path, options);
  const json = (reply.headers.get("content-type") || "").includes("json");
  const data = json ? await reply.json() : await reply.text();
  if (!reply.ok) {
    if (reply.status === 401 && path !== "/session") showSignIn();
    throw new Error(data && data.error ? data.error.message : reply.statusText);
  }
  return data;
}

function stop() {
  clearInterval(timer);
  timer = null;
  if (source) source.close();
  source = null;
}

function every(seconds, work) {
  work();
  timer = setInterval(work, seconds * 1000);
}

// --- signing in ---

function showSignIn() {
  stop();
  me = null;
  $("#nav").hidden = true;
  $("#view").replaceChildren();
  $("#sign-in").hidden = false;
}

function signedIn(who) {
  me = who;
  $("#sign-in").hidden = true;
  $("#nav").hidden = false;
  $("#who").textContent = `${me.name} (${me.role})`;
  $("#nav-submit").hidden = me.role === "read";
  route();
}

$("#sign-in-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    signedIn(await api("POST", "/session", { token: $("#token").value }));
    $("#token").value = "";
    $("#sign-in-error").textContent = "";
  } catch (error) {
    $("#sign-in-error").textContent = error.message;
  }
});

$("#sign-out").addEventListener("click", async () => {
  await api("DELETE", "/session").catch(() => {});
  showSignIn();
});

// --- pages ---

function route() {
  stop();
  if (!me) return;
  const path = location.hash.slice(1) || "/";
  if (path.startsWith("/jobs/")) jobPage(path.slice(6));
  else if (path === "/workers") workersPage();
  else if (path === "/queues") queuesPage();
  else if (path === "/schedules") schedulesPage();
  else if (path.startsWith("/schedules/")) schedulePage(decodeURIComponent(path.slice(11)));
  else if (path === "/submit") submitPage();
  else jobsPage();
}

window.addEventListener("hashchange", route);

function ago(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 86400) return `${Math.floor(s / 86400)}d`;
  if (s >= 3600) return `${Math.floor(s / 3600)}h`;
  if (s >= 60) return `${Math.floor(s / 60)}m`;
  return `${s}s`;
}

function stateText(job) {
  return job.state === "QUEUED" && job.queue_position ? `QUEUED #${job.queue_position}` : job.state;
}

function tookText(job) {
  const end = ENDED.includes(job.state) ? job.updated_at : Date.now() / 1000;
  return `${(end - job.created_at).toFixed(1)}s`;
}

function jobsPage() {
  const state = el("select", { id: "state-filter", "aria-label": "state" },
    el("option", { value: "" }, "any state"), ...STATES.map((s) => el("option", { value: s }, s)));
  const label = el("input", { id: "label-filter", placeholder: "label KEY=VALUE", "aria-label": "label" });
  const search = el("input", { id: "search", type: "search", placeholder: "search commands", "aria-label": "search" });
  const size = el("select", { id: "page-size", "aria-label": "jobs a page" },
    ...[50, 200, 1000].map((n) => el("option", { value: n, selected: n === 200 }, `${n} a page`)));
  const newer = el("button", { id: "newer", type: "button" }, "← Newer");
  const older = el("button", { id: "older", type: "button" }, "Older →");
  const where = el("span", { id: "page", class: "muted" });
  const rows = el("tbody");
  const head = ["State", "Command", "Submitter", "Age", "Duration", "Attempt"].map((h) => el("th", {}, h));
  $("#view").replaceChildren(
    el("h1", {}, "Jobs"),
    el("div", { class: "filters" }, state, label, search, size),
    el("div", { class: "scroll" }, el("table", { id: "jobs" }, el("thead", {}, el("tr", {}, ...head)), rows)),
    el("div", { class: "filters" }, newer, where, older),
  );
  // The page tokens of the pages seen so far: the first page is the newest jobs, kept live.
  let pages = [""];
  let next = "";
  const load = async () => {
    const query = new URLSearchParams({ page_size: size.value });
    if (pages[pages.length - 1]) query.append("page_token", pages[pages.length - 1]);
    if (state.value) query.append("state", state.value);
    if (label.value.includes("=")) query.append("label", label.value.trim());
    const { jobs = [], next_page_token: token = "" } = await api("GET", `/v1/jobs?${query}`);
    next = token;
    newer.disabled = pages.length === 1;
    older.disabled = !next;
    where.textContent = `page ${pages.length}`;
    const term = search.value.toLowerCase();
    const now = Date.now() / 1000;
    rows.replaceChildren(...jobs
      .filter((job) => !term || job.spec.command.join(" ").toLowerCase().includes(term))
      .map((job) => el("tr", { class: "row", "data-id": job.id, onclick: () => { location.hash = `#/jobs/${job.id}`; } },
        el("td", { class: `state ${job.state}` }, stateText(job)),
        el("td", { class: "command", title: job.spec.command.join(" ") }, job.spec.command.join(" ")),
        el("td", {}, job.submitter),
        el("td", {}, ago(now - job.created_at)),
        el("td", {}, tookText(job)),
        el("td", {}, job.attempt))));
  };
  const first = () => { pages = [""]; load(); };
  for (const control of [state, label, size]) control.addEventListener("input", first);
  search.addEventListener("input", load);
  older.addEventListener("click", () => { if (next) { pages.push(next); load(); } });
  newer.addEventListener("click", () => { if (pages.length > 1) { pages.pop(); load(); } });
  every(2, load);
}

function workersPage() {
  const rows = el("tbody");
  const head = ["Worker", "Job", "Attempt", "State", "Provider", "Age", "Message"].map((h) => el("th", {}, h));
  $("#view").replaceChildren(el("h1", {}, "Workers"),
    el("div", { class: "scroll" }, el("table", { id: "workers" }, el("thead", {}, el("tr", {}, ...head)), rows)));
  every(2, async () => {
    const { workers = [] } = await api("GET", "/v1/workers?limit=200");
    const now = Date.now() / 1000;
    rows.replaceChildren(...workers.map((w) => el("tr", {},
      el("td", {}, w.id), el("td", {}, w.job_id || `(pool ${w.pool})`), el("td", {}, w.attempt),
      el("td", { class: `state ${w.state}` }, w.state), el("td", {}, w.provider),
      el("td", {}, ago(now - w.created_at)), el("td", {}, w.message))));
  });
}

function table(id, headings, rows) {
  return el("div", { class: "scroll" }, el("table", { id },
    el("thead", {}, el("tr", {}, ...headings.map((h) => el("th", {}, h)))), rows));
}

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}

// --- queues: each provider's places, its pools, and the jobs next in line ---

function queuesPage() {
  const queues = el("tbody");
  const pools = el("tbody");
  const line = el("tbody");
  $("#view").replaceChildren(
    el("h1", {}, "Queues"),
    table("queues", ["Provider", "Capacity", "Running", "Pooled", "Queued", "Longest wait"], queues),
    el("h2", {}, "Warm pools"),
    table("pools", ["Provider", "Image", "Size", "Warm", "Starting"], pools),
    el("h2", {}, "Next in line"),
    table("line", ["Place", "Command", "Submitter", "Provider", "Waiting"], line),
  );
  every(2, async () => {
    const now = Date.now() / 1000;
    const [{ queues: found = [] }, { pools: kept = [] }, { jobs = [] }] = await Promise.all([
      api("GET", "/v1/queues"), api("GET", "/v1/pools"), api("GET", "/v1/jobs?state=QUEUED&page_size=50"),
    ]);
    queues.replaceChildren(...found.map((q) => el("tr", { "data-provider": q.provider },
      el("td", {}, q.provider), el("td", {}, q.capacity),
      el("td", {}, `${q.running} (${Math.round((100 * q.running) / (q.capacity || 1))}%)`),
      el("td", {}, q.pooled), el("td", {}, q.queued),
      el("td", {}, q.queued ? ago(now - q.oldest_queued_at) : "-"))));
    pools.replaceChildren(...kept.map((p) => el("tr", {},
      el("td", {}, p.provider), el("td", {}, p.image || "(default)"), el("td", {}, p.size),
      el("td", {}, p.warm), el("td", {}, p.starting))));
    jobs.sort((a, b) => a.queue_position - b.queue_position);
    line.replaceChildren(...jobs.map((job) => el("tr", { class: "row", onclick: () => { location.hash = `#/jobs/${job.id}`; } },
      el("td", {}, `#${job.queue_position}`), el("td", { class: "command" }, job.spec.command.join(" ")),
      el("td", {}, job.submitter), el("td", {}, job.spec.provider), el("td", {}, ago(now - job.created_at)))));
  });
}

// --- schedules ---

function timing(schedule) {
  return schedule.cron ? `cron ${schedule.cron} (${schedule.timezone})` : `every ${schedule.every_seconds}s`;
}

function schedulesPage() {
  const rows = el("tbody");
  $("#view").replaceChildren(el("h1", {}, "Schedules"),
    table("schedules", ["Name", "When", "Next", "State", "Command", "Created by"], rows));
  every(5, async () => {
    const { schedules = [] } = await api("GET", "/v1/schedules");
    rows.replaceChildren(...schedules.map((s) => el("tr", { class: "row", "data-name": s.name, onclick: () => { location.hash = `#/schedules/${encodeURIComponent(s.name)}`; } },
      el("td", {}, s.name), el("td", {}, timing(s)), el("td", {}, when(s.next_fires[0])),
      el("td", { class: s.paused ? "state CANCELLED" : "state" }, s.paused ? "paused" : "active"),
      el("td", { class: "command" }, s.spec.command.join(" ")), el("td", {}, s.created_by))));
  });
}

function schedulePage(name) {
  const path = `/v1/schedules/${encodeURIComponent(name)}`;
  const summary = el("p", { id: "schedule-state" });
  const command = el("p", { class: "command muted" });
  const next = el("p", { class: "muted" });
  const error = el("p", { class: "error" });
  const pause = el("button", { id: "pause", type: "button" }, "Pause");
  const trigger = el("button", { id: "trigger", type: "button" }, "Run now");
  const remove = el("button", { id: "delete", class: "danger", type: "button" }, "Delete");
  const buttons = el("div", { class: "filters", hidden: me.role === "read" }, pause, trigger, remove);
  const runs = el("tbody");
  $("#view").replaceChildren(el("h1", {}, "Schedule ", el("span", { class: "muted" }, name)),
    summary, command, next, buttons, error, el("h2", {}, "Runs"),
    table("runs", ["Fired", "Job", "What", "State"], runs));
  let paused = false;
  const act = async (method, suffix, then) => {
    try {
      const reply = await api(method, path + suffix);
      error.textContent = "";
      if (then) then(reply);
      else load();
    } catch (failure) {
      error.textContent = failure.message;
    }
  };
  pause.addEventListener("click", () => act("POST", paused ? "/resume" : "/pause"));
  trigger.addEventListener("click", () => act("POST", "/trigger", (job) => { location.hash = `#/jobs/${job.id}`; }));
  remove.addEventListener("click", () => {
    if (confirm(`Delete the schedule ${name}?`)) act("DELETE", "", () => { location.hash = "#/schedules"; });
  });
  const load = async () => {
    let s;
    try {
      s = await api("GET", path);
    } catch (failure) {
      summary.textContent = failure.message;
      return;
    }
    paused = s.paused;
    pause.textContent = paused ? "Resume" : "Pause";
    summary.className = s.paused ? "state CANCELLED" : "state";
    summary.textContent = `${s.paused ? "paused" : "active"}: ${timing(s)}, catch-up ${s.catchup}, overlap ${s.overlap}`;
    command.textContent = s.spec.command.join(" ");
    next.textContent = s.next_fires.length ? `next: ${s.next_fires.map(when).join(", ")}` : "";
    runs.replaceChildren(...[...s.runs].reverse().map((r) => el("tr", {},
      el("td", {}, when(r.fire_time)),
      el("td", {}, r.job_id ? el("a", { href: `#/jobs/${r.job_id}` }, r.job_id) : ""),
      el("td", {}, r.what), el("td", { class: `state ${r.state}` }, r.job_id ? r.state : ""))));
  };
  every(2, load);
}

// --- submitting ---

function submitPage() {
  const field = (name, input) => el("label", {}, name, input);
  const command = el("input", { id: "command", required: true, placeholder: "make test" });
  const provider = el("select", { id: "provider" }, ...["process", "docker", "kubernetes"].map((p) => el("option", { value: p }, p)));
  const image = el("input", { id: "image", placeholder: "(the provider's default)" });
  const env = el("textarea", { id: "env", rows: 3, placeholder: "KEY=VALUE, one a line" });
  const labels = el("input", { id: "labels", placeholder: "team=web, ci=1" });
  const timeout = el("input", { id: "timeout", type: "number", min: 0, step: "any", placeholder: "seconds" });
  const error = el("p", { class: "error" });
  const form = el("form", { class: "submit", id: "submit-form" },
    field("Command (run by sh -c)", command), field("Provider", provider), field("Image", image),
    field("Environment", env), field("Labels", labels), field("Timeout", timeout),
    el("button", { type: "submit" }, "Submit"), error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const pairs = (text, split) => Object.fromEntries(text.split(split).map((p) => p.trim())
      .filter((p) => p.includes("=")).map((p) => [p.slice(0, p.indexOf("=")), p.slice(p.indexOf("=") + 1)]));
    const spec = {
      command: ["sh", "-c", command.value],
      provider: provider.value,
      image: image.value,
      env: pairs(env.value, "\n"),
      labels: pairs(labels.value, ","),
      timeout_seconds: Number(timeout.value || 0),
    };
    try {
      const { job } = await api("POST", "/v1/jobs", { spec });
      location.hash = `#/jobs/${job.id}`;
    } catch (failure) {
      error.textContent = failure.message;
    }
  });
  $("#view").replaceChildren(el("h1", {}, "Submit a job"), form);
}

// --- a job ---

function jobPage(id) {
  const path = `/v1/jobs/${encodeURIComponent(id)}`;
  const state = el("p", { id: "job-state", class: "state" });
  const command = el("p", { class: "command muted" });
  const cancel = el("button", { id: "cancel", class: "danger", type: "button", hidden: true }, "Cancel");
  const search = el("input", { id: "log-search", type: "search", placeholder: "search the log", "aria-label": "search the log" });
  const log = el("div", { id: "log", class: "log", role: "log" });
  const water = el("tbody");
  const events = el("tbody");
  const workers = el("tbody");
  const kept = el("tbody");
  $("#view").replaceChildren(
    el("h1", {}, "Job ", el("span", { class: "muted" }, id)), state, command, cancel,
    el("h2", {}, "Log"),
    el("div", { class: "filters" }, search, el("a", { href: `${path}/logs`, download: "output.log" }, "Download raw")),
    log,
    el("h2", {}, "Phases"), el("div", { class: "scroll" }, el("table", { id: "waterfall", class: "waterfall" }, water)),
    el("h2", {}, "Timeline"), el("div", { class: "scroll" }, el("table", { id: "timeline" }, events)),
    el("h2", {}, "Workers"), el("div", { class: "scroll" }, el("table", { id: "job-workers" }, workers)),
    el("h2", {}, "Artifacts"), el("div", { class: "scroll" }, el("table", { id: "artifacts" }, kept)),
  );
  const output = new Output(log);
  search.addEventListener("input", () => output.search(search.value));
  cancel.addEventListener("click", async () => {
    cancel.disabled = true;
    try {
      await api("POST", `${path}/cancel`);
    } catch (failure) {
      state.textContent = failure.message;
    }
  });
  follow(path, output);
  every(1, async () => {
    let job;
    try {
      job = await api("GET", path);
    } catch (failure) {
      state.textContent = failure.message;
      return;
    }
    const ended = ENDED.includes(job.state);
    const exit = ended && job.exit_code !== undefined ? ` (exit ${job.exit_code})` : "";
    state.className = `state ${job.state}`;
    state.textContent = stateText(job) + exit + (job.message ? `: ${job.message}` : "");
    command.textContent = job.spec.command.join(" ");
    cancel.hidden = me.role === "read" || ended;
    const { events: history = [] } = await api("GET", `${path}/events`);
    showTimeline(events, history);
    showPhases(water, await api("GET", `${path}/trace`));
    const { workers: all = [] } = await api("GET", "/v1/workers?limit=1000");
    workers.replaceChildren(...all.filter((w) => w.job_id === id).map((w) => el("tr", {},
      el("td", {}, w.id), el("td", {}, `attempt ${w.attempt}`), el("td", { class: `state ${w.state}` }, w.state),
      el("td", {}, w.provider), el("td", {}, w.pool ? `from pool ${w.pool}` : ""), el("td", {}, w.message))));
    // The job's state ends before its saga does: the worker is torn down after. The page
    // keeps drawing until the saga has finished too, or none began (cancelled while queued).
    const saga = history.filter((e) => e.source === "saga");
    if (ended && (!saga.length || saga.some((e) => e.type === "Finished"))) {
      clearInterval(timer);
      const { artifacts = [] } = await api("GET", `${path}/artifacts`);
      kept.replaceChildren(...artifacts.map((a) => el("tr", {},
        el("td", {}, el("a", { href: `${path}/artifacts/${a.path.split("/").map(encodeURIComponent).join("/")}`, download: a.path.split("/").pop() }, a.path)),
        el("td", {}, `${a.size} bytes`), el("td", { class: "command" }, a.sha256))));
    }
  });
}

function follow(path, output) {
  source = new EventSource(`${path}/logs?follow=true`);
  source.addEventListener("chunk", (event) => output.add(JSON.parse(event.data)));
  source.addEventListener("end", () => source && source.close());
}

class Output {
  constructor(node) {
    this.node = node;
    this.chunks = [];
    this.term = "";
    this.styles = { stdout: {}, stderr: {}, system: {} };
  }

  add(chunk) {
    const text = chunk.text !== undefined ? chunk.text
      : new TextDecoder().decode(Uint8Array.from(atob(chunk.base64), (c) => c.charCodeAt(0)));
    this.chunks.push({ stream: chunk.stream, text });
    if (!this.term) {
      const atEnd = this.node.scrollTop + this.node.clientHeight >= this.node.scrollHeight - 4;
      this.node.append(...this.render(chunk.stream, text));
      if (atEnd) this.node.scrollTop = this.node.scrollHeight;
    } else {
      this.search(this.term);
    }
  }

  search(term) {
    this.term = term;
    this.styles = { stdout: {}, stderr: {}, system: {} };
    const nodes = [];
    for (const { stream, text } of this.chunks) {
      const lines = term ? text.split(/(?<=\n)/).filter((line) => line.includes(term)) : [text];
      for (const line of lines) nodes.push(...this.render(stream, line));
    }
    this.node.replaceChildren(...nodes);
  }

  // Text with ANSI colours (SGR) as spans; other escape sequences are dropped.
  render(stream, text) {
    const style = this.styles[stream] || (this.styles[stream] = {});
    const nodes = [];
    const parts = text.split(/\x1b\[([0-9;]*)m/);
    parts.forEach((part, index) => {
      if (index % 2 === 1) {
        applySgr(style, part);
        return;
      }
      const clean = part.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
      if (!clean) return;
      if (stream === "stdout" && !style.color && !style.bold && !this.term) {
        nodes.push(document.createTextNode(clean));  // plain output: plain text
        return;
      }
      const span = el("span", { class: stream === "stdout" ? "" : stream });
      if (style.color) span.style.color = style.color;
      if (style.bold) span.classList.add("ansi-bold");
      this.mark(span, clean);
      nodes.push(span);
    });
    return nodes;
  }

  mark(span, text) {
    if (!this.term) {
      span.textContent = text;
      return;
    }
    const pieces = text.split(this.term);
    pieces.forEach((piece, index) => {
      if (index) span.append(el("mark", {}, this.term));
      span.append(piece);
    });
  }
}

function applySgr(style, codes) {
  for (const code of (codes || "0").split(";").map(Number)) {
    if (code === 0) { delete style.color; delete style.bold; }
    else if (code === 1) style.bold = true;
    else if (code === 22) delete style.bold;
    else if (code >= 30 && code <= 37) style.color = PALETTE[code - 30];
    else if (code >= 90 && code <= 97) style.color = BRIGHT[code - 90];
    else if (code === 39) delete style.color;
  }
}

function showTimeline(body, history) {
  const first = history.length ? history[0].timestamp : 0;
  body.replaceChildren(...history.map((event) => el("tr", {},
    el("td", {}, `+${(event.timestamp - first).toFixed(3)}s`), el("td", {}, event.source),
    el("td", {}, event.type), el("td", { class: "command" }, JSON.stringify(event.data).slice(0, 160)))));
}

// Where the time went, phase by phase, as `laino job trace` shows it.
function showPhases(body, trace) {
  const found = trace.phases;
  const total = found.reduce((sum, p) => sum + p.seconds, 0) || 1;
  body.replaceChildren(...found.map((p) => {
    const bar = el("div", { class: "bar" });
    bar.style.marginLeft = `${(100 * p.start) / total}%`;
    bar.style.width = `${(100 * p.seconds) / total}%`;
    const pool = trace.pools[String(p.attempt)];
    return el("tr", {}, el("td", {}, p.name), el("td", {}, p.attempt ? `attempt ${p.attempt}${pool ? ` (pool ${pool})` : ""}` : ""),
      el("td", {}, `${p.seconds.toFixed(3)}s${p.ongoing ? " so far" : ""}`), el("td", {}, bar));
  }));
}

api("GET", "/session").then(signedIn, showSignIn);
