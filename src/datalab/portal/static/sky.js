// The sky viewer: Aladin Lite (served by this server, no CDN) over the server's HiPS,
// catalog overlays from TAP or the user's query results, and image discovery.
// Aladin is only ever given URLs of this server and coordinates: a survey id or an
// object name would send it to CDS, which an air-gapped site cannot reach.
const ALADIN = "/static/vendor/aladin-lite/aladin.js";

const config = JSON.parse(document.getElementById("sky-config").textContent);
const $ = (id) => document.getElementById(id);
const abs = (path) => new URL(path, window.location.href).href;
const hipsUrl = (id) => abs(`/hips/${encodeURIComponent(id)}`);
// More sources than this make the viewer sluggish; the rest are left out, and said so.
const MAX_SOURCES = 50000;
const COLOURS = ["#ff9f1c", "#2ec4b6", "#e71d36", "#9b5de5", "#00bbf9"];
const IMAGE_LAYER = "datalab-image";

let A = null; // the Aladin Lite module, imported when the page starts
let aladin = null;
let overlays = 0;
let clicked = null; // {ra, dec} where images were last looked for
let shownImage = null;

const fmt = (value, digits = 5) => Number(value).toFixed(digits);
const signed = (value, digits = 5) => (value >= 0 ? "+" : "") + fmt(value, digits);

// -- the view and its URL ---------------------------------------------------------------

function currentView() {
  const [ra, dec] = aladin.getRaDec();
  const fov = aladin.getFov()[0];
  return { ra: ((ra % 360) + 360) % 360, dec, fov };
}

function viewQuery() {
  const view = currentView();
  const params = new URLSearchParams({
    ra: fmt(view.ra), dec: fmt(view.dec), fov: Number(view.fov).toPrecision(4), hips: $("hips-select").value,
  });
  if (config.job) params.set("job", config.job);
  return `/portal/sky?${params}`;
}

let urlTimer = null;
function viewChanged() {
  const view = currentView();
  Portal.say($("view-status"), `Centre ${fmt(view.ra)} ${signed(view.dec)} · field ${Number(view.fov).toPrecision(3)}°`);
  clearTimeout(urlTimer);
  urlTimer = setTimeout(() => {
    const url = viewQuery();
    window.history.replaceState(null, "", url);
    $("view-link").href = url;
  }, 300);
}

// -- go to ---------------------------------------------------------------------------------

async function goTo(text) {
  const message = $("goto-message");
  Portal.say(message, "Looking it up…");
  try {
    const place = await Portal.api("GET", `/portal/api/sky/resolve?name=${encodeURIComponent(text)}`);
    aladin.gotoRaDec(place.ra, place.dec);
    if (place.fov) aladin.setFoV(place.fov);
    const what = place.source === "coordinates" ? "" : `${place.name} (${place.source}) at `;
    Portal.say(message, `Centred on ${what}${fmt(place.ra)} ${signed(place.dec)}.`, "ok");
    viewChanged();
    return true;
  } catch (error) {
    Portal.say(message, error.message, "error");
    return false;
  }
}

// -- catalog overlays ------------------------------------------------------------------------

// A VOTable (TABLEDATA) as fields and rows of text, or the error document's message.
function readVOTable(text) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  if (doc.getElementsByTagName("parsererror").length) throw new Error("the answer is not a VOTable");
  const infos = Array.from(doc.getElementsByTagNameNS("*", "INFO"));
  const status = infos.find((i) => i.getAttribute("name") === "QUERY_STATUS");
  if (status && status.getAttribute("value") === "ERROR") throw new Error(status.textContent.trim() || "the query failed");
  const fields = Array.from(doc.getElementsByTagNameNS("*", "FIELD")).map((f) => ({
    name: f.getAttribute("name") || "", ucd: (f.getAttribute("ucd") || "").toLowerCase(),
  }));
  const rows = [];
  let cut = false;
  for (const tr of doc.getElementsByTagNameNS("*", "TR")) {
    if (rows.length >= MAX_SOURCES) { cut = true; break; }
    rows.push(Array.from(tr.getElementsByTagNameNS("*", "TD"), (td) => td.textContent));
  }
  const overflow = Boolean(status && status.getAttribute("value") === "OVERFLOW");
  return { fields, rows, cut, overflow };
}

