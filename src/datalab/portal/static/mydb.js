// The myDB page: the user's tables, drawn from JSON; rename, drop (after a confirmation)
// and import a file with upload progress. Every value is placed as text, never as HTML.
"use strict";

(() => {
  const { el, api, say } = Portal;
  const list = document.getElementById("mydb-list");
  const status = document.getElementById("mydb-status");
  const NAME = /^[a-z][a-z0-9_]{0,62}$/;
  let tables = JSON.parse(document.getElementById("mydb-data").textContent);

  const when = (iso) => (iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "unknown");
  const plural = (n, one, many) => `${Number(n).toLocaleString("en")} ${n === 1 ? one : many}`;

  function columnsTable(table) {
    const head = el("tr", {},
      ["Column", "Type", "Unit", "UCD", "Description"].map((h) => el("th", { scope: "col" }, h)));
    const rows = table.columns.map((c) => el("tr", {},
      el("th", { scope: "row" }, el("code", {}, c.name), c.indexed ? " (indexed)" : ""),
      el("td", {}, c.datatype),
      el("td", {}, c.unit || ""),
      el("td", {}, c.ucd || ""),
      el("td", {}, c.description || "")));
    return el("table", { class: "columns" }, el("thead", {}, head), el("tbody", {}, rows));
  }

  function card(table) {
    const id = `table-${table.name}`;
    const heading = el("h2", { id: `${id}-name` }, el("code", {}, table.adql));
    const facts = el("p", { class: "facts muted" },
      el("span", { class: "rows" }, plural(table.rows, "row", "rows")), " · ",
      plural(table.columns.length, "column", "columns"), " · created ", when(table.created),
      table.position ? ` · indexed by position (${table.position.ra}, ${table.position.dec})` : "");
    const note = el("p", { class: "status", role: "status", "aria-live": "polite" });
    const actions = el("div", { class: "toolbar" },
      el("a", { class: "button", href: table.query_url, "data-action": "query",
                "aria-label": `Query ${table.name}` }, "Query"),
      el("button", { type: "button", class: "secondary", "data-action": "rename",
                     "aria-label": `Rename ${table.name}` }, "Rename"),
      el("button", { type: "button", class: "danger", "data-action": "drop",
                     "aria-label": `Drop ${table.name}` }, "Drop"));
    const panel = el("div", { class: "panel" });
    const details = el("details", {},
      el("summary", {}, `Columns (${table.columns.length})`), columnsTable(table));
    const section = el("section", { class: "card mydb-table", id, "aria-labelledby": `${id}-name` },
      heading, facts, actions, panel, note, details);
    section.dataset.name = table.name;
    return section;
  }

  function render() {
    list.replaceChildren();
    if (!tables.length) {
      list.append(el("p", { id: "mydb-empty", class: "muted" },
        "You have no tables yet. Import a file above, or save a query's result with out=mydb://name."));
      return;
    }
    for (const table of tables) list.append(card(table));
  }

  async function reload() {
    const data = await api("GET", "/portal/api/mydb/tables");
    tables = data.tables;
    render();
  }

  function byName(name) { return tables.find((t) => t.name === name); }

  function showRename(section, table) {
    const panel = section.querySelector(".panel");
    const note = section.querySelector(".status");
    const inputId = `rename-${table.name}`;
    const input = el("input", { type: "text", id: inputId, value: table.name, maxlength: "63",
                                autocomplete: "off", spellcheck: "false" });
    const form = el("form", { class: "rename" },
      el("label", { for: inputId }, `New name for ${table.name}`), input, " ",
      el("button", { type: "submit" }, "Save name"), " ",
      el("button", { type: "button", class: "secondary", onclick: () => { panel.replaceChildren(); say(note, ""); } }, "Cancel"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const wanted = input.value.trim().toLowerCase();
      if (!NAME.test(wanted)) {
        say(note, "Use a letter, then lower-case letters, digits or underscores (at most 63).", "error");
        input.focus();
        return;
      }
      try {
        await api("POST", `/portal/api/mydb/tables/${encodeURIComponent(table.name)}/rename`, { name: wanted });
        await reload();
        say(status, `Renamed ${table.name} to ${wanted}.`, "ok");
        document.querySelector(`#table-${wanted} [data-action="rename"]`)?.focus();
      } catch (err) {
        say(note, err.message, "error");
        input.focus();
      }
    });
    panel.replaceChildren(form);
    input.focus();
    input.select();
  }

  function showDrop(section, table) {
    const panel = section.querySelector(".panel");
    const note = section.querySelector(".status");
    const yes = el("button", { type: "button", class: "danger" }, `Drop ${table.name} now`);
    const no = el("button", { type: "button", class: "secondary" }, "Keep it");
    const box = el("div", { class: "confirm", role: "group", "aria-label": `Confirm dropping ${table.name}` },
      el("p", {}, `Drop ${table.adql} and its ${plural(table.rows, "row", "rows")}? This cannot be undone.`),
      yes, " ", no);
    no.addEventListener("click", () => { panel.replaceChildren(); section.querySelector('[data-action="drop"]').focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api("DELETE", `/portal/api/mydb/tables/${encodeURIComponent(table.name)}`);
        await reload();
        say(status, `Dropped ${table.name}.`, "ok");
        list.focus();
      } catch (err) {
        yes.disabled = false;
        say(note, err.message, "error");
      }
    });
    panel.replaceChildren(box);
    no.focus();
  }

  list.setAttribute("tabindex", "-1");
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const section = button.closest("section[data-name]");
    const table = section && byName(section.dataset.name);
    if (!table) return;
    if (button.dataset.action === "rename") showRename(section, table);
    if (button.dataset.action === "drop") showDrop(section, table);
  });

  // -- import ------------------------------------------------------------------------

  const form = document.getElementById("import-form");
  const fileInput = document.getElementById("import-file");
  const nameInput = document.getElementById("import-name");
  const replace = document.getElementById("import-replace");
  const progress = document.getElementById("import-progress");
  const importStatus = document.getElementById("import-status");
  const button = document.getElementById("import-button");

  // A table name from a file name: "My Stars (2).csv" -> "my_stars_2".
  function nameFor(file) {
    let base = file.name.replace(/(\.[A-Za-z0-9]+)+$/, "").toLowerCase().replace(/[^a-z0-9_]+/g, "_");
    base = base.replace(/^_+|_+$/g, "");
    if (!/^[a-z]/.test(base)) base = `t_${base}`;
    return base.slice(0, 63).replace(/_+$/, "");
  }

  fileInput.addEventListener("change", () => {
    const file = fileInput.files[0];
    if (file && !nameInput.dataset.touched) nameInput.value = nameFor(file);
    say(importStatus, "");
  });
  nameInput.addEventListener("input", () => { nameInput.dataset.touched = "1"; });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    const name = nameInput.value.trim().toLowerCase();
    if (!file) { say(importStatus, "Choose a file to import.", "error"); fileInput.focus(); return; }
    if (!NAME.test(name)) {
      say(importStatus, "Give the table a name: a letter, then lower-case letters, digits or underscores.", "error");
      nameInput.focus();
      return;
    }
    const query = new URLSearchParams({ table: name, replace: replace.checked ? "true" : "false" });
    button.disabled = true;
    try {
      await api("GET", `/portal/api/mydb/check?${query}&size=${file.size}`);
      progress.hidden = false;
      progress.value = 0;
      say(importStatus, `Uploading ${file.name}…`);
      const data = new FormData();
      data.append("file", file, file.name);
      const made = await Portal.upload(`/portal/api/mydb/import?${query}`, data, (loaded, total) => {
        progress.value = total ? loaded / total : 0;
        if (loaded >= total) say(importStatus, `Loading ${file.name} into ${name}…`);
      });
      progress.value = 1;
      await reload();
      say(importStatus, `Imported ${made.rows.toLocaleString("en")} rows into ${made.adql}.`, "ok");
      form.reset();
      delete nameInput.dataset.touched;
    } catch (err) {
      progress.hidden = true;
      say(importStatus, err.message, "error");
    } finally {
      button.disabled = false;
    }
  });

  render();
})();
