// The plot page: the form's choices become the parameters of the image route; the
// image is fetched (so that a refusal shows the server's message, not a broken
// picture) and shown with its title and caption. The address keeps the choices, so a
// reload or a shared link shows the same plot.
"use strict";

(() => {
  const form = document.getElementById("plot-form");
  if (!form) return;
  const api = form.dataset.api;
  const $ = (id) => document.getElementById(id);
  const kind = $("plot-kind");
  const image = $("plot-image");
  const placeholder = $("plot-placeholder");
  const caption = $("plot-caption");
  const status = $("plot-status");
  const links = { png: $("download-png"), svg: $("download-svg") };
  const limits = ["xmin", "xmax", "ymin", "ymax"];
  const flags = ["log", "trim", "yflip"];
  let running = null;
  let shownUrl = null;

  function showControlsFor(chosen) {
    for (const group of form.querySelectorAll("[data-kinds]")) {
      group.hidden = !group.dataset.kinds.split(" ").includes(chosen);
    }
  }

  // The parameters of the plot the form describes; only the controls of its kind count.
  function parameters() {
    const chosen = kind.value;
    const out = new URLSearchParams({ kind: chosen });
    if (chosen === "sky") {
      out.set("x", $("plot-ra").value);
      out.set("y", $("plot-dec").value);
      out.set("projection", $("plot-projection").value);
      return out;
    }
    out.set("x", $("plot-x").value);
    if (chosen !== "histogram") out.set("y", $("plot-y").value);
    if (chosen === "histogram") out.set("bins", $("plot-bins").value);
    if (chosen === "hexbin") out.set("gridsize", $("plot-gridsize").value);
    for (const name of flags) {
      const box = $(`plot-${name}`);
      if (!box.closest("[hidden]")) out.set(name, box.checked ? "1" : "0");
    }
    for (const name of limits) {
      const input = $(`plot-${name}`);
      if (!input.closest("[hidden]") && input.value !== "") out.set(name, input.value);
    }
    return out;
  }

  // A number field holding text that is not a number reads as empty: say so instead.
  function unreadable() {
    const fields = [...form.querySelectorAll("input[type=number]")];
    const bad = fields.find((input) => !input.closest("[hidden]") && input.validity.badInput);
    if (!bad) return null;
    const label = form.querySelector(`label[for="${bad.id}"]`);
    const legend = bad.closest("fieldset")?.querySelector("legend");
    return `${legend ? legend.textContent.split(" (")[0] + " " : ""}${label ? label.textContent.toLowerCase() : bad.name}: not a number`;
  }

  function linkFor(params, format) {
    const query = new URLSearchParams(params);
    query.set("format", format);
    query.set("download", "1");
    return `${api}?${query}`;
  }

  async function draw() {
    const problem = unreadable();
    if (problem) { Portal.say(status, problem, "error"); return; }
    const params = parameters();
    history.replaceState(null, "", `${location.pathname}?${params}`);
    links.png.href = linkFor(params, "png");
    links.svg.href = linkFor(params, "svg");
    if (running) running.abort();
    const mine = new AbortController();
    running = mine;
    form.setAttribute("aria-busy", "true");
    Portal.say(status, "Drawing…");
    try {
      const query = new URLSearchParams(params);
      query.set("format", "png");
      const response = await Portal.api("GET", `${api}?${query}`, undefined, { raw: true, signal: mine.signal });
      const picture = await response.blob();
      const title = decodeURIComponent(response.headers.get("X-Plot-Title") || "Plot");
      const text = decodeURIComponent(response.headers.get("X-Plot-Caption") || "");
      const url = URL.createObjectURL(picture);
      const previous = shownUrl;
      shownUrl = url;
      image.src = url;
      image.alt = `${title}. ${text}`;
      image.hidden = false;
      placeholder.hidden = true;
      caption.textContent = `${title}: ${text}.`;
      if (previous) URL.revokeObjectURL(previous);
      Portal.say(status, "");
    } catch (error) {
      if (error.name === "AbortError") return;
      Portal.say(status, error.message, "error");
    } finally {
      if (running === mine) { running = null; form.removeAttribute("aria-busy"); }
    }
  }

  // Choices from the address (a reload or a shared link), where the form offers them.
  function restore() {
    const given = new URLSearchParams(location.search);
    const pick = (select, value) => {
      if (value !== null && [...select.options].some((o) => o.value === value)) select.value = value;
    };
    pick(kind, given.get("kind"));
    if (kind.value === "sky") {
      pick($("plot-ra"), given.get("x"));
      pick($("plot-dec"), given.get("y"));
      pick($("plot-projection"), given.get("projection"));
    } else {
      pick($("plot-x"), given.get("x"));
      pick($("plot-y"), given.get("y"));
    }
    for (const name of ["bins", "gridsize", ...limits]) {
      const value = given.get(name);
      if (value !== null && value.trim() !== "" && Number.isFinite(Number(value))) $(`plot-${name}`).value = value;
    }
    if (given.get("kind") === "histogram") $("plot-log").checked = false;
    for (const name of flags) {
      const value = given.get(name);
      if (value === "1" || value === "0") $(`plot-${name}`).checked = value === "1";
    }
    showControlsFor(kind.value);
  }

  kind.addEventListener("change", () => {
    showControlsFor(kind.value);
    // Counts span decades in a density plot; a histogram reads best linear at first.
    $("plot-log").checked = kind.value === "hexbin";
  });
  form.addEventListener("submit", (event) => { event.preventDefault(); draw(); });

  restore();
  draw();
})();