function positionColumn(fields, axis) {
  const names = axis === "ra" ? ["ra", "ra_icrs", "raj2000", "s_ra", "ra_deg", "ra2000"] : ["dec", "dec_icrs", "dej2000", "decj2000", "s_dec", "dec_deg", "de2000"];
  const main = fields.findIndex((f) => f.ucd.split(";").includes(`pos.eq.${axis}`) && f.ucd.includes("meta.main"));
  if (main >= 0) return main;
  const byUcd = fields.findIndex((f) => f.ucd.split(";").includes(`pos.eq.${axis}`));
  if (byUcd >= 0) return byUcd;
  return fields.findIndex((f) => names.includes(f.name.toLowerCase()));
}

function showSource(source) {
  const list = $("source-values");
  list.replaceChildren();
  for (const [key, value] of Object.entries(source.data || {})) {
    list.append(Portal.el("dt", {}, key), Portal.el("dd", { class: "mono" }, value === "" ? "–" : value));
  }
  $("source-empty").hidden = true;
}

function draw(table, name) {
  const ra = positionColumn(table.fields, "ra");
  const dec = positionColumn(table.fields, "dec");
  if (ra < 0 || dec < 0) throw new Error("the result has no ra and dec columns to place its rows on the sky");
  const colour = COLOURS[overlays % COLOURS.length];
  overlays += 1;
  const catalog = A.catalog({ name, color: colour, sourceSize: 10, onClick: showSource });
  aladin.addCatalog(catalog);
  const sources = [];
  for (const row of table.rows) {
    const x = Number.parseFloat(row[ra]);
    const y = Number.parseFloat(row[dec]);
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const data = {};
    table.fields.forEach((f, i) => { data[f.name] = row[i] ?? ""; });
    sources.push(A.source(x, y, data));
  }
  catalog.addSources(sources);
  return catalog.getSources().length;
}

function reportDrawn(count, table, what) {
  const message = $("overlay-message");
  let text = `${what}: ${count.toLocaleString("en")} sources drawn.`;
  if (table.cut) text += ` Only the first ${MAX_SOURCES.toLocaleString("en")} rows are drawn.`;
  if (table.overflow) text += " The result was cut at the row limit.";
  Portal.say(message, text, "ok");
  message.dataset.count = String(count);
}

async function drawTap(adql) {
  const message = $("overlay-message");
  if (!adql.trim()) { Portal.say(message, "Write a query first.", "error"); return; }
  Portal.say(message, "Running the query…");
  delete message.dataset.count;
  try {
    const body = new URLSearchParams({ REQUEST: "doQuery", LANG: "ADQL", QUERY: adql, RESPONSEFORMAT: "votable" });
    const response = await fetch("/tap/sync", { method: "POST", body, credentials: "same-origin" });
    const text = await response.text();
    let table;
    try { table = readVOTable(text); } catch (error) {
      throw new Error(response.ok ? error.message : `${response.status}: ${error.message}`);
    }
    reportDrawn(draw(table, "TAP query"), table, "TAP query");
  } catch (error) {
    Portal.say(message, `The overlay failed: ${error.message}`, "error");
  }
}

async function drawJob(jobId) {
  const message = $("overlay-message");
  Portal.say(message, "Loading the query result…");
  delete message.dataset.count;
  try {
    const response = await Portal.api("GET", `/portal/api/queries/${encodeURIComponent(jobId)}/download?format=votable`, undefined, { raw: true });
    const table = readVOTable(await response.text());
    reportDrawn(draw(table, `query ${jobId}`), table, `Query ${jobId}`);
  } catch (error) {
    Portal.say(message, `The query result cannot be drawn: ${error.message}`, "error");
  }
}

function fillQuery() {
  const view = currentView();
  const radius = Math.min(Math.max(view.fov / 2, 0.01), 10);
  $("overlay-adql").value =
    "SELECT TOP 5000 source_id, ra, dec, phot_g_mean_mag\nFROM gaia_dr3.gaia_source\n" +
    `WHERE 1=CONTAINS(POINT(ra, dec), CIRCLE(${fmt(view.ra)}, ${fmt(view.dec)}, ${fmt(radius, 4)}))`;
}

