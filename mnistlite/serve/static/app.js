// The draw-a-digit page of `mnistlite serve`: the pad (pad.js) is sent to api/predict as a
// PNG and the server's answer shown; the model is picked from api/models.
"use strict";

const picker = document.getElementById("model");
const info = document.getElementById("model-info");
const models = {};
const ui = mnistlitePad({ onRead: predict, debounceMs: 150 });

function predict() {
  const id = ++ui.state.run;
  const finished = ui.state.strokes;
  const model = picker.value;
  ui.setStatus("Reading…", "busy");
  ui.pad.toBlob(async (blob) => {
    try {
      const url = `api/predict?model=${encodeURIComponent(model)}&details=true`;
      const response = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "image/png" },
        body: await blob.arrayBuffer(), // bytes, not a Blob: visible to dev tools too
      });
      const answer = await response.json();
      if (id !== ui.state.run) return; // the drawing changed since
      if (!response.ok) throw new Error(answer.detail || response.statusText);
      const input = answer.input.flat();
      ui.show(answer.probabilities, (i) => input[i]);
      ui.app.dataset.shown = String(finished);
      ui.setStatus(`${answer.model.name} reads ${answer.digit}.`, "ready");
    } catch (error) {
      if (id !== ui.state.run) return;
      ui.showNothing();
      ui.app.dataset.shown = String(finished);
      ui.setStatus(String(error.message || error), "error");
    }
  }, "image/png");
}

function describe(model) {
  const params = model.params.toLocaleString("en-US");
  const accuracy = model.test_acc === null ? "" : `, ${model.test_acc.toFixed(2)} % on MNIST's test set`;
  return `${params} parameters${accuracy} (${model.weights})`;
}

picker.addEventListener("change", () => {
  info.textContent = describe(models[picker.value]);
  if (ui.state.inked) ui.schedule(0);
});

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
    ui.app.dataset.models = String(listing.models.length);
  } catch (error) {
    ui.setStatus(`Cannot list the models: ${error.message || error}`, "error");
  }
}

ui.clear();
loadModels();
