// The Files page: one folder of the user's vos:// space, drawn from JSON; uploads with a
// progress bar per file, new folders, rename or move, delete after a confirmation.
// Names are placed as text, never as HTML.
"use strict";

(() => {
  const { el, api, say, bytes } = Portal;
  const initial = JSON.parse(document.getElementById("files-data").textContent);
  const folder = initial.listing.path;
  const body = document.getElementById("files-body");
  const status = document.getElementById("files-status");
  const more = document.getElementById("files-more");
  const usageLine = document.getElementById("files-usage");
  let nodes = [];
  let nextAfter = null;

  const when = (iso) => iso.slice(0, 19).replace("T", " ");
  const pageOf = (path) => `/portal/files?path=${encodeURIComponent(path)}`;
  const downloadOf = (path) => `/portal/files/download?path=${encodeURIComponent(path)}`;

  function showUsage(usage) {
    usageLine.textContent = usage.limit
      ? `Using ${bytes(usage.used)} of ${bytes(usage.limit)}.`
      : `Using ${bytes(usage.used)}.`;
  }

  function nameCell(node) {
    if (node.type === "container") {
      return el("th", { scope: "row" }, el("a", { href: pageOf(node.path), class: "name" }, `${node.name}/`),
        el("span", { class: "kind" }, "folder"));
    }
    if (node.type === "link") {
      return el("th", { scope: "row" }, el("span", { class: "name" }, node.name),
        el("span", { class: "kind" }, `link to ${node.target || "?"}`));
    }
    return el("th", { scope: "row" }, el("span", { class: "name" }, node.name));
  }

  function row(node) {
    const label = node.name;
    const actions = el("td", { class: "actions" });
    if (node.type === "data") {
      actions.append(el("a", { class: "button secondary small", href: downloadOf(node.path),
                               download: node.name, "aria-label": `Download ${label}` }, "Download"));
    }
    actions.append(
      el("button", { type: "button", class: "secondary small", "data-action": "rename",
                     "aria-label": `Rename ${label}` }, "Rename"),
      el("button", { type: "button", class: "danger small", "data-action": "delete",
                     "aria-label": `Delete ${label}` }, "Delete"));
    const tr = el("tr", {},
      nameCell(node),
      el("td", { class: "num size" }, node.type === "data" ? bytes(node.size) : ""),
      el("td", { class: "modified" }, when(node.modified)),
      el("td", { class: "md5" }, node.md5 || ""),
      actions);
    tr.dataset.path = node.path;
    if (node.type === "data") tr.querySelector(".size").title = `${node.size.toLocaleString("en")} bytes`;
    return tr;
  }

  function render() {
    body.replaceChildren();
    if (!nodes.length) {
      body.append(el("tr", { id: "files-empty" }, el("td", { colspan: "5", class: "muted" }, "This folder is empty.")));
    }
    for (const node of nodes) body.append(row(node));
    more.hidden = !nextAfter;
  }

  function take(listing, append) {
    nodes = append ? nodes.concat(listing.nodes) : listing.nodes;
    nextAfter = listing.more;
    render();
  }

  async function reload() {
    const [listing, usage] = await Promise.all([
      api("GET", `/portal/api/files?path=${encodeURIComponent(folder)}`),
      api("GET", "/portal/api/files/usage"),
    ]);
    take(listing, false);
    showUsage(usage);
  }

  more.addEventListener("click", async () => {
    try {
      take(await api("GET", `/portal/api/files?path=${encodeURIComponent(folder)}&after=${encodeURIComponent(nextAfter)}`), true);
    } catch (err) { say(status, err.message, "error"); }
  });

  const nodeOf = (tr) => nodes.find((n) => n.path === tr.dataset.path);

  function closePanels() {
    for (const extra of body.querySelectorAll("tr.confirm, tr.rename")) extra.remove();
  }

  function showDelete(tr, node) {
    closePanels();
    const folderNode = node.type === "container";
    const question = folderNode
      ? `Delete the folder ${node.uri} and everything in it? This cannot be undone.`
      : `Delete ${node.uri}? This cannot be undone.`;
    const yes = el("button", { type: "button", class: "danger small" },
      folderNode ? "Delete folder and contents" : "Delete file");
    const no = el("button", { type: "button", class: "secondary small" }, "Cancel");
    const extra = el("tr", { class: "confirm" },
      el("td", { colspan: "5", role: "group", "aria-label": `Confirm deleting ${node.name}` },
        el("span", {}, question), " ", yes, " ", no));
    no.addEventListener("click", () => { extra.remove(); tr.querySelector('[data-action="delete"]').focus(); });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      try {
        await api("POST", "/portal/api/files/delete", { path: node.path, recursive: folderNode });
        await reload();
        say(status, `Deleted ${node.uri}.`, "ok");
      } catch (err) {
        yes.disabled = false;
        say(status, err.message, "error");
      }
    });
    tr.after(extra);
    no.focus();
  }

  function showRename(tr, node) {
    closePanels();
    const inputId = "rename-input";
    const input = el("input", { type: "text", id: inputId, value: node.name, autocomplete: "off",
                                spellcheck: "false", size: "40" });
    const form = el("form", {},
      el("label", { for: inputId }, `New name for ${node.name} (or vos://folder/ to move it)`),
      input, " ", el("button", { type: "submit", class: "small" }, "Save"), " ",
      el("button", { type: "button", class: "secondary small", "data-cancel": "" }, "Cancel"));
    const extra = el("tr", { class: "rename" }, el("td", { colspan: "5" }, form));
    form.querySelector("[data-cancel]").addEventListener("click", () => {
      extra.remove(); tr.querySelector('[data-action="rename"]').focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const to = input.value.trim();
      if (!to) { say(status, "Give a new name.", "error"); input.focus(); return; }
      try {
        const moved = await api("POST", "/portal/api/files/move", { path: node.path, to });
        await reload();
        say(status, `Now ${moved.uri}.`, "ok");
      } catch (err) {
        say(status, err.message, "error");
        input.focus();
      }
    });
    tr.after(extra);
    input.focus();
    input.select();
  }

  body.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const tr = button.closest("tr[data-path]");
    const node = tr && nodeOf(tr);
    if (!node) return;
    if (button.dataset.action === "delete") showDelete(tr, node);
    if (button.dataset.action === "rename") showRename(tr, node);
  });

  // -- new folder -------------------------------------------------------------------

  const folderForm = document.getElementById("folder-form");
  const folderName = document.getElementById("folder-name");
  folderForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = folderName.value.trim();
    if (!name) { say(status, "Give the new folder a name.", "error"); folderName.focus(); return; }
    try {
      const made = await api("POST", "/portal/api/files/folder", { path: folder, name });
      folderName.value = "";
      await reload();
      say(status, `Created ${made.uri}.`, "ok");
    } catch (err) {
      say(status, err.message, "error");
      folderName.focus();
    }
  });

  // -- uploads ----------------------------------------------------------------------

  const uploadForm = document.getElementById("upload-form");
  const picker = document.getElementById("upload-files");
  const overwrite = document.getElementById("upload-overwrite");
  const uploadList = document.getElementById("upload-list");
  const uploadButton = document.getElementById("upload-button");

  async function send(file, item) {
    const bar = item.querySelector("progress");
    const note = item.querySelector(".status");
    const replace = overwrite.checked ? "true" : "false";
    const target = folder ? `${folder}/${file.name}` : file.name;
    try {
      await api("GET", `/portal/api/files/check?path=${encodeURIComponent(target)}&size=${file.size}&overwrite=${replace}`);
      const data = new FormData();
      data.append("file", file, file.name);
      const query = new URLSearchParams({ folder, overwrite: replace });
      const node = await Portal.upload(`/portal/api/files/upload?${query}`, data, (loaded, total) => {
        bar.value = total ? loaded / total : 0;
        say(note, `${bytes(loaded)} of ${bytes(total)}`);
      });
      bar.value = 1;
      say(note, `Uploaded: ${bytes(node.size)}, MD5 ${node.md5}`, "ok");
      item.classList.add("done");
      return true;
    } catch (err) {
      say(note, err.message, "error");
      item.classList.add("failed");
      return false;
    }
  }

  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(picker.files);
    if (!files.length) { say(status, "Choose one or more files to upload.", "error"); picker.focus(); return; }
    uploadButton.disabled = true;
    uploadList.replaceChildren();
    const items = files.map((file) => {
      const item = el("li", {},
        el("span", { class: "name" }, file.name),
        el("progress", { max: "1", value: "0", "aria-label": `Upload progress of ${file.name}` }),
        el("span", { class: "status", role: "status", "aria-live": "polite" }, "Waiting"));
      uploadList.append(item);
      return item;
    });
    let done = 0;
    for (let i = 0; i < files.length; i += 1) {
      if (await send(files[i], items[i])) done += 1;
    }
    uploadButton.disabled = false;
    picker.value = "";
    try { await reload(); } catch (err) { say(status, err.message, "error"); return; }
    say(status, `${done} of ${files.length} ${files.length === 1 ? "file" : "files"} uploaded.`,
      done === files.length ? "ok" : "error");
  });

  take(initial.listing, false);
  showUsage(initial.usage);
})();
