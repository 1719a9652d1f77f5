// The schema browser's list of tables: find a table by its name or a column's, and move
// through the list with the arrow keys (Home/End for the ends). The list is ordinary
// links, so without this script it still works with Tab and Enter.
"use strict";

(() => {
  const tree = document.getElementById("table-tree");
  const filter = document.getElementById("table-filter");
  const status = document.getElementById("filter-status");
  if (!tree || !filter) return;

  const items = Array.from(tree.querySelectorAll("li[data-search]"));
  const schemas = Array.from(tree.querySelectorAll("li.tree-schema"));

  function visibleLinks() {
    return items.filter((li) => !li.hidden && !li.closest("li.tree-schema").hidden)
      .map((li) => li.querySelector("a"));
  }

  function apply() {
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    for (const li of items) {
      const text = li.dataset.search || "";
      const match = words.every((w) => text.includes(w));
      li.hidden = !match;
      if (match) shown += 1;
    }
    for (const schema of schemas) {
      const name = (schema.dataset.schema || "").toLowerCase();
      const any = Array.from(schema.querySelectorAll("li[data-search]")).some((li) => !li.hidden);
      // A schema's own name finds all its tables.
      if (!any && words.length && words.every((w) => name.includes(w))) {
        for (const li of schema.querySelectorAll("li[data-search]")) { li.hidden = false; shown += 1; }
        schema.hidden = false;
      } else {
        schema.hidden = !any;
      }
    }
    if (!words.length) Portal.say(status, "", "muted");
    else if (shown === 0) Portal.say(status, "No table or column matches.", "muted");
    else Portal.say(status, `${shown} table${shown === 1 ? "" : "s"} match.`, "muted");
  }

  filter.addEventListener("input", apply);
  filter.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown") {
      const links = visibleLinks();
      if (links.length) { event.preventDefault(); links[0].focus(); }
    } else if (event.key === "Enter") {
      const links = visibleLinks();
      if (links.length === 1) { event.preventDefault(); links[0].click(); }
    }
  });

  tree.addEventListener("keydown", (event) => {
    const link = event.target.closest("a");
    if (!link) return;
    const links = visibleLinks();
    const at = links.indexOf(link);
    let next = null;
    if (event.key === "ArrowDown") next = links[Math.min(at + 1, links.length - 1)];
    else if (event.key === "ArrowUp") next = at <= 0 ? filter : links[at - 1];
    else if (event.key === "Home") next = links[0];
    else if (event.key === "End") next = links[links.length - 1];
    if (next) { event.preventDefault(); next.focus(); }
  });

  if (filter.value) apply();
})();