async function listJobs() {
  const select = $("job-select");
  if (!select) return;
  try {
    const data = await Portal.api("GET", "/portal/api/queries");
    const done = data.queries.filter((q) => q.phase === "COMPLETED");
    select.replaceChildren(...done.map((q) => Portal.el("option", { value: q.id },
      `${q.query.replace(/\s+/g, " ").slice(0, 70)} (${q.rows ?? 0} rows)`)));
    if (!done.length) select.append(Portal.el("option", { value: "" }, "(no completed queries yet)"));
  } catch (error) {
    select.replaceChildren(Portal.el("option", { value: "" }, "(your queries could not be listed)"));
    Portal.say($("overlay-message"), error.message, "error");
  }
  if (config.job) {
    if (![...select.options].some((o) => o.value === config.job)) {
      select.prepend(Portal.el("option", { value: config.job }, `query ${config.job}`));
    }
    select.value = config.job;
  }
}

// -- images ------------------------------------------------------------------------------------

function thumb(image) {
  const facts = [image.band ? `band ${image.band}` : "no band", image.exptime != null ? `${Number(image.exptime).toFixed(0)} s` : "", image.proctype, image.prodtype]
    .filter(Boolean).join(" · ");
  const button = Portal.el("button", { type: "button", class: "sky-thumb", "aria-label": `Show ${image.obs_id} (${facts}) in the viewer`, "data-image": image.id },
    Portal.el("img", { src: image.preview_url, width: 128, height: 128, alt: "", loading: "lazy" }),
    Portal.el("span", { class: "sky-band" }, image.band || "?"),
    Portal.el("span", { class: "sky-facts" }, facts),
    Portal.el("span", { class: "sky-name mono" }, image.obs_id));
  button.addEventListener("click", () => showImage(image));
  return Portal.el("li", {}, button);
}

async function findImages(ra, dec, where) {
  const message = $("images-message");
  clicked = { ra, dec };
  Portal.say(message, `Looking for images at ${fmt(ra)} ${signed(dec)}…`);
  try {
    const data = await Portal.api("GET", `/portal/api/sky/images?ra=${fmt(ra, 6)}&dec=${fmt(dec, 6)}`);
    $("image-list").replaceChildren(...data.images.map(thumb));
    const count = data.images.length;
    const more = data.overflow ? " (more exist; the first are shown)" : "";
    Portal.say(message, count ? `${count} image${count === 1 ? "" : "s"} at ${where} ${fmt(ra)} ${signed(dec)}${more}.`
      : `No image covers ${where} ${fmt(ra)} ${signed(dec)}.`, count ? "ok" : "");
  } catch (error) {
    Portal.say(message, error.message, "error");
  }
}

function cutoutRadius() {
  const value = Number.parseFloat($("cutout-radius").value);
  if (!Number.isFinite(value) || value < 0.1 || value > 60) throw new Error("the cutout radius must be from 0.1 to 60 arcmin");
  return value / 60;
}

function updateLinks() {
  if (!shownImage || !clicked) return;
  const status = $("image-message");
  try {
    const circle = `${fmt(clicked.ra, 6)} ${fmt(clicked.dec, 6)} ${fmt(cutoutRadius(), 6)}`;
    $("cutout-link").href = `/soda/sync?${new URLSearchParams({ ID: shownImage.id, CIRCLE: circle })}`;
    $("cutout-link").removeAttribute("aria-disabled");
  } catch (error) {
    $("cutout-link").removeAttribute("href");
    $("cutout-link").setAttribute("aria-disabled", "true");
    Portal.say(status, error.message, "error");
  }
}

