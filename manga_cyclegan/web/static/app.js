// The page of `python app.py`: everything it needs comes from the app itself (no CDN, no other host).
"use strict";

const token = new URLSearchParams(location.search).get("token") || "";
const chapter = (crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2) + Date.now()).replace(/[^A-Za-z0-9-]/g, "");
const api = (path) => `/api/chapters/${chapter}${path}` + (token ? (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token) : "");
const pagesEl = document.getElementById("pages");
const errorsEl = document.getElementById("errors");
const colorEl = document.getElementById("color");
let queue = Promise.resolve();

function showError(message) {
  const p = document.createElement("p");
  p.textContent = message;
  errorsEl.appendChild(p);
}

async function call(path, options = {}) {
  const response = await fetch(api(path), {...options, headers: {...(options.headers || {}), ...(token ? {"X-Token": token} : {})}});
  const isJson = (response.headers.get("content-type") || "").includes("json");
  const body = isJson ? await response.json() : null;
  if (!response.ok) throw new Error(body && body.error ? body.error : `the server answered ${response.status}`);
  return body;
}

function pageElement(name, index) {
  let el = pagesEl.querySelector(`[data-index="${index}"]`);
  if (el) return el;
  el = document.createElement("section");
  el.className = "page";
  el.dataset.page = name;
  el.dataset.index = index;
  el.innerHTML = `<div class="name"><span></span><a download>PNG</a></div><div class="progress">colorizing…</div>`;
  el.querySelector(".name span").textContent = name;
  el.querySelector(".name a").download = name.split("/").pop().replace(/\.[^.]*$/, "") + ".png";
  pagesEl.appendChild(el);
  return el;
}

function loadImage(img, src) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the page could not be colorized"));
    img.src = src;
  });
}

async function showPage(name, index, version) {
  const el = pageElement(name, index);
  const src = api(`/pages/${index}/color.png`) + (token ? "&" : "?") + "v=" + version;
  let img = el.querySelector("img.colorized");
  if (img) {
    await loadImage(img, src);
    return;
  }
  // Ask first, so that an error comes back in words.
  const check = await fetch(src, {headers: token ? {"X-Token": token} : {}});
  if (!check.ok) {
    const body = await check.json().catch(() => ({}));
    el.querySelector(".progress").textContent = body.error || "this page could not be colorized";
    throw new Error(`${name}: ${body.error || "could not be colorized"}`);
  }
  const compare = document.createElement("div");
  compare.className = "compare";
  img = document.createElement("img");
  img.className = "colorized";
  img.alt = `${name}, colorized`;
  const bw = document.createElement("img");
  bw.className = "bw";
  bw.alt = `${name}, as dropped`;
  compare.append(img, bw);
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = 0; slider.max = 100; slider.value = 0;
  slider.title = "slide to see the B/W page";
  slider.oninput = () => { bw.style.clipPath = `inset(0 ${100 - slider.value}% 0 0)`; };
  slider.oninput();
  img.addEventListener("click", (event) => clickRegion(name, img, event));
  await loadImage(img, URL.createObjectURL(await check.blob()));
  await loadImage(bw, api(`/pages/${index}/bw.png`));
  el.querySelector(".progress").replaceWith(compare);
  el.appendChild(slider);
  el.querySelector(".name a").href = src;
}

function refresh(state, changed) {
  const swatches = document.getElementById("swatches");
  swatches.replaceChildren(...state.colors.map((color) => {
    const b = document.createElement("button");
    b.type = "button"; b.title = color; b.style.background = color;
    b.onclick = () => { colorEl.value = color; };
    return b;
  }));
  state.pages.forEach((page, index) => {
    if (changed.includes(page.name)) queue = queue.then(() => showPage(page.name, index, page.version)).catch((e) => showError(e.message));
  });
  document.getElementById("download-hints").href = api("/hints.json");
  document.getElementById("download-cbz").href = api("/chapter.cbz");
}

async function clickRegion(name, img, event) {
  const rect = img.getBoundingClientRect();
  const x = Math.floor((event.clientX - rect.left) * img.naturalWidth / rect.width);
  const y = Math.floor((event.clientY - rect.top) * img.naturalHeight / rect.height);
  const scope = document.getElementById("page-only").checked ? "page" : "chapter";
  try {
    const state = await call("/clicks", {method: "POST", headers: {"Content-Type": "application/json"},
                                         body: JSON.stringify({page: name, x, y, color: colorEl.value, scope})});
    refresh(state, state.changed);
  } catch (e) { showError(e.message); }
}

async function addFiles(files) {
  for (const file of files) {
    const form = new FormData();
    form.append("file", file);
    try {
      const state = await call("/pages", {method: "POST", body: form});
      const start = state.pages.length - state.added.length;
      state.added.forEach((name, i) => pageElement(name, start + i));
      state.added.forEach((name, i) => {
        queue = queue.then(() => showPage(name, start + i, 0)).catch((e) => showError(e.message));
      });
      queue = queue.then(() => call("")).then((s) => refresh(s, [])).catch((e) => showError(e.message));
    } catch (e) { showError(`${file.name}: ${e.message}`); }
  }
}

document.getElementById("files").addEventListener("change", (event) => addFiles([...event.target.files]));
document.getElementById("undo").addEventListener("click", async () => {
  try { const state = await call("/undo", {method: "POST"}); refresh(state, state.changed); }
  catch (e) { showError(e.message); }
});
document.addEventListener("dragover", (event) => { event.preventDefault(); pagesEl.classList.add("dragging"); });
document.addEventListener("dragleave", () => pagesEl.classList.remove("dragging"));
document.addEventListener("drop", (event) => {
  event.preventDefault();
  pagesEl.classList.remove("dragging");
  addFiles([...event.dataTransfer.files]);
});
