// The static draw-a-digit page: pointer events draw on the pad, or a picture is chosen;
// preprocess.js turns it into the model's 28x28 input, onnxruntime-web runs model.onnx in
// this page, and the answer is shown. Nothing is sent to any server.
"use strict";

const PEN = 18; // stroke width in pad pixels (the pad is 280x280)
const DEBOUNCE_MS = 100;

const app = document.getElementById("app");
const pad = document.getElementById("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
const info = document.getElementById("model-info");
const status = document.getElementById("status");
const digitOut = document.getElementById("digit");
const confidence = document.getElementById("confidence");
const bars = document.getElementById("bars");
const seen = document.getElementById("seen");
const picture = document.getElementById("picture");

let session = null;
let meta = null;
let pen = null; // {id, x, y} while a pointer draws
let strokes = 0;
let inked = false;
let runs = 0; // id of the latest prediction; an older one is dropped
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
  runs += 1;
  clearTimeout(timer);
  app.dataset.drawn = "0";
  app.dataset.shown = "0";
  showNothing();
  if (session) setStatus("Draw a digit from 0 to 9.", "empty");
}

function where(event) {
  const box = pad.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * pad.width) / box.width,
    y: ((event.clientY - box.top) * pad.height) / box.height,
  };
}

function schedule(delay) {
  clearTimeout(timer);
  timer = setTimeout(readPad, delay);
}

pad.addEventListener("pointerdown", (event) => {
  if (event.pointerType === "mouse" && event.button !== 0) return;
  if (pen !== null) return;
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  const p = where(event);
  pen = { id: event.pointerId, ...p };
  app.dataset.pointer = event.pointerType;
  ctx.beginPath();
  ctx.arc(p.x, p.y, PEN / 2, 0, 2 * Math.PI);
  ctx.fill();
  inked = true;
  schedule(DEBOUNCE_MS);
});

pad.addEventListener("pointermove", (event) => {
  if (pen === null || event.pointerId !== pen.id) return;
  event.preventDefault();
  const moves = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
  for (const move of moves.length ? moves : [event]) {
    const p = where(move);
    ctx.beginPath();
    ctx.moveTo(pen.x, pen.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
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

function readPad() {
  if (!inked) return;
  const pixels = ctx.getImageData(0, 0, pad.width, pad.height);
  classify(pixels, "pad", strokes);
}

function softmax(logits) {
  const top = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// Preprocess RGBA pixels, run the model, show the answer (the latest call wins).
async function classify(pixels, source, finished) {
  const id = ++runs;
  if (!session) return;
  try {
    const { input, field } = mnistlitePreprocess.loadDigit(pixels.data, pixels.width, pixels.height);
    const tensor = new ort.Tensor("float32", input, [1, 1, 28, 28]);
    const output = await session.run({ [meta.input]: tensor });
    if (id !== runs) return;
    const probabilities = softmax(Array.from(output[meta.output].data));
    show(probabilities, field);
    app.dataset.source = source;
    app.dataset.shown = String(finished);
    setStatus(`${meta.model} reads ${digitOut.textContent}.`, "ready");
  } catch (error) {
    if (id !== runs) return;
    showNothing();
    app.dataset.shown = String(finished);
    setStatus(String(error.message || error), "error");
  }
}

function show(probabilities, field) {
  const digit = probabilities.indexOf(Math.max(...probabilities));
  digitOut.textContent = String(digit);
  confidence.textContent = `${(100 * probabilities[digit]).toFixed(1)} %`;
  probabilities.forEach((p, d) => {
    const li = bars.children[d];
    li.classList.toggle("top", d === digit);
    li.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
    const pct = li.querySelector(".pct");
    pct.textContent = `${(100 * p).toFixed(1)}%`;
    pct.dataset.value = String(p);
  });
  const image = new ImageData(28, 28);
  field.forEach((v, i) => {
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = Math.round(255 * v);
    image.data[4 * i + 3] = 255;
  });
  seen.getContext("2d").putImageData(image, 0, 0);
}

picture.addEventListener("change", async () => {
  const file = picture.files[0];
  if (!file) return;
  const done = Number(app.dataset.picked || 0) + 1;
  try {
    const bitmap = await createImageBitmap(file, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [bitmap.width, bitmap.height];
    const c = canvas.getContext("2d", { willReadFrequently: true });
    c.drawImage(bitmap, 0, 0);
    await classify(c.getImageData(0, 0, bitmap.width, bitmap.height), file.name, app.dataset.shown);
  } catch (error) {
    showNothing();
    setStatus(`${file.name}: cannot read it as a picture (${error.message || error})`, "error");
  }
  app.dataset.picked = String(done);
  picture.value = "";
});

document.getElementById("clear").addEventListener("click", clearPad);

async function start() {
  clearPad();
  try {
    meta = await (await fetch("model.json")).json();
    ort.env.wasm.numThreads = 1; // a static host is not cross-origin isolated
    session = await ort.InferenceSession.create(meta.file, { executionProviders: ["wasm"] });
    const params = meta.params.toLocaleString("en-US");
    const acc = meta.test_acc == null ? "" : `, ${meta.test_acc.toFixed(2)} % on MNIST's test set`;
    info.textContent = `${meta.model}${meta.int8 ? " (int8)" : ""}: ${params} parameters${acc}`;
    app.dataset.ready = "1";
    setStatus("Draw a digit from 0 to 9.", "empty");
  } catch (error) {
    setStatus(`Cannot load the model: ${error.message || error}`, "error");
  }
}

start();
