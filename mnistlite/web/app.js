// The static draw-a-digit page: the pad (pad.js) is read, or a picture is chosen;
// preprocess.js turns it into the model's 28x28 input, onnxruntime-web runs model.onnx in
// this page, and the answer is shown. Nothing is sent to any server.
"use strict";

const info = document.getElementById("model-info");
const picture = document.getElementById("picture");
let session = null;
let meta = null;
const ui = mnistlitePad({ onRead: readPad, debounceMs: 100, ready: () => session !== null });

function readPad() {
  const pixels = ui.ctx.getImageData(0, 0, ui.pad.width, ui.pad.height);
  classify(pixels, "pad", ui.state.strokes);
}

function softmax(logits) {
  const top = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - top));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

// Preprocess RGBA pixels, run the model, show the answer (the latest call wins).
async function classify(pixels, source, finished) {
  const id = ++ui.state.run;
  if (!session) return;
  try {
    const { input, field } = mnistlitePreprocess.loadDigit(pixels.data, pixels.width, pixels.height);
    const tensor = new ort.Tensor("float32", input, [1, 1, 28, 28]);
    const output = await session.run({ [meta.input]: tensor });
    if (id !== ui.state.run) return;
    const digit = ui.show(softmax(Array.from(output[meta.output].data)), (i) =>
      Math.round(255 * field[i]),
    );
    ui.app.dataset.source = source;
    ui.app.dataset.shown = String(finished);
    ui.setStatus(`${meta.model} reads ${digit}.`, "ready");
  } catch (error) {
    if (id !== ui.state.run) return;
    ui.showNothing();
    ui.app.dataset.shown = String(finished);
    ui.setStatus(String(error.message || error), "error");
  }
}

picture.addEventListener("change", async () => {
  const file = picture.files[0];
  if (!file) return;
  const done = Number(ui.app.dataset.picked || 0) + 1;
  try {
    const bitmap = await createImageBitmap(file, {
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
    const canvas = document.createElement("canvas");
    [canvas.width, canvas.height] = [bitmap.width, bitmap.height];
    const c = canvas.getContext("2d", { willReadFrequently: true });
    c.drawImage(bitmap, 0, 0);
    const pixels = c.getImageData(0, 0, bitmap.width, bitmap.height);
    await classify(pixels, file.name, ui.app.dataset.shown);
  } catch (error) {
    ui.showNothing();
    ui.setStatus(`${file.name}: cannot read it as a picture (${error.message || error})`, "error");
  }
  ui.app.dataset.picked = String(done);
  picture.value = "";
});

async function start() {
  ui.clear();
  try {
    meta = await (await fetch("model.json")).json();
    ort.env.wasm.numThreads = 1; // a static host is not cross-origin isolated
    session = await ort.InferenceSession.create(meta.file, { executionProviders: ["wasm"] });
    const params = meta.params.toLocaleString("en-US");
    const acc = meta.test_acc == null ? "" : `, ${meta.test_acc.toFixed(2)} % on MNIST's test set`;
    info.textContent = `${meta.model}${meta.int8 ? " (int8)" : ""}: ${params} parameters${acc}`;
    ui.app.dataset.ready = "1";
    ui.setStatus("Draw a digit from 0 to 9.", "empty");
  } catch (error) {
    ui.setStatus(`Cannot load the model: ${error.message || error}`, "error");
  }
}

start();