function showImage(image) {
  shownImage = image;
  $("image-detail").hidden = false;
  $("image-title").textContent = `${image.obs_id} · band ${image.band || "?"} · ${image.proctype}`;
  $("full-link").href = image.file_url;
  updateLinks();
  const status = $("image-message");
  Portal.say(status, "Loading the FITS image into the viewer…");
  for (const b of document.querySelectorAll(".sky-thumb")) b.setAttribute("aria-pressed", String(b.dataset.image === image.id));
  const layer = A.image(abs(image.file_url), {
    name: image.obs_id,
    successCallback: () => {
      Portal.say(status, `Showing ${image.obs_id} over the survey.`, "ok");
      status.dataset.shown = image.id;
    },
    errorCallback: (error) => Portal.say(status, `The image could not be shown: ${error}`, "error"),
  });
  aladin.setOverlayImageLayer(layer, IMAGE_LAYER);
  $("image-remove").disabled = false;
}

function removeImage() {
  aladin.removeImageLayer(IMAGE_LAYER);
  $("image-remove").disabled = true;
  delete $("image-message").dataset.shown;
  Portal.say($("image-message"), "The image was removed from the view.");
}

// -- start ---------------------------------------------------------------------------------------

function disableControls() {
  for (const control of document.querySelectorAll("#main button, #main input, #main select, #main textarea")) {
    control.disabled = true;
  }
}

async function start() {
  if (!config.hips.length) { disableControls(); return; }
  try {
    ({ default: A } = await import(ALADIN));
  } catch (_) {
    disableControls();
    throw new Error("Aladin Lite is not installed on this server (see the HiPS documentation)");
  }
  const view = config.view;
  const chosen = config.hips.find((h) => h.id === view.hips)
    ?? config.hips.find((h) => h.id.startsWith("colour-")) ?? config.hips[0];
  const select = $("hips-select");
  select.value = chosen.id;
  const ra = view.ra ?? chosen.initial_ra;
  const dec = view.dec ?? chosen.initial_dec;
  await A.init;
  aladin = A.aladin("#aladin-lite-div", {
    survey: hipsUrl(chosen.id),
    target: `${ra} ${dec}`,
    fov: view.fov ?? chosen.initial_fov,
    log: false,
    hipsList: config.hips.map((h) => ({ id: h.id, name: h.title, url: hipsUrl(h.id) })),
    showContextMenu: false,
    showLayersControl: false,
    showGotoControl: false,
    showShareControl: false,
    showSimbadPointerControl: false,
    showProjectionControl: false,
    showCooGridControl: false,
  });
  aladin.on("positionChanged", viewChanged);
  aladin.on("zoomChanged", viewChanged);
  aladin.on("click", (event) => { if (!event.isDragging) findImages(((event.ra % 360) + 360) % 360, event.dec, "the clicked position"); });
  select.addEventListener("change", () => {
    const survey = config.hips.find((h) => h.id === select.value);
    aladin.setBaseImageLayer(A.HiPS(hipsUrl(survey.id), { name: survey.title }));
    viewChanged();
  });
  $("goto-form").addEventListener("submit", (event) => { event.preventDefault(); goTo($("goto-text").value); });
  $("tap-form").addEventListener("submit", (event) => { event.preventDefault(); drawTap($("overlay-adql").value); });
  $("overlay-fill").addEventListener("click", fillQuery);
  $("overlay-clear").addEventListener("click", () => {
    aladin.removeOverlays();
    $("source-values").replaceChildren();
    $("source-empty").hidden = false;
    Portal.say($("overlay-message"), "Overlays cleared.");
    delete $("overlay-message").dataset.count;
  });
  $("images-centre").addEventListener("click", () => { const v = currentView(); findImages(v.ra, v.dec, "the view centre"); });
  $("image-remove").addEventListener("click", removeImage);
  $("cutout-radius").addEventListener("input", updateLinks);
  const jobForm = $("job-form");
  if (jobForm) {
    jobForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const id = $("job-select").value;
      if (id) drawJob(id); else Portal.say($("overlay-message"), "Choose one of your completed queries first.", "error");
    });
  }
  fillQuery();
  viewChanged();
  document.body.dataset.skyReady = "true";
  if (view.target) {
    $("goto-text").value = view.target;
    if (await goTo(view.target)) fillQuery();
  }
  await listJobs();
  if (config.job) await drawJob(config.job);
}

start().catch((error) => Portal.say($("view-status"), `The viewer could not start: ${error.message}`, "error"));
