// Shared by every portal page: calls to the portal's JSON routes with the page's CSRF
// token, error display, and small helpers. No framework, nothing fetched from elsewhere.
"use strict";

const Portal = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  class ApiError extends Error {
    constructor(status, message, detail) { super(message); this.status = status; this.detail = detail || {}; }
  }

  // fetch a portal route; JSON bodies are sent as JSON, FormData as is. Throws ApiError
  // with the server's message for any non-2xx answer.
  async function api(method, url, body, options = {}) {
    const headers = { "X-CSRF-Token": csrf(), ...(options.headers || {}) };
    let payload = body;
    if (body !== undefined && !(body instanceof FormData) && !(body instanceof Blob) && typeof body !== "string") {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const response = await fetch(url, { method, headers, body: payload, credentials: "same-origin", signal: options.signal });
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      let detail = {};
      try {
        const data = await response.json();
        if (data && data.error) { message = data.error.message; detail = data.error.detail; }
      } catch (_) { /* not JSON */ }
      if (response.status === 401) message = message + " (log in again)";
      throw new ApiError(response.status, message, detail);
    }
    const type = response.headers.get("content-type") || "";
    if (options.raw) return response;
    return type.includes("application/json") ? response.json() : response.text();
  }

  // Upload with progress (fetch cannot report upload progress): onProgress(loaded, total).
  function upload(url, formData, onProgress) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRF-Token", csrf());
      xhr.upload.onprogress = (e) => { if (e.lengthComputable && onProgress) onProgress(e.loaded, e.total); };
      xhr.onload = () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (_) { data = xhr.responseText; }
        if (xhr.status >= 200 && xhr.status < 300) resolve(data);
        else reject(new ApiError(xhr.status, (data && data.error && data.error.message) || `${xhr.status}`));
      };
      xhr.onerror = () => reject(new ApiError(0, "network error"));
      xhr.send(formData);
    });
  }

  // Text into an element, never HTML: values from catalogs and users are shown as text.
  function say(element, text, kind = "") {
    if (typeof element === "string") element = document.querySelector(element);
    if (!element) return;
    element.textContent = text;
    element.className = `status ${kind}`.trim();
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function bytes(n) {
    if (n === null || n === undefined) return "";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0; let v = Number(n);
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (source && navigator.clipboard) navigator.clipboard.writeText(source.textContent.trim()).catch(() => {});
  });

  return { api, upload, say, el, bytes, csrf, ApiError };
})();
