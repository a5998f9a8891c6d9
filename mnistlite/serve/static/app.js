// The draw-a-digit page: pointer events draw on the pad; the picture is sent to
// api/predict (debounced while drawing, at once when a stroke ends) and the answer shown.
"use strict";

const DEBOUNCE_MS = 150;
const PEN = 18; // stroke width in pad pixels (the pad is 280x280)

const app = document.getElementById("app");
const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const picker = document.getElementById("model");
const info = document.getElementById("model-info");
const status = document.getElementById("status");
const digitOut = document.getElementById("digit");
const confidence = document.getElementById("confidence");
const bars = document.getElementById("bars");
const seen = document.getElementById("seen");

let models = {};
let pen = null; // {id, x, y} while a pointer draws
let strokes = 0; // finished strokes on the pad
let inked = false;
let sent = 0; // id of the latest request
let timer = null;

for (let d = 0; d < 10; d++) {
  const li = document.createElement("li");
  li.innerHTML =
    `<span>${d}</span><span class="track"><span class="fill"></span></span>` +
    `<span class="pct" data-testid="prob-${d}"></span>`;
  bars.appendChild(li);
}

function setStatus(text, state) {
  status.textContent = text;
  app.dataset.state = state;
}

function showNothing() {
  digitOut.textContent = "–";
  confidence.textContent = "";
  for (const li of bars.children) {
    li.classList.remove("top");
    li.querySelector(".fill").style.width = "0";
    const pct = li.querySelector(".pct");
    pct.textContent = "";
    delete pct.dataset.value;
  }
  seen.getContext("2d").clearRect(0, 0, 28, 28);
}

function clearPad() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineWidth = PEN;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  inked = false;
  strokes = 0;
  sent += 1; // answers still on their way are for the old drawing
  clearTimeout(timer);
  app.dataset.drawn = "0";
  app.dataset.shown = "0";
  showNothing();
  setStatus("Draw a digit from 0 to 9.", "empty");
}

function where(event) {
  const box = pad.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * pad.width) / box.width,
    y: ((event.clientY - box.top) * pad.height) / box.height,
  };
}

function dot(p) {
  ctx.beginPath();
  ctx.arc(p.x, p.y, PEN / 2, 0, 2 * Math.PI);
  ctx.fill();
}

function line(a, b) {
  ctx.beginPath();
  ctx.moveTo(a.x, a.y);
  ctx.lineTo(b.x, b.y);
  ctx.stroke();
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(predict, delay);
}

pad.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  if (pen !== null) return; // one pointer draws at a time
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  const p = where(event);
  pen = { id: event.pointerId, ...p };
  app.dataset.pointer = event.pointerType; // mouse, touch or pen
  dot(p);
  inked = true;
  schedule(DEBOUNCE_MS);
});

pad.addEventListener("pointermove", (event) => {
  if (pen === null || event.pointerId !== pen.id) return;
  event.preventDefault();
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) {
    const p = where(move);
    line(pen, p);
    pen.x = p.x;
    pen.y = p.y;
  }
  schedule(DEBOUNCE_MS);
});

function endStroke(event) {
  if (pen === null || event.pointerId !== pen.id) return;
  pen = null;
  strokes += 1;
  app.dataset.drawn = String(strokes);
  schedule(0);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function predict() {
  if (!inked) return;
  const id = ++sent;
  const finished = strokes;
  const model = picker.value;
  setStatus("Reading…", "busy");
  pad.toBlob(async (blob) => {
    try {
      const url = `api/predict?model=${encodeURIComponent(model)}&details=true`;
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "image/png" },
        body: await blob.arrayBuffer(), // bytes, not a Blob: visible to dev tools too
      });
      const answer = await response.json();
      if (id !== sent) return; // the drawing changed since
      if (!response.ok) throw new Error(answer.detail || response.statusText);
      show(answer);
      app.dataset.shown = String(finished);
      setStatus(`${answer.model.name} reads ${answer.digit}.`, "ready");
    } catch (error) {
      if (id !== sent) return;
      showNothing();
      app.dataset.shown = String(finished);
      setStatus(String(error.message || error), "error");
    }
  }, "image/png");
}

function show(answer) {
  digitOut.textContent = String(answer.digit);
  confidence.textContent = `${(100 * answer.probability).toFixed(1)} %`;
  answer.probabilities.forEach((p, d) => {
    const li = bars.children[d];
    li.classList.toggle("top", d === answer.digit);
    li.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    const pct = li.querySelector(".pct");
    pct.textContent = `${(100 * p).toFixed(1)}%`;
    pct.dataset.value = String(p);
  });
  const image = new ImageData(28, 28);
  answer.input.forEach((row, y) =>
    row.forEach((v, x) => {
      const i = 4 * (28 * y + x);
      image.data[i] = image.data[i + 1] = image.data[i + 2] = v;
      image.data[i + 3] = 255;
    }),
  );
  seen.getContext("2d").putImageData(image, 0, 0);
}

function describe(model) {
  const params = model.params.toLocaleString("en-US");
  const accuracy = model.test_acc === null ? "" : `, ${model.test_acc.toFixed(2)} % on MNIST's test set`;
  return `${params} parameters${accuracy} (${model.weights})`;
}

picker.addEventListener("change", () => {
  info.textContent = describe(models[picker.value]);
  if (inked) schedule(0);
});

document.getElementById("clear").addEventListener("click", clearPad);

async function loadModels() {
  try {
    const response = await fetch("api/models");
    const listing = await response.json();
    for (const model of listing.models) {
      models[model.name] = model;
      const option = document.createElement("option");
      option.value = model.name;
      const accuracy = model.test_acc === null ? "" : ` · ${model.test_acc.toFixed(2)} %`;
      option.textContent = `${model.name} · ${model.params.toLocaleString("en-US")} params${accuracy}`;
      picker.appendChild(option);
    }
    picker.value = listing.default;
    info.textContent = describe(models[listing.default]);
    app.dataset.models = String(listing.models.length);
  } catch (error) {
    setStatus(`Cannot list the models: ${error.message || error}`, "error");
  }
}

clearPad();
loadModels();
