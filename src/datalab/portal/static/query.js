// The query page: check and run ADQL, follow the job, page through its result with
// filters, sorting and a row selection, download it, save it, reopen earlier queries.
// Every value from the server is put on the page as text (Portal.el), never as HTML.
"use strict";

(() => {
  const app = document.getElementById("query-app");
  if (!app) return;
  const $ = (id) => document.getElementById(id);
  const API = "/portal/api";
  const OPERATORS = ["=", "!=", "<", "<=", ">", ">=", "contains", "starts with", "is null", "is not null"];
  const NO_VALUE = new Set(["is null", "is not null"]);
  const LONG_TEXT = 60;
  const hardLimit = Number(app.dataset.hardLimit) || 1000;

  const state = {
    job: null,        // the query shown (as GET /portal/api/queries/<id> gives it)
    follow: 0,        // bumped whenever another job is shown: stale polls stop
    ticking: null,
    columns: [],
    offset: 0,
    sort: "",
    order: "asc",
    filters: new Map(), // column name -> {op, value}
    selection: new Set(), // row ids
    total: 0,
    rowIds: [],
    loading: 0,
    lastSaved: "",
  };

  const editor = new AdqlEditor.Editor($("adql"), $("adql-view"), {
    onRun: () => run(),
    onEdit: () => {
      const message = $("check-message");
      if (message.classList.contains("error")) Portal.say(message, "", "");
    },
  });

  // -- small helpers ---------------------------------------------------------------

  function fmtInt(n) { return Number(n).toLocaleString("en-US"); }

  function fmtElapsed(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const m = Math.floor(seconds / 60);
    const s = Math.floor(seconds % 60);
    return `${m} min ${String(s).padStart(2, "0")} s`;
  }

  function fmtTime(iso) {
    return iso ? iso.replace("T", " ").replace(/\.\d+/, "").replace("Z", "") : "";
  }

  function showError(element, error, fallback) {
    const text = error instanceof Portal.ApiError || error instanceof Error ? error.message : String(error || fallback);
    Portal.say(element, text, "error");
  }

  function pageSize() { return Number($("page-size").value) || 50; }

  function setEnabled(ids, on) { for (const id of ids) $(id).disabled = !on; }

  function resultReady() { return Boolean(state.job && state.job.phase === "COMPLETED"); }

  // -- checking and running ---------------------------------------------------------

  async function check() {
    const message = $("check-message");
    const query = editor.value;
    if (!query.trim()) { Portal.say(message, "Write a query first.", "error"); return false; }
    Portal.say(message, "Checking…", "muted");
    try {
      const answer = await Portal.api("POST", `${API}/adql/check`, { query });
      if (answer.ok) {
        editor.markError(null);
        const names = answer.columns.join(", ");
        Portal.say(message, `The query is valid ADQL; its result has ${answer.columns.length} column${answer.columns.length === 1 ? "" : "s"}: ${names}.`, "ok");
        return true;
      }
      editor.markError(answer.error.line, answer.error.column);
      Portal.say(message, answer.error.message, "error");
    } catch (error) {
      showError(message, error);
    }
    return false;
  }

  function rowLimit() {
    const input = $("row-limit");
    const value = Number(input.value);
    if (!Number.isInteger(value) || value < 1 || value > hardLimit) {
      Portal.say($("check-message"), `The row limit must be a whole number from 1 to ${fmtInt(hardLimit)}.`, "error");
      input.focus();
      return null;
    }
    return value;
  }

  async function run() {
    const limit = rowLimit();
    if (limit === null) return;
    $("run").disabled = true;
    try {
      if (!(await check())) return;
      Portal.say($("run-message"), "Starting the query…", "muted");
      const job = await Portal.api("POST", `${API}/queries`, { query: editor.value, limit });
      history.replaceState(null, "", `/portal/query?job=${encodeURIComponent(job.id)}`);
      show(job);
      loadRecent();
    } catch (error) {
      if (error.detail && error.detail.line) editor.markError(error.detail.line, error.detail.column);
      showError($("run-message"), error);
    } finally {
      $("run").disabled = false;
    }
  }

  // -- the job monitor ------------------------------------------------------------------

  function show(job) {
    state.follow += 1;
    state.job = job;
    resetResult();
    paint(job);
    if (job.final) finish(job);
    else follow(job, state.follow);
  }

  function paint(job) {
    const phase = $("job-phase");
    phase.textContent = job.phase;
    phase.dataset.phase = job.phase;
    $("job-id").textContent = `job ${job.id}`;
    $("job-elapsed").textContent = fmtElapsed(job.elapsed);
    $("abort").disabled = job.final;
  }

  function tick(job) {
    stopTick();
    const base = job.elapsed || 0;
    const since = performance.now();
    if (!job.started) return;
    state.ticking = setInterval(() => {
      $("job-elapsed").textContent = fmtElapsed(base + (performance.now() - since) / 1000);
    }, 200);
  }

  function stopTick() {
    if (state.ticking) clearInterval(state.ticking);
    state.ticking = null;
  }

  async function follow(job, token) {
    Portal.say($("run-message"), job.phase === "EXECUTING" ? "The query is running." : "The query is waiting for its turn.", "muted");
    tick(job);
    let current = job;
    while (token === state.follow && !current.final) {
      try {
        const next = await Portal.api("GET", `${API}/queries/${encodeURIComponent(current.id)}?wait=5`);
        if (token !== state.follow) return;
        if (next.phase !== current.phase) tick(next);
        current = next;
        state.job = current;
        paint(current);
        if (!current.final) Portal.say($("run-message"), current.phase === "EXECUTING" ? "The query is running." : "The query is waiting for its turn.", "muted");
      } catch (error) {
        if (token !== state.follow) return;
        showError($("run-message"), error);
        stopTick();
        return;
      }
    }
    if (token === state.follow) finish(current);
  }

  function finish(job) {
    stopTick();
    state.job = job;
    paint(job);
    const message = $("run-message");
    if (job.phase === "COMPLETED") {
      const rows = job.rows === null ? "" : `${fmtInt(job.rows)} row${job.rows === 1 ? "" : "s"}`;
      const more = job.overflow ? ` — the row limit of ${fmtInt(job.limit)} was reached; more rows match (raise the limit to get them)` : "";
      Portal.say(message, `Completed: ${rows}${more}.`, "ok");
      setEnabled(["download-all", "save-mydb-button", "save-vos-button"], true);
      const plot = $("plot-result");
      plot.href = `/portal/plot/${encodeURIComponent(job.id)}`;
      plot.hidden = false;
      loadRows();
    } else if (job.phase === "ERROR") {
      Portal.say($("result-summary"), "No result: the query failed.", "muted");
      const error = job.error || { message: "the query failed" };
      Portal.say(message, `Error: ${error.message}`, "error");
      if (error.line && editor.value === job.query) editor.markError(error.line, error.column);
    } else if (job.phase === "ABORTED") {
      Portal.say($("result-summary"), "No result: the query was aborted.", "muted");
      Portal.say(message, "Aborted: the query was stopped before it finished.", "muted");
    } else {
      Portal.say(message, `The query is ${job.phase}.`, "muted");
    }
    loadRecent();
  }

  async function abort() {
    if (!state.job) return;
    $("abort").disabled = true;
    try {
      const job = await Portal.api("POST", `${API}/queries/${encodeURIComponent(state.job.id)}/abort`);
      state.follow += 1; // the running poll ends; this answer is final
      finish(job);
    } catch (error) {
      showError($("run-message"), error);
      $("abort").disabled = false;
    }
  }

  // -- results ---------------------------------------------------------------------------

  function resetResult() {
    state.columns = [];
    state.offset = 0;
    state.sort = "";
    state.order = "asc";
    state.filters.clear();
    state.selection.clear();
    state.total = 0;
    state.rowIds = [];
    $("result-table").tHead.replaceChildren();
    $("result-table").tBodies[0].replaceChildren();
    $("sort-column").replaceChildren(Portal.el("option", { value: "" }, "stored order"));
    $("sort-order").value = "asc";
    Portal.say($("result-summary"), "The result appears here when the query has completed.", "");
    Portal.say($("download-message"), "", "");
    Portal.say($("save-message"), "", "");
    $("query-saved").hidden = true;
    $("plot-result").hidden = true;
    $("plot-result").removeAttribute("href");
    $("page-info").textContent = "Page – of –";
    setEnabled(["page-size", "sort-column", "sort-order", "clear-filters", "page-first", "page-prev",
      "page-next", "page-last", "download-all", "download-selected", "save-mydb-button",
      "save-vos-button", "clear-selection"], false);
    updateSelection();
  }

  function rowsUrl() {
    const params = new URLSearchParams({ offset: String(state.offset), limit: String(pageSize()), order: state.order });
    if (state.sort) params.set("sort", state.sort);
    const filters = [];
    for (const [column, f] of state.filters) {
      if (NO_VALUE.has(f.op)) filters.push({ column, op: f.op });
      else if (f.value !== "") filters.push({ column, op: f.op, value: f.value });
    }
    if (filters.length) params.set("filter", JSON.stringify(filters));
    return `${API}/queries/${encodeURIComponent(state.job.id)}/rows?${params}`;
  }

  async function loadRows() {
    if (!resultReady()) return;
    const ticket = ++state.loading;
    const summary = $("result-summary");
    summary.classList.add("busy");
    try {
      const page = await Portal.api("GET", rowsUrl());
      if (ticket !== state.loading) return;
      if (!state.columns.length) buildHeader(page.columns);
      state.total = page.total;
      state.rowIds = page.row_ids;
      fillBody(page);
      const first = page.total ? page.offset + 1 : 0;
      const last = page.offset + page.rows.length;
      const filtered = page.total !== page.total_all ? ` (filtered from ${fmtInt(page.total_all)})` : "";
      Portal.say(summary, page.total ? `Rows ${fmtInt(first)}–${fmtInt(last)} of ${fmtInt(page.total)}${filtered}.` : `No rows${page.total_all ? " pass the filters" : ""}${filtered}.`, "");
      const pages = Math.max(1, Math.ceil(page.total / pageSize()));
      const at = Math.floor(page.offset / pageSize()) + 1;
      $("page-info").textContent = `Page ${fmtInt(at)} of ${fmtInt(pages)}`;
      setEnabled(["page-first", "page-prev"], at > 1);
      setEnabled(["page-next", "page-last"], at < pages);
      setEnabled(["page-size", "sort-column", "sort-order", "clear-filters"], true);
      paintSort();
      updateSelection();
    } catch (error) {
      if (ticket !== state.loading) return;
      showError(summary, error);
    } finally {
      if (ticket === state.loading) summary.classList.remove("busy");
    }
  }

  function buildHeader(columns) {
    state.columns = columns;
    const head = $("result-table").tHead;
    const titles = Portal.el("tr");
    const all = Portal.el("input", { type: "checkbox", id: "select-page", "aria-label": "Select all rows on this page" });
    all.addEventListener("change", () => {
      for (const id of state.rowIds) { if (all.checked) state.selection.add(id); else state.selection.delete(id); }
      for (const box of $("result-table").tBodies[0].querySelectorAll("input[type=checkbox]")) box.checked = all.checked;
      updateSelection();
    });
    titles.append(Portal.el("th", { scope: "col", class: "select" }, all));
    const filters = Portal.el("tr", { class: "filters" }, Portal.el("td", { class: "select" }));
    const sortSelect = $("sort-column");
    columns.forEach((column, i) => {
      const describe = [column.description, column.unit ? `unit: ${column.unit}` : "", column.ucd ? `UCD: ${column.ucd}` : ""].filter(Boolean).join(" · ");
      const button = Portal.el("button", { type: "button", class: "sort-button", title: describe || column.name, "data-column": column.name },
        column.name, column.unit ? Portal.el("span", { class: "unit" }, ` [${column.unit}]`) : null);
      button.addEventListener("click", () => sortBy(column.name));
      titles.append(Portal.el("th", { scope: "col", "aria-sort": "none", class: column.numeric ? "num" : "", "data-column": column.name }, button));
      const op = Portal.el("select", { "aria-label": `Filter operator for ${column.name}`, id: `filter-op-${i}` },
        OPERATORS.map((o) => Portal.el("option", { value: o }, o)));
      op.value = column.numeric ? ">=" : "contains";
      const value = Portal.el("input", { type: "text", "aria-label": `Filter value for ${column.name}`, id: `filter-value-${i}`, placeholder: "filter", spellcheck: "false", autocomplete: "off" });
      const apply = () => setFilter(column.name, op.value, value.value);
      let timer = null;
      value.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(apply, 500); });
      value.addEventListener("keydown", (event) => { if (event.key === "Enter") { event.preventDefault(); clearTimeout(timer); apply(); } });
      op.addEventListener("change", () => { value.disabled = NO_VALUE.has(op.value); apply(); });
      filters.append(Portal.el("td", { class: "filter" }, op, value));
      sortSelect.append(Portal.el("option", { value: column.name }, column.name));
    });
    head.replaceChildren(titles, filters);
  }

  function cell(value, column) {
    const td = Portal.el("td", { class: column.numeric ? "num" : "" });
    if (value === null || value === undefined) {
      td.append(Portal.el("span", { class: "null" }, "NULL"));
      return td;
    }
    let text = typeof value === "object" ? JSON.stringify(value) : String(value);
    if (text.length > LONG_TEXT) {
      td.title = text;
      text = `${text.slice(0, LONG_TEXT - 1)}…`;
      td.classList.add("cut");
    }
    td.append(text);
    return td;
  }

  function fillBody(page) {
    const body = $("result-table").tBodies[0];
    const rows = page.rows.map((values, r) => {
      const id = page.row_ids[r];
      const box = Portal.el("input", { type: "checkbox", "aria-label": `Select row ${id + 1}`, "data-row": id });
      box.checked = state.selection.has(id);
      box.addEventListener("change", () => {
        if (box.checked) state.selection.add(id); else state.selection.delete(id);
        updateSelection();
      });
      return Portal.el("tr", {}, Portal.el("td", { class: "select" }, box), values.map((v, i) => cell(v, state.columns[i])));
    });
    body.replaceChildren(...rows);
  }

  function paintSort() {
    for (const th of $("result-table").tHead.querySelectorAll("th[data-column]")) {
      const on = th.dataset.column === state.sort;
      th.setAttribute("aria-sort", on ? (state.order === "desc" ? "descending" : "ascending") : "none");
    }
    $("sort-column").value = state.sort;
    $("sort-order").value = state.order;
  }

  function sortBy(name) {
    if (state.sort === name) state.order = state.order === "asc" ? "desc" : "asc";
    else { state.sort = name; state.order = "asc"; }
    state.offset = 0;
    loadRows();
  }

  function setFilter(column, op, value) {
    const before = JSON.stringify(state.filters.get(column) || null);
    if (NO_VALUE.has(op)) state.filters.set(column, { op, value: "" });
    else if (value.trim() === "") state.filters.delete(column);
    else state.filters.set(column, { op, value });
    if (JSON.stringify(state.filters.get(column) || null) === before) return;
    state.offset = 0;
    loadRows();
  }

  function clearFilters() {
    state.filters.clear();
    for (const input of $("result-table").tHead.querySelectorAll("tr.filters input")) { input.value = ""; input.disabled = false; }
    for (const select of $("result-table").tHead.querySelectorAll("tr.filters select")) {
      const column = state.columns[Number(select.id.split("-").pop())];
      select.value = column && column.numeric ? ">=" : "contains";
    }
    state.offset = 0;
    loadRows();
  }

  function updateSelection() {
    const n = state.selection.size;
    $("selected-count").textContent = `${fmtInt(n)} row${n === 1 ? "" : "s"} selected`;
    setEnabled(["download-selected", "clear-selection"], n > 0 && resultReady());
    const all = $("select-page");
    if (all) {
      const on = state.rowIds.filter((id) => state.selection.has(id)).length;
      all.checked = on > 0 && on === state.rowIds.length;
      all.indeterminate = on > 0 && on < state.rowIds.length;
    }
  }

  function goTo(where) {
    const size = pageSize();
    const lastOffset = Math.max(0, Math.floor((state.total - 1) / size) * size);
    if (where === "first") state.offset = 0;
    else if (where === "prev") state.offset = Math.max(0, state.offset - size);
    else if (where === "next") state.offset = Math.min(lastOffset, state.offset + size);
    else if (where === "last") state.offset = lastOffset;
    loadRows();
  }

  // -- downloads ---------------------------------------------------------------------------

  function saveBlob(blob, name) {
    const url = URL.createObjectURL(blob);
    const link = Portal.el("a", { href: url, download: name, hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  }

  function downloadAll() {
    if (!resultReady()) return;
    const format = $("download-format").value;
    const link = Portal.el("a", { href: `${API}/queries/${encodeURIComponent(state.job.id)}/download?format=${encodeURIComponent(format)}`, download: "", hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    Portal.say($("download-message"), `Downloading all ${fmtInt(state.job.rows || 0)} rows as ${$("download-format").selectedOptions[0].textContent}.`, "ok");
  }

  async function downloadSelected() {
    if (!resultReady() || !state.selection.size) return;
    const message = $("download-message");
    const format = $("download-format").value;
    Portal.say(message, "Preparing the selected rows…", "muted");
    try {
      const response = await Portal.api("POST", `${API}/queries/${encodeURIComponent(state.job.id)}/download`,
        { format, rows: Array.from(state.selection).sort((a, b) => a - b) }, { raw: true });
      const disposition = response.headers.get("content-disposition") || "";
      const name = (disposition.match(/filename="([^"]+)"/) || [null, `selected.${format}`])[1];
      saveBlob(await response.blob(), name);
      Portal.say(message, `Downloaded ${fmtInt(state.selection.size)} selected rows as ${name}.`, "ok");
    } catch (error) {
      showError(message, error);
    }
  }

  // -- saving --------------------------------------------------------------------------------

  async function save(body, button) {
    const message = $("save-message");
    if (!resultReady()) return;
    button.disabled = true;
    $("query-saved").hidden = true;
    Portal.say(message, "Saving…", "muted");
    try {
      const answer = await Portal.api("POST", `${API}/queries/${encodeURIComponent(state.job.id)}/save`, body);
      Portal.say(message, answer.message, "ok");
      if (answer.query) {
        state.lastSaved = answer.query;
        $("query-saved").hidden = false;
      }
    } catch (error) {
      showError(message, error);
    } finally {
      button.disabled = !resultReady();
    }
  }

  // -- recent queries ------------------------------------------------------------------------

  async function loadRecent() {
    const body = $("recent-table").tBodies[0];
    try {
      const answer = await Portal.api("GET", `${API}/queries`);
      const rows = answer.queries.map((job) => {
        const text = job.query.replace(/\s+/g, " ").trim();
        const short = text.length > 90 ? `${text.slice(0, 89)}…` : text;
        const open = Portal.el("button", { type: "button", class: "secondary small", "aria-label": `Open the query of ${fmtTime(job.created)}` }, "Open");
        open.addEventListener("click", () => openJob(job.id));
        return Portal.el("tr", { "data-job": job.id },
          Portal.el("td", { class: "mono" }, fmtTime(job.created)),
          Portal.el("td", {}, Portal.el("span", { class: "phase", "data-phase": job.phase }, job.phase)),
          Portal.el("td", { class: "num" }, job.rows === null ? "" : fmtInt(job.rows)),
          Portal.el("td", { class: "mono query-text", title: text }, short),
          Portal.el("td", {}, open));
      });
      body.replaceChildren(...rows);
      Portal.say($("recent-message"), rows.length ? "" : "No queries yet.", "muted");
    } catch (error) {
      showError($("recent-message"), error);
    }
  }

  async function openJob(id) {
    try {
      const job = await Portal.api("GET", `${API}/queries/${encodeURIComponent(id)}`);
      editor.value = job.query;
      if (job.limit) $("row-limit").value = String(job.limit);
      Portal.say($("check-message"), "", "");
      history.replaceState(null, "", `/portal/query?job=${encodeURIComponent(job.id)}`);
      show(job);
      $("monitor-heading").scrollIntoView({ block: "nearest" });
    } catch (error) {
      showError($("run-message"), error);
    }
  }

  // -- wiring --------------------------------------------------------------------------------

  $("run").addEventListener("click", () => run());
  $("check").addEventListener("click", () => check());
  $("abort").addEventListener("click", () => abort());
  $("page-first").addEventListener("click", () => goTo("first"));
  $("page-prev").addEventListener("click", () => goTo("prev"));
  $("page-next").addEventListener("click", () => goTo("next"));
  $("page-last").addEventListener("click", () => goTo("last"));
  $("page-size").addEventListener("change", () => { state.offset = 0; loadRows(); });
  $("sort-column").addEventListener("change", () => { state.sort = $("sort-column").value; state.offset = 0; loadRows(); });
  $("sort-order").addEventListener("change", () => { state.order = $("sort-order").value; state.offset = 0; loadRows(); });
  $("clear-filters").addEventListener("click", () => clearFilters());
  $("clear-selection").addEventListener("click", () => {
    state.selection.clear();
    for (const box of $("result-table").tBodies[0].querySelectorAll("input[type=checkbox]")) box.checked = false;
    updateSelection();
  });
  $("download-all").addEventListener("click", () => downloadAll());
  $("download-selected").addEventListener("click", () => downloadSelected());
  $("save-mydb").addEventListener("submit", (event) => {
    event.preventDefault();
    const name = $("mydb-name").value.trim();
    if (!name) { Portal.say($("save-message"), "Give the table a name, such as pleiades.", "error"); $("mydb-name").focus(); return; }
    save({ target: "mydb", name, replace: $("mydb-replace").checked }, $("save-mydb-button"));
  });
  $("save-vos").addEventListener("submit", (event) => {
    event.preventDefault();
    const path = $("vos-path").value.trim();
    if (!path) { Portal.say($("save-message"), "Give the file a name, such as vos://pleiades.csv.", "error"); $("vos-path").focus(); return; }
    save({ target: "vos", path, format: $("vos-format").value, replace: $("vos-replace").checked }, $("save-vos-button"));
  });
  $("query-saved").addEventListener("click", () => {
    editor.value = state.lastSaved;
    Portal.say($("check-message"), "The saved table's query is in the editor: press Run.", "muted");
    $("adql").focus();
  });

  resetResult();
  Portal.say($("result-summary"), "Run a query to see its rows here.", "");
  loadRecent();
  if (app.dataset.job) openJob(app.dataset.job);
})();
